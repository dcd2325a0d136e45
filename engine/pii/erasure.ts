/**
 * GDPR erasure by crypto-shredding (DESIGN decision 8): destroying a subject's keys makes every
 * personal field sealed under them unreadable, in silver, quarantine and staging alike, without
 * rewriting a file. Aggregates (gold), AML state and alerts hold no personal fields, so totals
 * and the audit chain stay valid. Bronze bodies mix many subjects under hourly keys: the last raw
 * copy goes when bronze retention ends, and the reply says when.
 */
import { appendAudit } from '../audit/log.ts';
import type { RetentionPolicy } from '../retention.ts';
import type { Store } from '../store.ts';
import { destroySubject } from './keyring.ts';

export interface ErasureReply {
  subject: string;
  erased_at: string;
  /** Keys destroyed (a subject may hold one per writer thread that first saw it). */
  keys_destroyed: number;
  /** The audit entry recording this erasure. */
  audit_seq: number;
  layers: {
    silver: string;
    quarantine: string;
    alerts: string;
    gold: string;
    aml_state: string;
    bronze: { status: string; last_copy_destroyed_by: string };
  };
}

export async function eraseSubject(
  store: Store,
  subject: string,
  actor: string,
  retention: RetentionPolicy,
  now: number = Date.now(),
): Promise<ErasureReply> {
  // Keys first, then the record of it: a crash in between leaves the data erased and the audit
  // short by one entry, never an audit claim of an erasure that did not happen.
  const { keys, tag } = destroySubject(store.dataDir, subject);
  let seq = 0;
  await store.env.transaction(() => {
    seq = appendAudit(
      store,
      // The target is the subject's tag, not its id: the audit log outlives the erasure.
      {
        actor,
        action: 'subject.erase',
        target: `subject:${tag}`,
        outcome: 'ok',
        details: { keys_destroyed: keys },
      },
      now,
    ).seq;
  });
  const unreadable =
    keys > 0
      ? 'personal fields sealed under the destroyed keys are unreadable; no file rewritten'
      : 'no personal fields held for this subject';
  return {
    subject,
    erased_at: new Date(now).toISOString(),
    keys_destroyed: keys,
    audit_seq: seq,
    layers: {
      silver: unreadable,
      quarantine: unreadable,
      alerts: 'hold no personal fields (tx id, account id, rules, amounts)',
      gold: 'aggregates hold no personal fields; totals unchanged',
      aml_state: 'holds no personal fields',
      bronze: {
        status:
          'raw bodies are sealed per hour of receipt; their keys are destroyed when bronze retention ends',
        // Hour keys go one hour after their last body expires (engine/pii/keyring.ts).
        last_copy_destroyed_by: new Date(now + retention.bronzeDays * 86_400_000 + 3_600_000).toISOString(),
      },
    },
  };
}
