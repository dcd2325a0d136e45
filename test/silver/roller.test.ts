import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  Field,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromIPC,
  tableToIPC,
  Utf8,
} from 'apache-arrow';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { amlKeys } from '../../engine/aml/store-keys.ts';
import { type RollerOptions, rolledKey, SilverRoller } from '../../engine/silver/roller.ts';
import { type StagedSilver, Store } from '../../engine/store.ts';
import { silverIpc } from './fixtures.ts';

let duck: DuckDBConnection;
let dataDir: string;
let store: Store;
const rollers: SilverRoller[] = [];

beforeAll(async () => {
  duck = await (await DuckDBInstance.create()).connect();
});
afterAll(() => {
  duck.closeSync();
});
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-silver-'));
  store = new Store({ dataDir });
});
afterEach(async () => {
  for (const r of rollers.splice(0)) await r.stop();
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function roller(opts?: RollerOptions): SilverRoller {
  const r = new SilverRoller(store, opts);
  rollers.push(r);
  return r;
}

interface PartSpec {
  date: string;
  rows: number;
  amountBase?: number;
  drop?: number[];
}

/** Acknowledges a batch the way the ingest commit does: batch record and staging in one transaction. */
async function stage(
  batchId: string,
  parts: PartSpec[],
  ipcFor?: (p: PartSpec) => Uint8Array,
): Promise<number> {
  const value: Omit<StagedSilver, 'seq'> = {
    batchId,
    parts: parts.map((p) => ({
      date: p.date,
      rows: p.rows,
      ipc: ipcFor ? ipcFor(p) : silverIpc({ batchId, date: p.date, rows: p.rows, amountBase: p.amountBase }),
    })),
  };
  const drops = parts.filter((p) => p.drop);
  if (drops.length) value.drop = Object.fromEntries(drops.map((p) => [p.date, p.drop as number[]]));
  let seq = 0;
  await store.env.transaction(() => {
    seq = store.nextSeq();
    store.batches.put(batchId, { batch_id: batchId, seq, status: 'accepted' });
    store.staging.put(seq, { ...value, seq });
  });
  return seq;
}

/** Sum of amount_minor for rows [0, rows) of a synthetic part, minus the dropped ones. */
function amountSum(p: PartSpec): number {
  const base = p.amountBase ?? 1000;
  let sum = 0;
  const drop = new Set(p.drop ?? []);
  for (let i = 0; i < p.rows; i++) if (!drop.has(i)) sum += base + i;
  return sum;
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const reader = await duck.runAndReadAll(sql.replaceAll('$SILVER', `${dataDir}/silver/**/*.parquet`));
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}

function parquetFiles(): string[] {
  const root = join(dataDir, 'silver');
  if (!existsSync(root)) return [];
  return (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')).sort();
}

const num = (v: unknown) => Number(v);

describe('SilverRoller.rollOnce', () => {
  it('writes one Parquet file per date that DuckDB reads with the right counts, sums and date partition', async () => {
    const b1 = [
      { date: '2026-01-01', rows: 100, amountBase: 1000 },
      { date: '2026-01-02', rows: 50, amountBase: 5000 },
    ];
    const b2 = [{ date: '2026-01-01', rows: 200, amountBase: 20_000, drop: [0, 5, 199, 5] }];
    const b3 = [{ date: '2026-01-02', rows: 30, amountBase: 90_000 }];
    await stage('b1', b1);
    await stage('b2', b2);
    await stage('b3', b3);
    const r = roller();

    const result = await r.rollOnce(true);

    expect(result.batches).toBe(3);
    expect(result.rows).toBe(100 + 197 + 50 + 30);
    expect(result.files.map((f) => f.path)).toEqual([
      'silver/date=2026-01-01/part-00000001-00000002.parquet',
      'silver/date=2026-01-02/part-00000001-00000003.parquet',
    ]);
    expect(parquetFiles()).toEqual([
      'date=2026-01-01/part-00000001-00000002.parquet',
      'date=2026-01-02/part-00000001-00000003.parquet',
    ]);
    const byDate = await query(
      `SELECT CAST(date AS VARCHAR) AS d, count(*) AS n, sum(amount_minor) AS s, count(DISTINCT tx_id) AS ids
       FROM read_parquet('$SILVER', hive_partitioning = true) GROUP BY 1 ORDER BY 1`,
    );
    expect(byDate.map((row) => [row.d, num(row.n), num(row.s), num(row.ids)])).toEqual([
      ['2026-01-01', 297, amountSum(b1[0] as PartSpec) + amountSum(b2[0] as PartSpec), 297],
      ['2026-01-02', 80, amountSum(b1[1] as PartSpec) + amountSum(b3[0] as PartSpec), 80],
    ]);
    const dropped = await query(
      `SELECT count(*) AS n FROM read_parquet('$SILVER') WHERE tx_id IN ('b2-0', 'b2-5', 'b2-199')`,
    );
    expect(num(dropped[0]?.n)).toBe(0);
    const kept = await query(
      `SELECT count(*) AS n FROM read_parquet('$SILVER') WHERE tx_id IN ('b2-1', 'b2-198')`,
    );
    expect(num(kept[0]?.n)).toBe(2);
  });

  it('keeps the silver column types and values (timestamps in UTC, nulls preserved)', async () => {
    await stage('b1', [{ date: '2026-03-04', rows: 20 }]);
    await roller().rollOnce(true);

    const types = await query(`DESCRIBE SELECT * FROM read_parquet('$SILVER')`);
    const typeOf = Object.fromEntries(types.map((t) => [t.column_name, t.column_type]));
    expect(typeOf).toMatchObject({
      tx_id: 'VARCHAR',
      ts: 'TIMESTAMP WITH TIME ZONE',
      amount_minor: 'BIGINT',
      amount_gbp_minor: 'BIGINT',
      batch_row: 'INTEGER',
      received_at: 'TIMESTAMP WITH TIME ZONE',
      aml_score: 'INTEGER',
    });
    const rows = await query(
      `SELECT tx_id, epoch_ms(ts) AS ts, reference, batch_row FROM read_parquet('$SILVER') ORDER BY batch_row LIMIT 2`,
    );
    expect(rows.map((x) => ({ ...x, ts: num(x.ts) }))).toEqual([
      { tx_id: 'b1-0', ts: Date.parse('2026-03-04T00:00:00Z'), reference: null, batch_row: 0 },
      { tx_id: 'b1-1', ts: Date.parse('2026-03-04T00:00:00Z') + 7919, reference: 'INV-1-b1', batch_row: 1 },
    ]);
  });

  it('skips dictionaries, statistics and compression on sealed personal columns, and keeps them where they help', async () => {
    await stage('b1', [{ date: '2026-01-01', rows: 300 }]);
    await roller().rollOnce(true);
    const file = join(dataDir, 'silver', parquetFiles()[0] as string);
    const meta = await query(
      `SELECT path_in_schema AS col, encodings, compression,
              coalesce(stats_min_value, stats_min) IS NOT NULL AS has_stats
       FROM parquet_metadata('${file}')`,
    );
    const col = (name: string) => meta.find((m) => m.col === name) as Record<string, unknown>;
    for (const sealed of ['counterparty_name', 'sort_code', 'counterparty_sort_code', 'iban', 'reference']) {
      expect(col(sealed).has_stats, sealed).toBe(false);
      expect(String(col(sealed).encodings), sealed).not.toMatch(/DICTIONARY/);
      expect(col(sealed).compression, sealed).toBe('UNCOMPRESSED'); // ciphertext does not compress
    }
    expect(col('tx_id').compression).toBe('SNAPPY');
    expect(col('tx_id').has_stats).toBe(true);
    expect(col('amount_minor').has_stats).toBe(true);
    expect(String(col('currency').encodings)).toMatch(/DICTIONARY/);
  });

  it('empties staging and commits the manifest (size, sha256, lineage) and silver_files on each batch record', async () => {
    await stage('b1', [{ date: '2026-01-01', rows: 100 }]);
    await stage('b2', [{ date: '2026-01-01', rows: 200, drop: [3, 4] }]);
    const r = roller();
    expect(r.stagedRows()).toBe(298);

    await r.rollOnce(true);

    expect(store.staging.getKeysCount()).toBe(0);
    expect(r.stagedRows()).toBe(0);
    const path = 'silver/date=2026-01-01/part-00000001-00000002.parquet';
    const entry = store.silverFiles.get(path);
    const bytes = readFileSync(join(dataDir, path));
    expect(entry).toMatchObject({
      path,
      date: '2026-01-01',
      rows: 298,
      bytes: bytes.byteLength,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      batches: [
        { batchId: 'b1', firstRow: 0, rows: 100 },
        { batchId: 'b2', firstRow: 100, rows: 198 },
      ],
    });
    expect(Number.isNaN(Date.parse(entry?.writtenAt ?? ''))).toBe(false);
    expect(store.batches.get('b2')).toEqual({
      batch_id: 'b2',
      seq: 2,
      status: 'accepted',
      silver_files: [{ path, firstRow: 100, rows: 198 }],
    });
    // The lineage ranges are the rows' real positions in the file.
    const ranges = await query(
      `SELECT batch_id, min(file_row_number) AS first, count(*) AS n
       FROM read_parquet('${join(dataDir, path)}', file_row_number = true) GROUP BY 1 ORDER BY 2`,
    );
    expect(ranges.map((x) => [x.batch_id, num(x.first), num(x.n)])).toEqual([
      ['b1', 0, 100],
      ['b2', 100, 198],
    ]);

    const again = await r.rollOnce(true);
    expect(again).toEqual({ files: [], batches: 0, rows: 0 });
    expect(parquetFiles()).toHaveLength(1);
  });

  it('appends to silver_files when a batch already has some', async () => {
    await stage('b1', [{ date: '2026-01-01', rows: 10 }]);
    store.batches.putSync('b1', { batch_id: 'b1', silver_files: [{ path: 'older', firstRow: 0, rows: 1 }] });
    await roller().rollOnce(true);
    expect(store.batches.get('b1')).toEqual({
      batch_id: 'b1',
      silver_files: [
        { path: 'older', firstRow: 0, rows: 1 },
        { path: 'silver/date=2026-01-01/part-00000001-00000001.parquet', firstRow: 0, rows: 10 },
      ],
    });
  });

  it('rolls nothing below targetRows and maxAgeMs, and everything when forced', async () => {
    await stage('b1', [{ date: '2026-01-01', rows: 10 }]);
    const r = roller({ targetRows: 1000, maxAgeMs: 60_000 });

    expect(await r.rollOnce()).toEqual({ files: [], batches: 0, rows: 0 });
    expect(r.stagedRows()).toBe(10);
    expect(parquetFiles()).toEqual([]);

    const forced = await r.rollOnce(true);
    expect(forced.rows).toBe(10);
    expect(parquetFiles()).toHaveLength(1);
  });

  it('rolls without force once staged rows reach targetRows', async () => {
    const r = roller({ targetRows: 100, maxAgeMs: 60_000 });
    await stage('b1', [{ date: '2026-01-01', rows: 60 }]);
    expect((await r.rollOnce()).batches).toBe(0);
    await stage('b2', [{ date: '2026-01-01', rows: 60 }]);
    expect((await r.rollOnce()).rows).toBe(120);
  });

  it('rolls without force once the oldest staged entry is older than maxAgeMs', async () => {
    const r = roller({ targetRows: 1000, maxAgeMs: 100 });
    await stage('b1', [{ date: '2026-01-01', rows: 5 }]);
    expect((await r.rollOnce()).batches).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await r.rollOnce()).rows).toBe(5);
  });

  it('takes at most 2 x targetRows rows per roll and leaves the rest for the next roll', async () => {
    for (let i = 1; i <= 5; i++) await stage(`b${i}`, [{ date: '2026-01-01', rows: 80 }]);
    const r = roller({ targetRows: 100, maxAgeMs: 60_000 });

    const first = await r.rollOnce();
    expect(first).toMatchObject({ batches: 2, rows: 160 });
    expect(first.files.map((f) => f.path)).toEqual(['silver/date=2026-01-01/part-00000001-00000002.parquet']);
    expect(r.stagedRows()).toBe(240);
    expect((await r.rollOnce()).batches).toBe(2);
    expect((await r.rollOnce()).batches).toBe(0); // 80 rows left: below target
    expect((await r.rollOnce(true)).batches).toBe(1);
    const total = await query(
      `SELECT count(*) AS n, count(DISTINCT tx_id) AS ids FROM read_parquet('$SILVER')`,
    );
    expect([num(total[0]?.n), num(total[0]?.ids)]).toEqual([400, 400]);
  });

  it('makes one file per date per roll, not one per staged batch', async () => {
    for (let i = 1; i <= 40; i++) {
      await stage(`b${i}`, [
        { date: '2026-01-01', rows: 3 },
        { date: '2026-01-02', rows: 2 },
      ]);
    }
    const result = await roller().rollOnce(true);
    expect(result.files.map((f) => [f.path, f.rows, f.batches.length])).toEqual([
      ['silver/date=2026-01-01/part-00000001-00000040.parquet', 120, 40],
      ['silver/date=2026-01-02/part-00000001-00000040.parquet', 80, 40],
    ]);
  });

  it('drops duplicate rows across record-batch boundaries inside one part', async () => {
    // One part whose IPC stream holds three record batches of 10 rows (amounts 0..9, 100..109, 200..209).
    const multi = () => {
      const chunks = [0, 1, 2].map((k) =>
        tableFromIPC(
          silverIpc({
            batchId: 'b1',
            txPrefix: `b1-${k}`,
            date: '2026-01-01',
            rows: 10,
            amountBase: k * 100,
          }),
        ),
      );
      return tableToIPC(new Table(chunks.flatMap((c) => c.batches)), 'stream');
    };
    const drop = [0, 9, 10, 11, 19, 20, 29, 29, 30, -1];
    await stage('b1', [{ date: '2026-01-01', rows: 30, drop }], multi);
    const r = roller();
    expect(r.stagedRows()).toBe(23);

    expect((await r.rollOnce(true)).rows).toBe(23);

    const got = await query(`SELECT amount_minor AS a FROM read_parquet('$SILVER') ORDER BY batch_row, a`);
    const expected = [];
    for (let i = 0; i < 30; i++) if (!drop.includes(i)) expected.push(Math.floor(i / 10) * 100 + (i % 10));
    expect(got.map((x) => num(x.a)).sort((a, b) => a - b)).toEqual(expected);
  });

  it('consumes a batch whose rows were all duplicates without writing a file for it', async () => {
    await stage('b1', [{ date: '2026-01-01', rows: 3, drop: [0, 1, 2] }]);
    const r = roller();
    expect(r.stagedRows()).toBe(0);
    expect(await r.rollOnce(true)).toEqual({ files: [], batches: 1, rows: 0 });
    expect(store.staging.getKeysCount()).toBe(0);
    expect(parquetFiles()).toEqual([]);
  });

  it('throws on parts of one date with different schemas, leaving rows staged and no file behind', async () => {
    await stage('b1', [{ date: '2026-01-01', rows: 10 }]);
    await stage('b2', [{ date: '2026-01-01', rows: 2 }], () => {
      const schema = new Schema([
        new Field('tx_id', new Utf8(), false),
        new Field('amount_minor', new Int64(), true),
      ]);
      const tx = makeData({
        type: new Utf8(),
        length: 2,
        valueOffsets: new Int32Array([0, 1, 2]),
        data: new TextEncoder().encode('xy'),
      });
      const amount = makeData({ type: new Int64(), length: 2, data: new BigInt64Array([1n, 2n]) });
      const data = makeData({ type: new Struct(schema.fields), length: 2, children: [tx, amount] });
      return tableToIPC(new Table(schema, [new RecordBatch(schema, data)]), 'stream');
    });
    const errors: unknown[] = [];
    const r = roller({ onError: (e) => errors.push(e) });

    await expect(r.rollOnce(true)).rejects.toThrow(/different schema/);

    expect(store.staging.getKeysCount()).toBe(2);
    expect(r.stagedRows()).toBe(12);
    expect(store.silverFiles.getKeysCount()).toBe(0);
    expect(parquetFiles()).toEqual([]);
    expect(existsSync(join(dataDir, 'silver/date=2026-01-01/.part-00000001-00000002.parquet.tmp'))).toBe(
      false,
    );
    // The roller is still usable: once the bad entry is gone, the good one rolls.
    store.staging.removeSync(2);
    expect((await r.rollOnce(true)).rows).toBe(10);
  });

  it('never runs two rolls at once: concurrent calls write each row exactly once', async () => {
    for (let i = 1; i <= 6; i++) await stage(`b${i}`, [{ date: '2026-01-01', rows: 50 }]);
    const r = roller({ targetRows: 100 });
    const results = await Promise.all([
      r.rollOnce(true),
      r.rollOnce(true),
      r.rollOnce(true),
      r.rollOnce(true),
    ]);
    expect(results.map((x) => x.rows)).toEqual([200, 100, 0, 0]);
    const total = await query(
      `SELECT count(*) AS n, count(DISTINCT tx_id) AS ids FROM read_parquet('$SILVER')`,
    );
    expect([num(total[0]?.n), num(total[0]?.ids)]).toEqual([300, 300]);
  });
});

describe('SilverRoller timer', () => {
  it('start() rolls on its own once entries age, and stop() flushes what is left', async () => {
    const r = roller({ targetRows: 1_000_000, maxAgeMs: 50, intervalMs: 20 });
    r.start();
    await stage('b1', [{ date: '2026-01-01', rows: 7 }]);
    for (let i = 0; i < 200 && store.staging.getKeysCount() > 0; i++)
      await new Promise((res) => setTimeout(res, 20));
    expect(store.staging.getKeysCount()).toBe(0);
    expect(parquetFiles()).toHaveLength(1);

    const r2 = roller({ targetRows: 1_000_000, maxAgeMs: 60_000, intervalMs: 20 });
    r2.start();
    await stage('b2', [{ date: '2026-01-02', rows: 9 }]);
    await r2.stop();
    expect(store.staging.getKeysCount()).toBe(0);
    expect(parquetFiles()).toHaveLength(2);
  });
});

describe('SilverRoller.recover (crash safety)', () => {
  it('deletes Parquet files missing from the manifest and temp files, and keeps manifest files', async () => {
    await stage('b1', [{ date: '2026-01-01', rows: 10 }]);
    await roller().rollOnce(true);
    const kept = 'silver/date=2026-01-01/part-00000001-00000001.parquet';
    // A file renamed into place by a roll that died before its LMDB commit, and a half-written temp.
    mkdirSync(join(dataDir, 'silver/date=2026-01-05'), { recursive: true });
    copyFileSync(join(dataDir, kept), join(dataDir, 'silver/date=2026-01-05/part-00000002-00000002.parquet'));
    writeFileSync(join(dataDir, 'silver/date=2026-01-01/.part-00000003-00000003.parquet.tmp'), 'PAR1');

    const removed = await roller().recover();

    expect(removed).toEqual([
      'silver/date=2026-01-01/.part-00000003-00000003.parquet.tmp',
      'silver/date=2026-01-05/part-00000002-00000002.parquet',
    ]);
    expect(parquetFiles()).toEqual(['date=2026-01-01/part-00000001-00000001.parquet']);
    expect(statSync(join(dataDir, kept)).size).toBe(store.silverFiles.get(kept)?.bytes);
  });

  it('returns nothing when there is no silver directory yet', async () => {
    expect(await roller().recover()).toEqual([]);
  });

  it('after a crash between rename and commit, recover() and a new roll write every row exactly once', async () => {
    await stage('b1', [{ date: '2026-01-01', rows: 30 }]);
    await stage('b2', [{ date: '2026-01-01', rows: 20, drop: [1] }]);
    // The first process: its files reach their final names, then the commit "crashes".
    const dying = roller();
    const internals = dying as unknown as { discard: () => Promise<void> };
    internals.discard = async () => {}; // a dead process cleans up nothing
    const commit = store.env.transaction.bind(store.env);
    store.env.transaction = (() => Promise.reject(new Error('power cut'))) as typeof store.env.transaction;
    await expect(dying.rollOnce(true)).rejects.toThrow('power cut');
    store.env.transaction = commit;
    expect(parquetFiles()).toEqual(['date=2026-01-01/part-00000001-00000002.parquet']);
    expect(store.staging.getKeysCount()).toBe(2);

    // The restarted process.
    const restarted = roller();
    expect(await restarted.recover()).toEqual(['silver/date=2026-01-01/part-00000001-00000002.parquet']);
    expect(parquetFiles()).toEqual([]);
    const result = await restarted.rollOnce(true);

    expect(result.rows).toBe(49);
    const total = await query(
      `SELECT count(*) AS n, count(DISTINCT tx_id) AS ids FROM read_parquet('$SILVER')`,
    );
    expect([num(total[0]?.n), num(total[0]?.ids)]).toEqual([49, 49]);
    expect(store.silverFiles.getKeysCount()).toBe(1);
    expect(store.staging.getKeysCount()).toBe(0);
  });
});

describe('SilverRoller with AML shards', () => {
  /** Sets shard 0's markers as its thread would: outputs written through `done`, state checkpointed through `ckpt`. */
  const shard = async (done: number, ckpt: number) => {
    await store.env.transaction(() => {
      store.meta.put(amlKeys(0).done, done);
      store.meta.put(amlKeys(0).ckpt, ckpt);
    });
  };

  it('rolls what every shard has scored, and keeps it staged until every shard has checkpointed past it', async () => {
    const s1 = await stage('b1', [{ date: '2026-01-01', rows: 30 }]);
    const s2 = await stage('b2', [{ date: '2026-01-01', rows: 20 }]);
    await shard(s1, 0);
    const first = roller({ amlShards: 1 });
    // Only the scored batch rolls; neither leaves staging, since a replay may still read both.
    expect((await first.rollOnce(true)).rows).toBe(30);
    expect([...store.staging.getKeys()]).toEqual([s1, s2]);
    expect(store.meta.get(rolledKey(s1))).toBe(1);

    // A restart in between: the rolled entry is not rolled again.
    await shard(s2, 0);
    const restarted = roller({ amlShards: 1 });
    expect((await restarted.rollOnce(true)).rows).toBe(20);
    expect((await restarted.rollOnce(true)).batches).toBe(0);
    const total = await query(
      `SELECT count(*) AS n, count(DISTINCT tx_id) AS ids FROM read_parquet('$SILVER')`,
    );
    expect([num(total[0]?.n), num(total[0]?.ids)]).toEqual([50, 50]);
    expect(store.staging.getKeysCount()).toBe(2);

    // Past the checkpoint, the next roll deletes both entries and their marks.
    await shard(s2, s1);
    await restarted.rollOnce(true);
    expect([...store.staging.getKeys()]).toEqual([s2]);
    await shard(s2, s2);
    await restarted.rollOnce(true);
    expect(store.staging.getKeysCount()).toBe(0);
    expect(store.meta.get(rolledKey(s1))).toBeUndefined();
    expect(store.meta.get(rolledKey(s2))).toBeUndefined();
    expect(store.silverFiles.getKeysCount()).toBe(2);
  });

  it('deletes staging in the roll itself when the checkpoint has already passed', async () => {
    const s1 = await stage('b1', [{ date: '2026-01-01', rows: 10 }]);
    await shard(s1, s1);
    expect((await roller({ amlShards: 1 }).rollOnce(true)).rows).toBe(10);
    expect(store.staging.getKeysCount()).toBe(0);
    expect(store.meta.get(rolledKey(s1))).toBeUndefined();
  });
});

describe('SilverRoller.compact', () => {
  it('merges a partition’s small files into one, keeping every row, sum and batch lineage', async () => {
    const r = roller({ targetRows: 1000 });
    const parts: PartSpec[] = [];
    for (let k = 0; k < 4; k++) {
      const p = { date: '2026-11-20', rows: 50 + k, amountBase: 1000 * k };
      parts.push(p);
      await stage(`CB${k}`, [p]);
      await r.rollOnce(true); // one small file per batch
    }
    expect(parquetFiles()).toHaveLength(4);
    const before = await query(`SELECT count(*) AS n, sum(amount_minor) AS s FROM read_parquet('$SILVER')`);

    const out = await r.compact();
    expect(out.merged).toBe(4);
    const files = parquetFiles();
    expect(files).toEqual(['date=2026-11-20/part-00000001-00000004.parquet']);
    const after = await query(`SELECT count(*) AS n, sum(amount_minor) AS s FROM read_parquet('$SILVER')`);
    expect(after).toEqual(before);
    expect(num(after[0]?.n)).toBe(parts.reduce((a, p) => a + p.rows, 0));

    // The manifest names only the new file, and each batch's lineage points into it exactly.
    const manifest = [...store.silverFiles.getRange({})].map((e) => e.key);
    expect(manifest).toEqual(['silver/date=2026-11-20/part-00000001-00000004.parquet']);
    let firstRow = 0;
    for (let k = 0; k < 4; k++) {
      const rec = store.batches.get(`CB${k}`) as {
        silver_files: { path: string; firstRow: number; rows: number }[];
      };
      expect(rec.silver_files).toEqual([
        { path: 'silver/date=2026-11-20/part-00000001-00000004.parquet', firstRow, rows: 50 + k },
      ]);
      const rows = await query(
        `SELECT min(amount_minor) AS lo FROM (SELECT amount_minor, row_number() OVER () - 1 AS i FROM read_parquet('$SILVER')) WHERE i >= ${firstRow} AND i < ${firstRow + 50 + k}`,
      );
      expect(num(rows[0]?.lo)).toBe(1000 * k);
      firstRow += 50 + k;
    }
    // Nothing more to merge.
    expect((await r.compact()).merged).toBe(0);
  });
});
