/**
 * The API key store: the key format, only a hash at rest, verification, revocation (also by another
 * process, through the verifier's cache), and the audit entries that go with creating and revoking.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../engine/audit/log.ts';
import { createKey, keyIdOf, listKeys, readKey, revokeKey } from '../../engine/auth/keys.ts';
import { KeyVerifier } from '../../engine/auth/verifier.ts';
import { Store } from '../../engine/store.ts';
import { sluice } from '../support/cli.ts';
import { tempDir } from '../support/service.ts';

const dir = tempDir('sluice-keys-');
let store: Store;

beforeAll(() => {
  store = new Store({ dataDir: dir.path });
});
afterAll(async () => {
  await store.close();
  dir.remove();
});

function auditEntries(): AuditEntry[] {
  return [...store.audit.getRange()].map(({ value }) => value as AuditEntry);
}

/** The same key with one character of its secret changed. */
function tampered(key: string): string {
  const last = key.at(-1) === 'A' ? 'B' : 'A';
  return `${key.slice(0, -1)}${last}`;
}

/** The secret of `sluice_<id>_<secret>`: base64url, so it may itself contain '_'. */
const secretOf = (key: string) => key.split('_').slice(2).join('_');

describe('API keys', () => {
  it('are sluice_<12 hex id>_<43 base64url chars>, stored as an scrypt hash with its parameters', async () => {
    const { key, record } = await createKey(store, { roles: ['ingest'], label: 'feed', actor: 'cli' });
    expect(key).toMatch(/^sluice_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(keyIdOf(key)).toBe(record.id);
    const stored = readKey(store, record.id);
    expect(stored).toMatchObject({ id: record.id, roles: ['ingest'], label: 'feed', revoked_at: null });
    expect(stored?.kdf).toMatchObject({ alg: 'scrypt', p: 1, r: 8, keylen: 32 });
    expect(stored?.kdf.N).toBeGreaterThanOrEqual(2 ** 14);
    expect(Buffer.from(stored?.kdf.salt ?? '', 'base64')).toHaveLength(16);
    const secret = secretOf(key);
    expect(JSON.stringify(stored)).not.toContain(secret);
    expect(JSON.stringify(listKeys(store))).not.toContain(stored?.hash);
  });

  it('verify the right key with its roles, and refuse a wrong secret, an unknown id or a malformed key', async () => {
    const { key, record } = await createKey(store, { roles: ['admin'], actor: 'cli' });
    const v = new KeyVerifier(store);
    expect(v.known(key)).toBeUndefined(); // never verified: only scrypt can tell
    const p = await v.verify(key);
    expect(p?.keyId).toBe(record.id);
    // admin implies ingest, analyst and auditor, never pii
    expect([...(p?.roles ?? [])].sort()).toEqual(['admin', 'analyst', 'auditor', 'ingest']);
    expect(v.known(key)?.keyId).toBe(record.id);

    expect(await v.verify(tampered(key))).toBeNull();
    expect(v.known(tampered(key))).toBeUndefined(); // a wrong secret is never remembered
    expect(await v.verify(key.replace(record.id, '0123456789ab'))).toBeNull();
    expect(await v.verify(`${key}x`)).toBeNull();
    expect(await v.verify('Bearer')).toBeNull();
  });

  it('stop verifying the moment they are revoked, cached or not, and revoking twice changes nothing', async () => {
    const { key, record } = await createKey(store, { roles: ['analyst'], actor: 'cli' });
    const v = new KeyVerifier(store);
    expect(await v.verify(key)).not.toBeNull();
    expect(await revokeKey(store, record.id, 'cli')).toBe('revoked');
    expect(v.known(key)).toBeNull();
    expect(await v.verify(key)).toBeNull();
    expect(await revokeKey(store, record.id, 'cli')).toBe('already-revoked');
    expect(auditEntries().filter((e) => e.action === 'key.revoke' && e.target === record.id)).toHaveLength(1);
    await expect(revokeKey(store, '0123456789ab', 'cli')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('stop verifying when another process revokes them, although this one cached the key', async () => {
    const { key, record } = await createKey(store, { roles: ['auditor'], actor: 'cli' });
    const v = new KeyVerifier(store);
    expect((await v.verify(key))?.keyId).toBe(record.id);
    const r = await sluice(['keys', 'revoke', record.id, '--data-dir', dir.path]);
    expect(r.code, r.stderr).toBe(0);
    expect(v.known(key)).toBeNull();
    expect(await v.verify(key)).toBeNull();
  });

  it('append key.create and key.revoke to the audit chain with the actor and roles, never the secret', async () => {
    const { key, record } = await createKey(store, { roles: ['ingest', 'pii'], actor: 'cli' });
    await revokeKey(store, record.id, 'a1b2c3d4e5f6');
    const mine = auditEntries().filter((e) => e.target === record.id);
    expect(mine.map((e) => [e.action, e.actor, e.outcome, e.details])).toEqual([
      ['key.create', 'cli', 'ok', { roles: ['ingest', 'pii'] }],
      ['key.revoke', 'a1b2c3d4e5f6', 'ok', { roles: ['ingest', 'pii'] }],
    ]);
    expect(JSON.stringify(auditEntries())).not.toContain(secretOf(key));
  });

  it('refuse a key without roles, and labels that are too long or hold control characters', async () => {
    await expect(createKey(store, { roles: [], actor: 'cli' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(
      createKey(store, { roles: ['pii'], label: 'x'.repeat(101), actor: 'cli' }),
    ).rejects.toMatchObject({
      code: 'USAGE',
    });
    await expect(createKey(store, { roles: ['pii'], label: 'a\nb', actor: 'cli' })).rejects.toMatchObject({
      code: 'USAGE',
    });
  });
});
