/**
 * The review engine without HTTP: the release rule, the rebuilt row, the tx-id index, the queue's
 * scan budget, a row that arrived as Arrow, and the in-transaction check that makes a resolve
 * exactly-once even when both requests passed the early check.
 */
import { Int64, Table, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../engine/auth/verifier.ts';
import { columnsOf } from '../../engine/columns.ts';
import { isSluiceError } from '../../engine/errors.ts';
import { parseBody } from '../../engine/formats/index.ts';
import { Pipeline } from '../../engine/pipeline.ts';
import { queryQuarantine } from '../../engine/review/query.ts';
import type { QuarantineRecord } from '../../engine/review/record.ts';
import { blocksRelease, releaseBlockers } from '../../engine/review/release.ts';
import { resolveQuarantined } from '../../engine/review/resolve.ts';
import { encodeRow, mergeCorrection } from '../../engine/review/row.ts';
import { ensureTxIndex, idsOfTx } from '../../engine/review/tx-index.ts';
import { Store } from '../../engine/store.ts';
import { tempDir } from '../support/service.ts';

const BAD_IBAN = 'DE89370400440532013001';
const DAY = '2026-02-03';
const reviewer: Principal = { keyId: 'k_reviewer', roles: new Set(['analyst']) };

const dir = tempDir();
let store: Store;
let pipeline: Pipeline;

beforeAll(() => {
  store = new Store({ dataDir: dir.path });
  pipeline = new Pipeline(store, { workers: 1 });
});
afterAll(async () => {
  await pipeline.drain();
  await store.close();
  dir.remove();
});

function row(tx: string, extra: Record<string, string> = {}) {
  return {
    tx_id: tx,
    ts: `${DAY}T09:30:00Z`,
    amount: '40.00',
    currency: 'GBP',
    direction: 'credit',
    channel: 'BACS',
    account_id: `A-${tx}`,
    ...extra,
  };
}

async function ingestJson(rows: Record<string, string>[]) {
  const body = Buffer.from(JSON.stringify(rows));
  return (await pipeline.ingest({ body, format: 'json', contentType: 'application/json' })).reply;
}

function goldDay(): { count: number; sum: bigint } {
  let count = 0;
  let sum = 0n;
  for (const { value } of store.gold.getRange({ start: `d|${DAY}|`, end: `d|${DAY}|~` })) {
    const v = value as { count: number; sum: string };
    count += v.count;
    sum += BigInt(v.sum);
  }
  return { count, sum };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isSluiceError(e)) return e.code;
    throw e;
  }
  return 'none';
}

describe('the release rule', () => {
  it('overrules faults in optional bank details and a future event time, never a missing or bad required value', () => {
    expect(blocksRelease('counterparty_iban', 'IBAN_CHECKSUM')).toBe(false);
    expect(blocksRelease('sort_code', 'ACCOUNT_MODULUS')).toBe(false);
    expect(blocksRelease('counterparty_name', 'FIELD_TOO_LONG')).toBe(false);
    expect(blocksRelease('ts', 'TIMESTAMP_FUTURE')).toBe(false);
    expect(blocksRelease('ts', 'TIMESTAMP_INVALID')).toBe(true);
    expect(blocksRelease('amount', 'AMOUNT_RANGE')).toBe(true); // the kernel keeps no value for it
    expect(blocksRelease('currency', 'CURRENCY_UNKNOWN')).toBe(true);
    expect(blocksRelease('customer_id', 'FIELD_TOO_LONG')).toBe(true);
    expect(
      releaseBlockers([
        { code: 'IBAN_CHECKSUM', field: 'iban' },
        { code: 'MISSING_FIELD', field: 'account_id' },
      ]),
    ).toEqual([{ code: 'MISSING_FIELD', field: 'account_id' }]);
  });
});

describe('the rebuilt row', () => {
  it('names changed fields only, and a corrected decimal amount replaces amount_minor', () => {
    const original = { tx_id: 'T', amount: null, amount_minor: '4000', iban: 'X', reference: null };
    expect(mergeCorrection(original, { iban: 'X', reference: 'invoice 7' }).changed).toEqual(['reference']);
    const m = mergeCorrection(original, { amount: '41.00' });
    expect(m.changed).toEqual(['amount', 'amount_minor']);
    expect(m.values.amount_minor).toBeUndefined();
    expect(encodeRow(m.values).format).toBe('json');
  });

  it('goes back as Arrow when it came with amount_minor, keeping the amount exact', () => {
    const enc = encodeRow({
      tx_id: 'T',
      ts: '1770000000000',
      amount: null,
      amount_minor: '9007199254740993',
    });
    expect(enc.format).toBe('arrow');
    const cols = columnsOf(parseBody('arrow', new Uint8Array(enc.body))[0] as never);
    expect(cols.amountMinor?.values[0]).toBe(9_007_199_254_740_993n);
    expect(cols.text.amount).toBeUndefined();
  });
});

describe('the tx-id index', () => {
  it('is backfilled once for records written before it existed', async () => {
    await store.quarantine.put('old-batch:3', { id: 'old-batch:3', tx_id: 'OLD-1', status: 'open' });
    await store.meta.remove('quarantineByTx|built');
    expect(idsOfTx(store, 'OLD-1')).toEqual([]);
    expect(await ensureTxIndex(store)).toBeGreaterThanOrEqual(1);
    expect(idsOfTx(store, 'OLD-1')).toEqual(['old-batch:3']);
    expect(await ensureTxIndex(store)).toBe(0);
    await store.quarantine.remove('old-batch:3');
  });
});

describe('the queue', () => {
  it('looks at a bounded number of records per page and says where to go on', async () => {
    const reply = await ingestJson([
      row('Q-1', { counterparty_iban: BAD_IBAN }),
      row('Q-2', { currency: 'ZZZ' }),
      row('Q-3', { counterparty_iban: BAD_IBAN }),
      row('Q-4', { currency: 'ZZZ' }),
    ]);
    const q = { batch_id: reply.batch_id, reason: 'CURRENCY_UNKNOWN' as const };
    const first = queryQuarantine(store, q, 1);
    expect(first.next).not.toBeNull();
    const found: string[] = [];
    let page = first;
    for (let i = 0; i < 10; i++) {
      found.push(...page.records.map((r) => r.tx_id as string));
      if (!page.next) break;
      page = queryQuarantine(store, { ...q, cursor: page.next }, 1);
    }
    expect(found.sort()).toEqual(['Q-2', 'Q-4']);
  });
});

describe('resolving', () => {
  it('accepts once when a second resolve passed the early check: the commit re-checks and rolls back', async () => {
    await ingestJson([row('TWICE', { counterparty_iban: BAD_IBAN })]);
    const before = goldDay();
    const seqBefore = store.meta.get('seq');
    // Started in one tick: both find the record open before either commits.
    const a = resolveQuarantined(store, pipeline, reviewer, { txId: 'TWICE', action: 'release', note: 'a' });
    const b = resolveQuarantined(store, pipeline, reviewer, {
      txId: 'TWICE',
      action: 'correct',
      note: 'b',
      fields: { counterparty_iban: 'DE89370400440532013000' },
    });
    const outcomes = [await refusal(a), await refusal(b)];
    expect(outcomes).toEqual(['none', 'QUARANTINE_RESOLVED']);
    expect(goldDay()).toEqual({ count: before.count + 1, sum: before.sum + 4000n });
    expect(store.meta.get('seq')).toBe((seqBefore as number) + 1); // the loser's batch left nothing
    const rec = store.quarantine.get(idsOfTx(store, 'TWICE')[0] as string) as QuarantineRecord;
    expect(rec.status).toBe('released');
    expect(rec.resolution?.by).toBe('k_reviewer');
  });

  it('re-validates a correction over the sealed original values: fixing another field leaves the bad IBAN', async () => {
    await ingestJson([row('SEALED-1', { counterparty_iban: BAD_IBAN, reference: 'rent' })]);
    const stored = store.quarantine.get(idsOfTx(store, 'SEALED-1')[0] as string) as QuarantineRecord;
    expect(stored.values.counterparty_iban).toBeNull(); // sealed at rest
    const code = await refusal(
      resolveQuarantined(store, pipeline, reviewer, {
        txId: 'SEALED-1',
        action: 'correct',
        note: 'reference only',
        fields: { reference: 'rent, March' },
      }),
    );
    expect(code).toBe('CORRECTION_INVALID');
  });

  it('releases a row that arrived as Arrow, with its amount in minor units', async () => {
    const table = new Table({
      tx_id: vectorFromArray(['ARROW-1'], new Utf8()),
      ts: vectorFromArray([`${DAY}T11:00:00Z`], new Utf8()),
      amount_minor: vectorFromArray([123_456n], new Int64()),
      currency: vectorFromArray(['GBP'], new Utf8()),
      direction: vectorFromArray(['debit'], new Utf8()),
      channel: vectorFromArray(['CHAPS'], new Utf8()),
      account_id: vectorFromArray(['A-ARROW'], new Utf8()),
      counterparty_iban: vectorFromArray([BAD_IBAN], new Utf8()),
    });
    const body = Buffer.from(tableToIPC(table, 'stream'));
    const first = await pipeline.ingest({
      body,
      format: 'arrow',
      contentType: 'application/vnd.apache.arrow.stream',
    });
    expect(first.reply.quarantined).toBe(1);
    const before = goldDay();
    const rec = await resolveQuarantined(store, pipeline, reviewer, {
      txId: 'ARROW-1',
      action: 'release',
      note: 'ok',
    });
    expect(rec.status).toBe('released');
    expect(goldDay()).toEqual({ count: before.count + 1, sum: before.sum + 123_456n });
    const batch = store.batches.get(rec.resolution?.new_batch_id as string) as {
      source: { format: string };
      review: unknown;
    };
    expect(batch.source.format).toBe('arrow');
    expect(batch.review).toEqual({ quarantine_id: rec.id, action: 'release' });
  });
});
