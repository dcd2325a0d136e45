/**
 * The one place quarantine records are shaped for a reply (the listing and the resolve answer).
 * Personal fields are opened from their sealed form; a key without the `pii` role sees them
 * masked (engine/pii/fields.ts), a key with it sees them in clear and that read is audited. An
 * erased subject's fields read `[erased]` either way. The sealed form never goes out.
 */
import { threadId } from 'node:worker_threads';
import { appendAudit } from '../audit/log.ts';
import type { Principal } from '../auth/verifier.ts';
import { maskValue, PII_FIELDS } from '../pii/fields.ts';
import { keyringFor } from '../pii/keyring.ts';
import { openValues } from '../pii/seal.ts';
import type { Store } from '../store.ts';
import type { QuarantineRecord } from './record.ts';

export async function quarantineViews(
  store: Store,
  records: QuarantineRecord[],
  principal: Principal,
): Promise<QuarantineRecord[]> {
  const ring = keyringFor(store.dataDir, threadId);
  ring.refresh(); // once per reply: an erasure since the last one must show
  const clear = principal.roles.has('pii');
  const opened: string[] = [];
  const out = records.map((r) => {
    const { sealed, ...rest } = r;
    const values = openValues(ring, r.values, sealed);
    if (sealed) opened.push(r.id);
    if (!clear) for (const f of PII_FIELDS) if (f in values) values[f] = maskValue(f, values[f] ?? null);
    return { ...rest, values, sealed: null };
  });
  if (clear && opened.length > 0) {
    // Recorded before the reply leaves: no unmasked read goes unaudited.
    await store.env.transaction(() => {
      appendAudit(store, {
        actor: principal.keyId,
        action: 'pii.read',
        target: 'quarantine',
        outcome: 'ok',
        details: { records: opened.length, ids: opened.slice(0, 1000) },
      });
    });
  }
  return out;
}
