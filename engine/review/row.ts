/**
 * The row a reviewer accepts, rebuilt from its quarantine record: the original values (personal
 * fields opened from their sealed form), a correction merged over them, and the one-row body that
 * goes through the normal pipeline. JSON carries text as sent; a row that arrived as Arrow with
 * `amount_minor` goes back as Arrow, since the JSON reader takes only the decimal `amount` and
 * the minor units of a currency live in the kernel.
 */
import { threadId } from 'node:worker_threads';
import { Int64, Table, tableToIPC, Utf8, type Vector, vectorFromArray } from 'apache-arrow';
import { FIELDS } from '../codes.ts';
import { SluiceError } from '../errors.ts';
import { FORMATS, type Format } from '../formats/index.ts';
import { ERASED } from '../pii/fields.ts';
import { keyringFor } from '../pii/keyring.ts';
import { openValues } from '../pii/seal.ts';
import type { Store } from '../store.ts';
import type { QuarantineRecord } from './record.ts';

export type RowValues = Record<string, string | null>;

/** The fields a correction may set: CONTRACT §1's, by name (the amount as decimal text). */
export const CORRECTABLE_FIELDS: readonly string[] = FIELDS;

/** The record's values as sent, personal fields opened. */
export function originalValues(store: Store, record: QuarantineRecord): RowValues {
  if (!record.sealed) return { ...record.values };
  const ring = keyringFor(store.dataDir, threadId);
  ring.refresh(); // an erasure in another thread destroys keys this one may have cached
  return openValues(ring, record.values, record.sealed);
}

/** Merges a correction over the original values; `changed` names the fields whose value differs. */
export function mergeCorrection(
  original: RowValues,
  fields: Record<string, string | null>,
): { values: RowValues; changed: string[] } {
  const values: RowValues = { ...original };
  for (const [f, v] of Object.entries(fields)) values[f] = v;
  // A corrected decimal amount replaces the Arrow form, which the kernel would read first.
  if ('amount' in fields) delete values.amount_minor;
  const names = new Set([...Object.keys(original), ...Object.keys(values)]);
  const changed = [...names].filter((f) => (original[f] ?? null) !== (values[f] ?? null)).sort();
  return { values, changed };
}

/** A subject erased since the row was quarantined leaves `[erased]` where its values were. */
export function assertNotErased(values: RowValues): void {
  if (Object.values(values).some((v) => v === ERASED)) throw new SluiceError('QUARANTINE_ERASED');
}

/** The one-row body for the pipeline: JSON, or Arrow where the amount is `amount_minor`. */
export function encodeRow(values: RowValues): { body: Buffer; format: Format; contentType: string } {
  const present = Object.entries(values).filter(
    (e): e is [string, string] => e[1] !== null && e[1] !== undefined && e[0] !== 'amount_minor',
  );
  const minor = values.amount_minor;
  if (minor === null || minor === undefined || values.amount) {
    const body = Buffer.from(JSON.stringify({ transactions: [Object.fromEntries(present)] }));
    return { body, format: 'json', contentType: FORMATS.json };
  }
  const columns: Record<string, Vector> = {};
  for (const [f, v] of present) columns[f] = vectorFromArray([v], new Utf8());
  columns.amount_minor = vectorFromArray([BigInt(minor)], new Int64());
  const body = Buffer.from(tableToIPC(new Table(columns), 'stream'));
  return { body, format: 'arrow', contentType: FORMATS.arrow };
}
