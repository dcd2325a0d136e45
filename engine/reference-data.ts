/**
 * Reference tables the kernels load at start: the Vocalink modulus tables and the SWIFT IBAN
 * registry. Paths are configurable so that a new Vocalink release (several a year) needs only a
 * file swap and a restart or reload, never a rebuild. Provenance: reference/SOURCES.md.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SluiceError } from './errors.ts';
import { registrySpecFromCsv } from './registry-spec.ts';

export interface ReferencePaths {
  modulusWeights: string;
  modulusSubstitutions: string;
  ibanRegistry: string;
}

const here = (p: string) => fileURLToPath(new URL(`../reference/${p}`, import.meta.url));

export const DEFAULT_REFERENCE_PATHS: ReferencePaths = {
  modulusWeights: here('modulus/valacdos.txt'),
  modulusSubstitutions: here('modulus/scsubtab.txt'),
  ibanRegistry: here('iban/registry.csv'),
};

/** The bytes the kernels parse, read once. */
export interface ReferenceData {
  paths: ReferencePaths;
  modulusWeights: Uint8Array;
  modulusSubstitutions: Uint8Array;
  /** `CC,length,bban_format` lines, derived from the registry CSV. */
  ibanRegistrySpec: Uint8Array;
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SluiceError(
      'REFERENCE_DATA_INVALID',
      `cannot read the ${what} at ${path}: ${(e as Error).message}`,
    );
  }
}

export function loadReferenceData(paths: Partial<ReferencePaths> = {}): ReferenceData {
  const p: ReferencePaths = { ...DEFAULT_REFERENCE_PATHS, ...paths };
  const registryCsv = read(p.ibanRegistry, 'IBAN registry').toString('utf8');
  return {
    paths: p,
    modulusWeights: read(p.modulusWeights, 'modulus weight table'),
    modulusSubstitutions: read(p.modulusSubstitutions, 'modulus substitution table'),
    ibanRegistrySpec: new TextEncoder().encode(registrySpecFromCsv(registryCsv)),
  };
}
