/**
 * The fused validation kernel through the engine, row by row: one valid row, then each reason
 * code at the edges of its rule, and the Arrow-typed inputs (Int64 amounts, Timestamp ts).
 */
import {
  type Data,
  Dictionary,
  Field,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  TimestampMillisecond,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { reasonsOf } from '../../engine/codes.ts';
import { parseJson } from '../../engine/formats/json.ts';
import { ibanCheckDigits } from '../../engine/generator.ts';
import { Kernels } from '../../engine/kernels.ts';
import { loadReferenceData } from '../../engine/reference-data.ts';
import { Validator } from '../../engine/validator.ts';

const NOW = Date.parse('2026-11-27T12:00:00Z');
const validator = new Validator(new Kernels(loadReferenceData()), { now: () => NOW });

const base = {
  tx_id: 'TX-1',
  ts: '2026-11-27T11:00:00Z',
  amount: '1234.50',
  currency: 'GBP',
  direction: 'debit',
  channel: 'FPS',
  account_id: 'ACC-1',
  sort_code: '08-99-99',
  account_number: '66374958',
  counterparty_iban: 'GB82 WEST 1234 5698 7654 32',
};

/** Validates records given as JSON (the parser is exercised elsewhere); returns reasons per row. */
function reasons(records: Record<string, unknown>[]): string[][] {
  const seen = new Set<string>();
  return parseJson(Buffer.from(JSON.stringify(records))).flatMap((b) => {
    const v = validator.validate(b, seen);
    return [...v.mask].map((m) => reasonsOf(m));
  });
}

const one = (patch: Record<string, unknown>) => reasons([{ ...base, ...patch }])[0];

describe('field rules', () => {
  it('passes a complete valid row', () => {
    expect(one({})).toEqual([]);
  });

  it('flags each missing required field as MISSING_FIELD', () => {
    for (const f of ['tx_id', 'ts', 'amount', 'currency', 'direction', 'channel', 'account_id']) {
      const row: Record<string, unknown> = { ...base };
      delete row[f];
      expect(reasons([row])[0], f).toEqual(['MISSING_FIELD']);
    }
  });

  it('checks tx_id characters and length', () => {
    expect(one({ tx_id: 'a.b_c:d-E9' })).toEqual([]);
    expect(one({ tx_id: 'x'.repeat(64) })).toEqual([]);
    expect(one({ tx_id: 'x'.repeat(65) })).toEqual(['TX_ID_FORMAT']);
    expect(one({ tx_id: 'has space' })).toEqual(['TX_ID_FORMAT']);
  });

  it('parses amounts exactly, at the edges of precision and range', () => {
    expect(one({ amount: '1000000000.00' })).toEqual([]);
    expect(one({ amount: '1000000000.01' })).toEqual(['AMOUNT_RANGE']);
    expect(one({ amount: '0.01' })).toEqual([]);
    expect(one({ amount: '0.00' })).toEqual(['AMOUNT_NON_POSITIVE']);
    expect(one({ amount: '-0' })).toEqual(['AMOUNT_NON_POSITIVE']);
    expect(one({ amount: '10.005' })).toEqual(['AMOUNT_PRECISION']);
    expect(one({ amount: '10.500' })).toEqual([]);
    expect(one({ amount: '12.3.4' })).toEqual(['AMOUNT_INVALID']);
    expect(one({ amount: 1234.5 })).toEqual([]);
    expect(one({ amount: '100', currency: 'JPY' })).toEqual([]);
    expect(one({ amount: '100.5', currency: 'JPY' })).toEqual(['AMOUNT_PRECISION']);
    expect(one({ amount: '1.234', currency: 'KWD' })).toEqual([]);
  });

  it('writes amounts as integer minor units', () => {
    const [b] = parseJson(
      Buffer.from(
        JSON.stringify([
          { ...base, amount: '1234.5' },
          { ...base, tx_id: 'T2', amount: '7', currency: 'JPY' },
        ]),
      ),
    );
    const v = validator.validate(b as RecordBatch, null);
    expect([...v.amountMinor]).toEqual([123450n, 7n]);
  });

  it('checks event time: format, offset, and at most 5 minutes ahead', () => {
    expect(one({ ts: '2026-11-27T12:04:59Z' })).toEqual([]);
    expect(one({ ts: '2026-11-27T12:05:01Z' })).toEqual(['TIMESTAMP_FUTURE']);
    expect(one({ ts: '2026-11-27T13:00:00+01:00' })).toEqual([]);
    expect(one({ ts: String(NOW - 1000) })).toEqual([]);
    expect(one({ ts: NOW - 1000 })).toEqual([]);
    expect(one({ ts: '2026-11-27T11:00:00' })).toEqual(['TIMESTAMP_INVALID']);
    expect(one({ ts: '2026-02-29T11:00:00Z' })).toEqual(['TIMESTAMP_INVALID']);
    expect(one({ ts: '2024-02-29T11:00:00Z' })).toEqual([]);
  });

  it('checks currency, direction, channel and counterparty country codes', () => {
    expect(one({ currency: 'XYZ' })).toEqual(['CURRENCY_UNKNOWN']);
    expect(one({ direction: 'DEBIT' })).toEqual(['DIRECTION_INVALID']);
    expect(one({ channel: 'FAX' })).toEqual(['CHANNEL_UNKNOWN']);
    expect(one({ counterparty_country: 'UK' })).toEqual(['COUNTRY_UNKNOWN']);
    expect(one({ counterparty_country: 'DE' })).toEqual([]);
  });

  it('checks sort code and account number by format and the modulus rules', () => {
    expect(one({ sort_code: '089999', account_number: '66374959' })).toEqual(['ACCOUNT_MODULUS']);
    expect(one({ sort_code: '08-99-9' })).toEqual(['SORT_CODE_FORMAT']);
    expect(one({ account_number: '12345' })).toEqual(['ACCOUNT_NUMBER_FORMAT']);
    expect(one({ counterparty_sort_code: '107999', counterparty_account_number: '88837491' })).toEqual([]);
    expect(one({ counterparty_sort_code: '107999', counterparty_account_number: '88837493' })).toEqual([
      'ACCOUNT_MODULUS',
    ]);
  });

  it('checks IBANs by registry and MOD-97, and a GB IBAN by the modulus rules too', () => {
    expect(one({ counterparty_iban: 'gb82west12345698765432' })).toEqual([]);
    expect(one({ counterparty_iban: 'GB83WEST12345698765432' })).toEqual(['IBAN_CHECKSUM']);
    expect(one({ counterparty_iban: 'GB82WEST1234569876543' })).toEqual(['IBAN_LENGTH']);
    expect(one({ counterparty_iban: 'QQ82WEST12345698765432' })).toEqual(['IBAN_COUNTRY']);
    expect(one({ counterparty_iban: 'GB82-WEST' })).toEqual(['IBAN_FORMAT']);
    expect(one({ iban: 'DE89370400440532013000' })).toEqual([]);
    // A GB IBAN whose MOD-97 is right but whose sort code/account fail Vocalink's check.
    // 089999 66374959 fails modulus 10 (Vocalink test 29); its IBAN check digits are computed.
    const bban = 'NWBK08999966374959';
    const iban = `GB${ibanCheckDigits('GB', bban)}${bban}`;
    expect(one({ counterparty_iban: iban })).toEqual(['ACCOUNT_MODULUS']);
  });

  it('lists every reason a row has, in code order', () => {
    expect(one({ currency: 'XYZ', channel: 'FAX', counterparty_iban: 'GB00' })).toEqual([
      'CURRENCY_UNKNOWN',
      'CHANNEL_UNKNOWN',
      'IBAN_FORMAT',
    ]);
  });

  it('limits free text by characters, not bytes', () => {
    expect(one({ reference: 'é'.repeat(140) })).toEqual([]);
    expect(one({ reference: 'x'.repeat(141) })).toEqual(['FIELD_TOO_LONG']);
    expect(one({ account_id: 'a'.repeat(65) })).toEqual(['FIELD_TOO_LONG']);
  });

  it('derives the counterparty country from the IBAN when it is not given', () => {
    const [b] = parseJson(
      Buffer.from(
        JSON.stringify([
          base,
          { ...base, tx_id: 'T2', counterparty_country: 'FR' },
          { ...base, tx_id: 'T3', counterparty_iban: undefined },
        ]),
      ),
    );
    const v = validator.validate(b as RecordBatch, null);
    const cc = (i: number) =>
      String.fromCharCode(v.counterpartyCountry[2 * i] as number, v.counterpartyCountry[2 * i + 1] as number);
    expect([cc(0), cc(1)]).toEqual(['GB', 'FR']);
    expect(v.counterpartyCountry[4]).toBe(0);
  });

  it('marks a tx_id seen earlier in the request DUPLICATE_TX, and only the later one', () => {
    expect(reasons([base, { ...base }, { ...base, tx_id: 'TX-2' }])).toEqual([[], ['DUPLICATE_TX'], []]);
  });
});

describe('Arrow-typed columns', () => {
  it('reads amount_minor Int64, ts Timestamp(ms) and dictionary-encoded strings', () => {
    const n = 3;
    const str = (xs: (string | null)[]) => vectorFromArray(xs, new Utf8()).data[0];
    const ts = new BigInt64Array([BigInt(NOW - 60000), BigInt(NOW + 3600_000), BigInt(NOW - 1)]);
    const amt = new BigInt64Array([123450n, 100n, 0n]);
    const dictType = new Dictionary(new Utf8(), new Int32());
    const currency = vectorFromArray(['GBP', 'GBP', 'EUR'], dictType).data[0];
    const fields = [
      new Field('tx_id', new Utf8()),
      new Field('ts', new TimestampMillisecond()),
      new Field('amount_minor', new Int64()),
      new Field('currency', dictType),
      new Field('direction', new Utf8()),
      new Field('channel', new Utf8()),
      new Field('account_id', new Utf8()),
    ];
    const children: Data[] = [
      str(['A1', 'A2', 'A3']) as Data,
      makeData({ type: new TimestampMillisecond(), length: n, data: ts }),
      makeData({ type: new Int64(), length: n, data: amt }),
      currency as Data,
      str(['debit', 'credit', 'debit']) as Data,
      str(['FPS', 'CARD', 'BACS']) as Data,
      str(['X', 'Y', 'Z']) as Data,
    ];
    const batch = new RecordBatch(
      new Schema(fields),
      makeData({ type: new Struct(fields), length: n, nullCount: 0, children }),
    );
    const v = validator.validate(batch, null);
    expect([...v.mask].map(reasonsOf)).toEqual([[], ['TIMESTAMP_FUTURE'], ['AMOUNT_NON_POSITIVE']]);
    expect(v.amountMinor[0]).toBe(123450n);
    expect(v.tsMs[0]).toBe(BigInt(NOW - 60000));
  });
});
