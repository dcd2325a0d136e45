/**
 * AML scoring in the running service: alerts with their reasons, the alert routes and report,
 * state that survives a restart, a replay after `kill -9` that reproduces every alert of a run
 * without the crash, and the scores in silver Parquet.
 */
import type { ChildProcess } from 'node:child_process';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { amlKeys } from '../../engine/aml/store-keys.ts';
import { Store } from '../../engine/store.ts';
import { get, post, service, spawnService as spawnServe, tempDir } from '../support/service.ts';

const BASE = Date.parse('2026-11-25T10:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;

type Row = Record<string, string | number>;

function row(id: string, account: string, at: number, amount: string, extra: Row = {}): Row {
  return {
    tx_id: id,
    ts: BASE + at,
    amount,
    currency: 'GBP',
    direction: 'debit',
    channel: 'FPS',
    account_id: account,
    ...extra,
  };
}

const credit = { direction: 'credit' };

/** Six batches, with typologies spread across them so that state must carry from batch to batch. */
const BATCHES: Row[][] = [
  [
    row('S1', 'STR-1', 0, '9100.00', credit),
    row('S2', 'STR-1', HOUR, '9200.00', credit),
    row('B1', 'BG-1', 0, '12.50'),
  ],
  [row('S3', 'STR-1', 2 * HOUR, '9300.00', credit), row('P1', 'PT-1', 2 * HOUR, '20000.01', credit)],
  [
    row('P2', 'PT-1', 2 * HOUR + 30 * MIN, '18500.00'),
    ...Array.from({ length: 6 }, (_, k) => row(`V${k}`, 'VEL-1', 3 * HOUR + k * 10_000, '5000.00')),
  ],
  [
    ...Array.from({ length: 6 }, (_, k) => row(`V${6 + k}`, 'VEL-1', 3 * HOUR + (6 + k) * 10_000, '5000.00')),
    row('S4', 'STR-1', 4 * HOUR, '9400.00', credit),
  ],
  [
    row('N1', 'SAN-1', 5 * HOUR, '250.00', { counterparty_name: 'Ruslan Bekov Timurovich' }),
    row('B2', 'BG-1', 5 * HOUR, '8.10'),
  ],
  [
    row('K1', 'HR-1', 6 * HOUR, '3000.00', { counterparty_country: 'KP' }),
    row('B3', 'BG-1', 6 * HOUR, '4.20'),
  ],
];

async function send(url: string, rows: Row[]) {
  const r = await post(`${url}/v1/batches`, JSON.stringify(rows), 'application/json');
  expect(r.status).toBe(201);
  return r.json;
}

/** Every alert, without the wall-clock time it was raised at. */
async function alerts(url: string) {
  const r = await get(`${url}/v1/alerts?limit=1000`);
  expect(r.status).toBe(200);
  // Batch ids are fresh UUIDs per run; the row and tx id say where an alert belongs.
  return (r.json.alerts as { raised_at?: string; batch_id: string; id: string; tx_id: string }[]).map(
    ({ raised_at, batch_id, id, ...a }) => a,
  );
}

/** Children still running when a test fails are killed after the suite. */
const children = new Set<ChildProcess>();

async function spawnService(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  // No timed checkpoint during the test: the crash must leave the state behind the outputs.
  const s = await spawnServe(dataDir, ['--aml-checkpoint-ms', '600000', '--aml-shards', '2']);
  children.add(s.child);
  s.child.once('exit', () => children.delete(s.child));
  return s;
}

describe('AML in the service', () => {
  const reference = tempDir('sluice-aml-ref-');
  const crashed = tempDir('sluice-aml-crash-');
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    reference.remove();
    crashed.remove();
  });
  let expected: Awaited<ReturnType<typeof alerts>> = [];

  it('raises alerts with their reasons, counts them in the reply, and serves them filtered', async () => {
    const svc = await service(reference.path, { workers: 2, amlShards: 2 });
    const replies = [];
    for (const b of BATCHES) replies.push(await send(svc.url, b));
    expect(replies.map((r) => r.alerts)).toEqual([0, 1, 1, 3, 1, 1]);
    expected = await alerts(svc.url);
    const byTx = new Map(
      expected.map((a) => [
        a.tx_id,
        a as unknown as { score: number; rules: { rule: string; detail: string }[] },
      ]),
    );
    expect([...byTx.keys()].sort()).toEqual(['K1', 'N1', 'P2', 'S3', 'S4', 'V10', 'V11']);
    expect(byTx.get('K1')?.score).toBe(50); // high-risk country 40 + round amount 10: exactly the threshold
    expect(byTx.get('S3')?.rules.map((r) => r.rule)).toEqual(['STRUCTURING']);
    expect(byTx.get('S3')?.rules[0]?.detail).toBe('3rd amount in £9,000.00–£10,000.00 within 24 h');
    expect(byTx.get('P2')?.rules.map((r) => r.detail)).toEqual([
      `debits £18,500.00 = 92% of credit £20,000.01 at ${new Date(BASE + 2 * HOUR).toISOString()}`,
      '£18,500.00 ≥ £10,000.00',
    ]);
    expect(byTx.get('V10')?.rules.map((r) => r.rule)).toEqual([
      'VELOCITY_AMOUNT',
      'VELOCITY_COUNT',
      'ROUND_AMOUNT',
    ]);
    expect(byTx.get('V10')?.rules[1]?.detail).toBe('11th transaction in 5 min');
    expect(byTx.get('N1')?.score).toBe(100);
    // Screened by the pool worker while the name was in clear; the shard explains it from what
    // was staged with the row, naming the list entry.
    const sanction = (byTx.get('N1')?.rules ?? [])[0] as unknown as {
      rule: string;
      detail: string;
      values: { list_id: string; similarity: number };
    };
    expect(sanction.rule).toBe('SANCTIONS_MATCH');
    expect(sanction.detail).toMatch(/^(0\.9\d|1\.00) similar to ".+" \((OFSI|OFAC):[^)]+\)$/);
    expect(sanction.values.list_id).toMatch(/^(OFSI|OFAC):/);

    const struct = await get(`${svc.url}/v1/alerts?rule=STRUCTURING`);
    expect(struct.json.alerts.map((a: { tx_id: string }) => a.tx_id)).toEqual(['S3', 'S4']);
    const high = await get(`${svc.url}/v1/alerts?min_score=100`);
    expect(high.json.alerts.map((a: { tx_id: string }) => a.tx_id)).toEqual(['N1']);
    const acct = await get(`${svc.url}/v1/alerts?account_id=VEL-1`);
    expect(acct.json.alerts.map((a: { tx_id: string }) => a.tx_id)).toEqual(['V10', 'V11']);
    const page = await get(`${svc.url}/v1/alerts?limit=2`);
    const rest = await get(`${svc.url}/v1/alerts?limit=10&cursor=${encodeURIComponent(page.json.next)}`);
    expect([...page.json.alerts, ...rest.json.alerts].map((a: { tx_id: string }) => a.tx_id)).toEqual(
      expected.map((a) => a.tx_id),
    );
    const csv = await get(`${svc.url}/v1/reports/alerts?format=csv`);
    expect(csv.text).toContain('day,rule,alerts\r\n');
    expect(csv.text).toContain('2026-11-25,STRUCTURING,2\r\n');
    await svc.close();
  });

  it('writes each row score, rules and late flag to silver Parquet', async () => {
    const db = await (await DuckDBInstance.create()).connect();
    const reader = await db.runAndReadAll(
      `SELECT tx_id, aml_score, aml_rules, flags FROM read_parquet('${reference.path}/silver/**/*.parquet') WHERE aml_score > 0 ORDER BY tx_id`,
    );
    const rows = reader.getRows() as [string, number, string, number][];
    const s3 = rows.find((r) => r[0] === 'S3');
    expect(s3).toEqual(['S3', 60, 'STRUCTURING', 0]);
    expect(rows.find((r) => r[0] === 'V10')?.[2]).toBe('VELOCITY_AMOUNT,VELOCITY_COUNT,ROUND_AMOUNT');
    // Background rows score 0.
    expect(rows.some((r) => r[0].startsWith('B'))).toBe(false);
  });

  it('scores the stateless rules of a validate row that has no account', async () => {
    const svc = await service(reference.path, { workers: 1, amlShards: 2 });
    const r = await post(
      `${svc.url}/v1/validate`,
      JSON.stringify([{ ...row('X1', '', 0, '10000.00', { counterparty_name: 'Hamid Reza Tavakoli' }) }]),
      'application/json',
    );
    expect(r.json.results[0].reasons).toEqual(['MISSING_FIELD']);
    expect(r.json.results[0].aml).toEqual({
      score: 100,
      rules: ['SANCTIONS_MATCH', 'HIGH_VALUE', 'ROUND_AMOUNT'],
    });
    await svc.close();
  });

  it('keeps the state across a restart', async () => {
    const svc = await service(reference.path, { workers: 1, amlShards: 2 });
    const r = await send(svc.url, [row('S5', 'STR-1', 5 * HOUR, '9500.00', credit)]);
    expect(r.alerts).toBe(1); // the 5th band amount within 24 h, seen only through restored state
    await svc.close();
  });

  it('after kill -9, replays to the very alerts of a run without the crash', async () => {
    let s = await spawnService(crashed.path);
    for (const b of BATCHES.slice(0, 3)) await send(s.url, b);
    s.child.kill('SIGKILL');
    await new Promise((r) => s.child.once('exit', r));
    // The crash left the state behind the outputs: the restart must replay to catch up.
    const store = new Store({ dataDir: crashed.path });
    const ckpt = [0, 1].map((k) => (store.meta.get(amlKeys(k).ckpt) as number | undefined) ?? 0);
    const done = [0, 1].map((k) => store.meta.get(amlKeys(k).done) as number);
    await store.close();
    expect(done).toEqual([3, 3]);
    expect(Math.max(...ckpt)).toBeLessThan(3);
    s = await spawnService(crashed.path);
    for (const b of BATCHES.slice(3)) await send(s.url, b);
    expect(await alerts(s.url)).toEqual(expected);
    s.child.kill('SIGTERM');
    await new Promise((r) => s.child.once('exit', r));
  }, 60_000);
});

describe('AML state larger than the resident slots', () => {
  const dir = tempDir('sluice-aml-evict-');
  afterAll(() => dir.remove());

  it('evicts idle accounts packed, and restores them from memory and from LMDB after a restart', async () => {
    // One shard holding 1,024 accounts, and 1,500 accounts in every batch: each batch is scored
    // in slices that evict and restore, and checkpoints write the evicted and the resident.
    const accounts = Array.from({ length: 1500 }, (_, k) => `EV-${k}`);
    const batch = (round: number, amount: string) =>
      accounts.map((a, k) => row(`EV${round}-${k}`, a, round * MIN, amount, credit));
    let svc = await service(dir.path, { workers: 1, amlShards: 1, amlCapacity: 1024, amlCheckpointMs: 50 });
    expect((await send(svc.url, batch(0, '9100.00'))).alerts).toBe(0);
    expect((await send(svc.url, batch(1, '9200.00'))).alerts).toBe(0);
    await svc.close();
    svc = await service(dir.path, { workers: 1, amlShards: 1, amlCapacity: 1024 });
    // Each account's third band amount within 24 h: its first two come back from the store.
    const third = await send(svc.url, batch(2, '9300.00'));
    expect(third.alerts).toBe(1500);
    await svc.close();
  }, 60_000);
});
