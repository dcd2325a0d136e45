/**
 * The five roles of CONTRACT §3 and what each grants. `admin` implies `ingest`, `analyst` and
 * `auditor` but never `pii`: seeing personal data unmasked is a separate, deliberate grant.
 */
import { SluiceError } from '../errors.ts';

export const ROLES = ['ingest', 'analyst', 'auditor', 'admin', 'pii'] as const;
export type Role = (typeof ROLES)[number];

const IMPLIED: Record<Role, readonly Role[]> = {
  ingest: [],
  analyst: [],
  auditor: [],
  admin: ['ingest', 'analyst', 'auditor'],
  pii: [],
};

export function isRole(s: unknown): s is Role {
  return typeof s === 'string' && (ROLES as readonly string[]).includes(s);
}

/**
 * Roles as given on a command line (`--role a --role b,c`): split, trimmed, checked, deduplicated,
 * in the canonical order. An unknown or missing role is a usage error.
 */
export function parseRoles(values: readonly string[]): Role[] {
  const given = values.flatMap((v) => v.split(',')).map((r) => r.trim());
  const bad = given.filter((r) => !isRole(r));
  if (bad.length > 0) {
    throw new SluiceError(
      'USAGE',
      `unknown role ${bad.map((b) => `'${b}'`).join(', ')}; roles: ${ROLES.join(', ')}`,
    );
  }
  if (given.length === 0) throw new SluiceError('USAGE', `give at least one --role (${ROLES.join(', ')})`);
  return ROLES.filter((r) => given.includes(r));
}

/** The roles a key holding `roles` acts with: its own plus those `admin` implies. */
export function effectiveRoles(roles: readonly Role[]): Set<Role> {
  const out = new Set<Role>(roles);
  for (const r of roles) for (const i of IMPLIED[r]) out.add(i);
  return out;
}
