/**
 * API keys: `sluice_<id>_<secret>`. The id (12 lowercase hex characters) is public: it names the key
 * in the audit log, in rate limiting and in `sluice keys list`. The secret is 32 random bytes,
 * base64url. Only an scrypt hash of the whole key is stored, with its parameters and salt, so the
 * cost can be raised for new keys without invalidating old ones.
 *
 * Records live in the store's `apiKeys` database (id → ApiKeyRecord). Creating and revoking a key
 * append an audit entry in the same write transaction: no key exists or dies unrecorded.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { appendAudit } from '../audit/log.ts';
import { SluiceError } from '../errors.ts';
import { Store } from '../store.ts';
import type { Role } from './roles.ts';

export interface KdfParams {
  alg: 'scrypt';
  N: number;
  r: number;
  p: number;
  keylen: number;
  /** base64 */
  salt: string;
}

export interface ApiKeyRecord {
  id: string;
  roles: Role[];
  label: string | null;
  /** ISO 8601 UTC. */
  created_at: string;
  /** The key id or `cli`/`system` that created it. */
  created_by: string;
  revoked_at: string | null;
  revoked_by: string | null;
  kdf: KdfParams;
  /** base64 of scrypt(whole key). */
  hash: string;
}

/** What may be shown about a key: everything but the hash and its parameters. */
export type ApiKeyInfo = Omit<ApiKeyRecord, 'kdf' | 'hash'>;

/**
 * The secret is 256 random bits, so no work factor matters against guessing it; scrypt guards a
 * leaked database against nothing a fast hash would not, but costs ~50 ms per verification, which
 * the verifier's cache pays once per key and process. 2^14 × 8 needs 16 MiB per hash.
 */
export const SCRYPT_PARAMS = { N: 2 ** 14, r: 8, p: 1, keylen: 32 } as const;

const KEY_PATTERN = /^sluice_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const ID_PATTERN = /^[0-9a-f]{12}$/;
export const MAX_LABEL_LENGTH = 100;

/** The id of a well-formed key, or null. Says nothing about whether the key exists. */
export function keyIdOf(presented: string): string | null {
  return KEY_PATTERN.exec(presented)?.[1] ?? null;
}

export function isKeyId(s: string): boolean {
  return ID_PATTERN.test(s);
}

function scryptAsync(key: string, salt: Buffer, kdf: Omit<KdfParams, 'salt' | 'alg'>): Promise<Buffer> {
  const opts: ScryptOptions = { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 2 ** 20 };
  return new Promise((resolve, reject) =>
    scrypt(key, salt, kdf.keylen, opts, (err, out) => (err ? reject(err) : resolve(out))),
  );
}

/** True when `presented` hashes to the record's hash (constant time in the comparison). */
export async function keyMatches(
  presented: string,
  rec: Pick<ApiKeyRecord, 'kdf' | 'hash'>,
): Promise<boolean> {
  if (rec.kdf.alg !== 'scrypt') return false;
  const want = Buffer.from(rec.hash, 'base64');
  const got = await scryptAsync(presented, Buffer.from(rec.kdf.salt, 'base64'), rec.kdf);
  return got.length === want.length && timingSafeEqual(got, want);
}

export function readKey(store: Store, id: string): ApiKeyRecord | undefined {
  return store.apiKeys.get(id) as ApiKeyRecord | undefined;
}

export function infoOf(rec: ApiKeyRecord): ApiKeyInfo {
  const { kdf: _kdf, hash: _hash, ...info } = rec;
  return info;
}

/** Every key, oldest first, without hashes. */
export function listKeys(store: Store): ApiKeyInfo[] {
  const out: ApiKeyInfo[] = [];
  for (const { value } of store.apiKeys.getRange()) out.push(infoOf(value as ApiKeyRecord));
  return out.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
}

/** True when at least one key is not revoked. */
export function hasActiveKey(store: Store): boolean {
  for (const { value } of store.apiKeys.getRange()) if (!(value as ApiKeyRecord).revoked_at) return true;
  return false;
}

/** True when any key was ever created here, revoked or not. */
export function hasAnyKey(store: Store): boolean {
  for (const _ of store.apiKeys.getKeys({ limit: 1 })) return true;
  return false;
}

export interface CreateKeyOptions {
  roles: readonly Role[];
  label?: string | null;
  /** Who creates it: a key id, `cli` or `system`. */
  actor: string;
  now?: number;
}

/** Creates a key; the returned `key` is the only time the secret exists outside the caller. */
export async function createKey(
  store: Store,
  opts: CreateKeyOptions,
): Promise<{ key: string; record: ApiKeyRecord }> {
  if (opts.roles.length === 0) throw new SluiceError('USAGE', 'a key needs at least one role');
  const label = opts.label ?? null;
  if (label !== null && (label.length > MAX_LABEL_LENGTH || /[\p{Cc}]/u.test(label))) {
    throw new SluiceError('USAGE', `a label is at most ${MAX_LABEL_LENGTH} printable characters`);
  }
  // A 48-bit id collides with an existing one with negligible odds; try again if it ever does.
  for (let attempt = 0; attempt < 3; attempt++) {
    const id = randomBytes(6).toString('hex');
    const key = `sluice_${id}_${randomBytes(32).toString('base64url')}`;
    const salt = randomBytes(16);
    const hash = await scryptAsync(key, salt, SCRYPT_PARAMS);
    const record: ApiKeyRecord = {
      id,
      roles: [...opts.roles],
      label,
      created_at: new Date(opts.now ?? Date.now()).toISOString(),
      created_by: opts.actor,
      revoked_at: null,
      revoked_by: null,
      kdf: { alg: 'scrypt', ...SCRYPT_PARAMS, salt: salt.toString('base64') },
      hash: hash.toString('base64'),
    };
    const created = await store.env.transaction(() => {
      if (store.apiKeys.get(id) !== undefined) return false;
      store.apiKeys.put(id, record);
      appendAudit(store, {
        actor: opts.actor,
        action: 'key.create',
        target: id,
        outcome: 'ok',
        details: { roles: record.roles },
      });
      return true;
    });
    if (created) return { key, record };
  }
  throw new SluiceError('INTERNAL', 'could not find a free key id');
}

/**
 * Revokes a key at once, for every process using this data dir (each checks the record on every
 * request). Revoking a revoked key changes nothing and is not audited again.
 */
export async function revokeKey(
  store: Store,
  id: string,
  actor: string,
  now: number = Date.now(),
): Promise<'revoked' | 'already-revoked'> {
  const outcome = await store.env.transaction(() => {
    const rec = store.apiKeys.get(id) as ApiKeyRecord | undefined;
    if (!rec) return 'missing' as const;
    if (rec.revoked_at) return 'already-revoked' as const;
    store.apiKeys.put(id, { ...rec, revoked_at: new Date(now).toISOString(), revoked_by: actor });
    appendAudit(store, {
      actor,
      action: 'key.revoke',
      target: id,
      outcome: 'ok',
      details: { roles: rec.roles },
    });
    return 'revoked' as const;
  });
  if (outcome === 'missing') throw new SluiceError('NOT_FOUND', `no key ${id}`);
  return outcome;
}

/** Opens the data dir's store just long enough to create one key (CLI, demo, tests, bench). */
export async function createKeyIn(dataDir: string, opts: CreateKeyOptions): Promise<string> {
  const store = new Store({ dataDir });
  try {
    return (await createKey(store, opts)).key;
  } finally {
    await store.close();
  }
}
