/**
 * Turns a presented API key into a principal. scrypt costs tens of milliseconds, which would cap a
 * service at a few dozen requests per second per core, so a key that verified once is remembered
 * (by the sha-256 of the whole key, never the key itself). The record is still read on every
 * request (an LMDB read, microseconds): a revocation by any process sharing the data dir, such as
 * `sluice keys revoke`, takes effect on the next request, cache or not.
 */
import { createHash } from 'node:crypto';
import type { Store } from '../store.ts';
import { type ApiKeyRecord, keyIdOf, keyMatches } from './keys.ts';
import { effectiveRoles } from './roles.ts';

export interface Principal {
  /** The API key id: the audit actor and the rate-limit bucket. */
  keyId: string;
  /** Effective roles: the key's own plus those `admin` implies (never `pii`). */
  roles: ReadonlySet<string>;
}

/** Who a public route's caller is: nobody in particular. */
export const ANONYMOUS: Principal = Object.freeze({ keyId: 'anonymous', roles: new Set<string>() });

export interface VerifierOptions {
  /** Verified keys remembered; the oldest is forgotten first. */
  cacheSize?: number;
}

export class KeyVerifier {
  /** sha-256(key) → the record hash it verified against (a re-created id never matches). */
  private readonly verified = new Map<string, string>();
  /** Verifications in progress, so a burst of requests with a new key costs one scrypt. */
  private readonly pending = new Map<string, Promise<boolean>>();
  private readonly cacheSize: number;

  constructor(
    private readonly store: Pick<Store, 'apiKeys'>,
    opts: VerifierOptions = {},
  ) {
    this.cacheSize = opts.cacheSize ?? 10_000;
  }

  private active(presented: string): ApiKeyRecord | null {
    const id = keyIdOf(presented);
    if (id === null) return null;
    const rec = this.store.apiKeys.get(id) as ApiKeyRecord | undefined;
    return rec && !rec.revoked_at ? rec : null;
  }

  /**
   * Without waiting: the principal when the key verified before and is still active, null when the
   * key is malformed, unknown or revoked, undefined when only `verify` can tell (an scrypt).
   */
  known(presented: string): Principal | null | undefined {
    const rec = this.active(presented);
    if (!rec) return null;
    const seen = this.verified.get(digest(presented));
    if (seen === undefined) return undefined;
    return seen === rec.hash ? principalOf(rec) : null;
  }

  async verify(presented: string): Promise<Principal | null> {
    const rec = this.active(presented);
    if (!rec) return null;
    const d = digest(presented);
    if (this.verified.get(d) === rec.hash) return principalOf(rec);
    let check = this.pending.get(d);
    if (!check) {
      check = keyMatches(presented, rec).finally(() => this.pending.delete(d));
      this.pending.set(d, check);
    }
    if (!(await check)) return null;
    if (this.verified.size >= this.cacheSize) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(d, rec.hash);
    // Read again: the key may have been revoked while scrypt ran.
    const now = this.active(presented);
    return now && now.hash === rec.hash ? principalOf(now) : null;
  }
}

function digest(presented: string): string {
  return createHash('sha256').update(presented).digest('base64');
}

function principalOf(rec: ApiKeyRecord): Principal {
  return { keyId: rec.id, roles: effectiveRoles(rec.roles) };
}
