/**
 * Which fields are personal data, and how a reply shows them to a key without the `pii` role.
 *
 * The order is the order of a row's keystream (engine/pii/seal.ts): counterparty_name comes first
 * so the AML shards can decrypt names for sanctions screening without touching anything else.
 * `account_id` and `customer_id` stay in clear: they are the core system's pseudonymous keys, which
 * AML state, gold and lineage are keyed by; the subject's identity behind them lives in core banking.
 */
export const PII_FIELDS = [
  'counterparty_name',
  'account_number',
  'iban',
  'sort_code',
  'counterparty_account_number',
  'counterparty_iban',
  'counterparty_sort_code',
  'reference',
] as const;

export type PiiField = (typeof PII_FIELDS)[number];

export const isPiiField = (f: string): f is PiiField => (PII_FIELDS as readonly string[]).includes(f);

/** Free text: nothing of it is shown. */
const TEXT = new Set<string>(['counterparty_name', 'reference']);

/** What a reply shows when the subject's key has been destroyed. */
export const ERASED = '[erased]';

/**
 * Masks one value for a key without `pii`: identifiers keep their last four characters (two of a
 * sort code; none of a value too short to hide the rest), enough to tell two accounts apart on a
 * call, as bank statements do; free text keeps nothing.
 */
export function maskValue(field: string, value: string | null): string | null {
  if (value === null || value === ERASED) return value;
  if (TEXT.has(field)) return '****';
  const compact = value.replace(/[\s-]/g, '');
  // A sort code is six digits: four would show most of it.
  const keep = field.endsWith('sort_code') ? 2 : 4;
  return compact.length <= keep + 2 ? '****' : `****${compact.slice(-keep)}`;
}
