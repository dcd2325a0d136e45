/**
 * Lineage: a tx id leads to its batch and request row, and to where the row went: its row in a
 * silver Parquet file once rolled (checked against the file itself), staged before, or its
 * quarantine record; and to its alert. A batch's lineage lists its silver files with row ranges,
 * its quarantine and alert ids and the gold keys it touched. No account ids or names appear.
 */
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../engine/store.ts';
import { addKey, bearer, get, post, service, type TestService, tempDir } from '../support/service.ts';

const D1 = '2025-06-01';
const D2 = '2025-06-02';

function row(tx_id: string, ts: string, extra: Record<string, string> = {}) {
  return {
    tx_id,
    ts,
    amount: '12.50',
    currency: 'GBP',
    direction: 'debit',
    channel: 'CARD',
    account_id: 'LIN-ACC-1',
    counterparty_name: 'Jane Payee',
    ...extra,
  };
}

// Batch A: D1 and D2 rows, one quarantined, and three structuring-band debits (the third alerts).
const A = [
  row('A-0', `${D1}T10:00:00Z`),
  row('A-1', `${D1}T10:01:00Z`, { currency: 'XXX' }),
  row('A-2', `${D2}T10:00:00Z`),
  row('A-3', `${D1}T11:00:00Z`, { account_id: 'LIN-ACC-2', direction: 'credit' }),
  row('A-S1', `${D2}T12:00:00Z`, { account_id: 'LIN-ACC-S', amount: '9500.00', channel: 'FPS' }),
  row('A-S2', `${D2}T12:01:00Z`, { account_id: 'LIN-ACC-S', amount: '9500.00', channel: 'FPS' }),
  row('A-S3', `${D2}T12:02:00Z`, { account_id: 'LIN-ACC-S', amount: '9500.00', channel: 'FPS' }),
];
// Batch B: a repeat of A-0 (dropped from B's silver at commit), then one row per date, then an
// in-request repeat.
const B = [
  row('A-0', `${D1}T10:00:00Z`),
  row('B-1', `${D1}T13:00:00Z`),
  row('B-2', `${D2}T13:00:00Z`),
  row('B-2', `${D2}T13:00:00Z`),
];

describe('lineage', () => {
  const dir = tempDir('sluice-lineage-');
  const data = join(dir.path, 'data');
  let svc: TestService;
  let batchA: string;
  let batchB: string;
  const lineage = async (tx: string) => {
    const r = await get(`${svc.url}/v1/lineage/tx/${tx}`);
    expect(r.status).toBe(200);
    expect(r.text).not.toMatch(/LIN-ACC|Jane/);
    return r.json;
  };

  beforeAll(async () => {
    svc = await service(data);
    const a = await post(`${svc.url}/v1/batches`, JSON.stringify(A), 'application/json');
    const b = await post(`${svc.url}/v1/batches`, JSON.stringify(B), 'application/json');
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.json).toMatchObject({ accepted: 6, quarantined: 1, alerts: 1 });
    expect(b.json).toMatchObject({ accepted: 2, duplicates: 2 });
    batchA = a.json.batch_id;
    batchB = b.json.batch_id;
  }, 60_000);
  afterAll(async () => {
    await svc.close();
    dir.remove();
  });

  it('a staged row is placed by date and its place among the batch’s rows of that date', async () => {
    expect(await lineage('B-1')).toEqual({
      tx_id: 'B-1',
      batch_id: batchB,
      row: 1,
      layer: 'silver',
      silver: { state: 'staged', date: D1, part_row: 0 },
      alert: null,
    });
    const b = (await get(`${svc.url}/v1/batches/${batchB}`)).json;
    expect(b.silver).toEqual([
      { date: D1, rows: 1, state: 'staged' },
      { date: D2, rows: 1, state: 'staged' },
    ]);
  });

  it('a row whose id was claimed inside a run of consecutive ids leads to its own row', async () => {
    // Ten consecutive ids in ten rows: claimed as one range of the tx-id index (engine/tx-claims.ts).
    const run = Array.from({ length: 10 }, (_, i) =>
      row(`RUN-${String(i).padStart(3, '0')}`, `${D1}T14:0${i}:00Z`),
    );
    const c = await post(`${svc.url}/v1/batches`, JSON.stringify(run), 'application/json');
    expect(c.json).toMatchObject({ accepted: 10, duplicates: 0 });
    expect(await lineage('RUN-007')).toMatchObject({
      tx_id: 'RUN-007',
      batch_id: c.json.batch_id,
      row: 7,
      layer: 'silver',
      silver: { state: 'staged', date: D1, part_row: 7 },
    });
    expect((await get(`${svc.url}/v1/lineage/tx/RUN-010`)).status).toBe(404);
    const again = await post(`${svc.url}/v1/batches`, JSON.stringify([run[3]]), 'application/json');
    expect(again.json).toMatchObject({ accepted: 0, duplicates: 1 });
  });

  it('a quarantined row leads to its quarantine record, by id and status', async () => {
    expect(await lineage('A-1')).toEqual({
      tx_id: 'A-1',
      batch_id: batchA,
      row: 1,
      layer: 'quarantine',
      quarantine: { id: `${batchA}:1`, status: 'open', reasons: ['CURRENCY_UNKNOWN'] },
      alert: null,
    });
    expect((await get(`${svc.url}/v1/lineage/tx/NO-SUCH-TX`)).status).toBe(404);
    const auditor = await addKey(data, ['auditor']);
    expect((await get(`${svc.url}/v1/lineage/tx/A-1`, bearer(auditor))).status).toBe(403);
  });

  it('after a roll, a row’s file and row are where the Parquet file holds it', async () => {
    await svc.close(); // rolls staged silver
    svc = await service(data);
    const duck = await (await DuckDBInstance.create()).connect();
    const txAt = async (path: string, fileRow: number) => {
      const r = await duck.runAndReadAll(
        `SELECT tx_id, batch_id, batch_row FROM read_parquet('${join(data, path)}', file_row_number = true) WHERE file_row_number = ${fileRow}`,
      );
      return r.getRowObjects()[0];
    };
    const expected: [string, string, number, string, number, { first: number; count: number }][] = [
      ['A-0', batchA, 0, D1, 0, { first: 0, count: 2 }],
      ['A-3', batchA, 3, D1, 1, { first: 0, count: 2 }],
      ['B-1', batchB, 1, D1, 2, { first: 2, count: 1 }],
      ['A-2', batchA, 2, D2, 0, { first: 0, count: 4 }],
      ['A-S3', batchA, 6, D2, 3, { first: 0, count: 4 }],
      ['B-2', batchB, 2, D2, 4, { first: 4, count: 1 }],
    ];
    try {
      for (const [tx, batch, inBatch, date, fileRow, range] of expected) {
        const l = await lineage(tx);
        expect(l).toMatchObject({ tx_id: tx, batch_id: batch, row: inBatch, layer: 'silver' });
        expect(l.silver).toMatchObject({ state: 'rolled', date, row: fileRow, batch_rows: range });
        expect(l.silver.path).toMatch(new RegExp(`^silver/date=${date}/part-\\d+-\\d+\\.parquet$`));
        expect(await txAt(l.silver.path, fileRow)).toEqual({
          tx_id: tx,
          batch_id: batch,
          batch_row: inBatch,
        });
      }
    } finally {
      duck.closeSync();
    }
    const s3 = await lineage('A-S3');
    expect(s3.alert).toMatchObject({ id: `${batchA}:6`, rules: ['STRUCTURING'] });
    expect(s3.alert.score).toBeGreaterThanOrEqual(50);
    expect((await lineage('A-S2')).alert).toBeNull();
  }, 60_000);

  it('a batch’s lineage lists its silver files and row ranges, quarantine and alert ids, and gold keys', async () => {
    const a = (await get(`${svc.url}/v1/batches/${batchA}`)).json;
    const b = (await get(`${svc.url}/v1/batches/${batchB}`)).json;
    expect(b.silver).toEqual([
      { date: D1, rows: 1, state: 'rolled', path: expect.stringContaining(`date=${D1}/`), first_row: 2 },
      { date: D2, rows: 1, state: 'rolled', path: expect.stringContaining(`date=${D2}/`), first_row: 4 },
    ]);
    expect(a.silver.map((p: { rows: number; first_row: number }) => [p.rows, p.first_row])).toEqual([
      [2, 0],
      [4, 0],
    ]);
    expect(a).toMatchObject({ quarantine_ids: [`${batchA}:1`], alerts: 1, alert_ids: [`${batchA}:6`] });
    expect(b).toMatchObject({ quarantine_ids: [], alerts: 0, alert_ids: [] });
    expect(b.source).toMatchObject({
      content_type: 'application/json',
      format: 'json',
      key_id: expect.any(String),
    });
    expect(b.source.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(b.bronze).toEqual({ key: batchB, bytes: b.source.bytes });
    const received = `q|${String(b.received_at).slice(0, 10)}`;
    expect(b.gold_keys).toEqual([`d|${D1}|GBP|CARD|debit`, `d|${D2}|GBP|CARD|debit`, received]);
    expect([...a.gold_keys].sort()).toEqual(
      [
        `d|${D1}|GBP|CARD|debit`,
        `d|${D1}|GBP|CARD|credit`,
        `d|${D2}|GBP|CARD|debit`,
        `d|${D2}|GBP|FPS|debit`,
        received,
      ].sort(),
    );
    await svc.close();
    const store = new Store({ dataDir: data });
    try {
      for (const k of [...a.gold_keys, ...b.gold_keys]) expect(store.gold.get(k)).toBeDefined();
    } finally {
      await store.close();
      svc = await service(data);
    }
  }, 60_000);
});
