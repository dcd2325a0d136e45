/**
 * Reason codes (CONTRACT §5) and field slots, by number. The numbering mirrors `wasm/src/codes.rs`
 * and `wasm/src/validate.rs`: a code's number is its bit in a row's reason mask. Append only.
 */
export const REASON_CODES = [
  'OK',
  'MISSING_FIELD',
  'TX_ID_FORMAT',
  'DUPLICATE_TX',
  'TIMESTAMP_INVALID',
  'TIMESTAMP_FUTURE',
  'AMOUNT_INVALID',
  'AMOUNT_NON_POSITIVE',
  'AMOUNT_PRECISION',
  'AMOUNT_RANGE',
  'CURRENCY_UNKNOWN',
  'DIRECTION_INVALID',
  'CHANNEL_UNKNOWN',
  'COUNTRY_UNKNOWN',
  'SORT_CODE_FORMAT',
  'ACCOUNT_NUMBER_FORMAT',
  'ACCOUNT_MODULUS',
  'IBAN_FORMAT',
  'IBAN_COUNTRY',
  'IBAN_LENGTH',
  'IBAN_BBAN_FORMAT',
  'IBAN_CHECKSUM',
  'FIELD_TOO_LONG',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

export const REASON = Object.fromEntries(REASON_CODES.map((c, i) => [c, i])) as Record<ReasonCode, number>;

/** Field slots of the per-field code matrix, in kernel order. */
export const FIELDS = [
  'tx_id',
  'ts',
  'amount',
  'currency',
  'direction',
  'channel',
  'account_id',
  'customer_id',
  'sort_code',
  'account_number',
  'iban',
  'counterparty_name',
  'counterparty_sort_code',
  'counterparty_account_number',
  'counterparty_iban',
  'counterparty_country',
  'reference',
] as const;

/**
 * The fields CONTRACT §1 requires (`amount` or its Arrow form `amount_minor`): the kernel's first
 * seven slots.
 */
export const REQUIRED_FIELDS = FIELDS.slice(0, 7);

export type FieldName = (typeof FIELDS)[number];

/** The reason codes set in a row's mask, in code order (the order `reasons` lists them in). */
export function reasonsOf(mask: number): ReasonCode[] {
  const out: ReasonCode[] = [];
  for (let m = mask, c = 0; m !== 0; m >>>= 1, c++) {
    if (m & 1) out.push(REASON_CODES[c] as ReasonCode);
  }
  return out;
}
