/**
 * Reference-table locations, shared by every command that validates: flags first, then
 * SLUICE_* environment variables, then the tables shipped in reference/.
 */

import type { ReferencePaths } from '../engine/reference-data.ts';
import type { Options } from './args.ts';

export const REFERENCE_OPTIONS: Options = {
  'modulus-weights': { type: 'string' },
  'modulus-substitutions': { type: 'string' },
  'iban-registry': { type: 'string' },
};

export function referencePaths(values: Record<string, unknown>): Partial<ReferencePaths> {
  const env = process.env;
  const pick = (flag: string, envName: string): string | undefined =>
    (values[flag] as string | undefined) ?? env[envName] ?? undefined;
  const out: Partial<ReferencePaths> = {};
  const w = pick('modulus-weights', 'SLUICE_MODULUS_WEIGHTS');
  const s = pick('modulus-substitutions', 'SLUICE_MODULUS_SUBSTITUTIONS');
  const r = pick('iban-registry', 'SLUICE_IBAN_REGISTRY');
  if (w) out.modulusWeights = w;
  if (s) out.modulusSubstitutions = s;
  if (r) out.ibanRegistry = r;
  return out;
}
