/**
 * The pipeline end to end over HTTP, against a real service on loopback: every format, every row
 * accounted for, gold and silver agreeing with the input's labels, dedup across a restart,
 * idempotent repeats, and bad bodies refused whole with no partial state.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../api/service.ts';
import { FORMATS } from '../../engine/formats/index.ts';
import { type GeneratedRow, type Label, TransactionGenerator } from '../../engine/generator.ts';
import { type BodyFormat, encodeRows } from '../../engine/generator-formats.ts';
import { Kernels } from '../../engine/kernels.ts';
import { loadReferenceData } from '../../engine/reference-data.ts';
import { Store } from '../../engine/store.ts';
import { get, post, service, tempDir } from '../support/service.ts';

const reference = loadReferenceData();
const kernels = new Kernels(reference);

function generate(rows: number, seed: number, format: BodyFormat): { rows: GeneratedRow[]; labels: Label[] } {
  const gen = new TransactionGenerator(kernels, reference, {
    rows,
    seed,
    badShare: 0.05,
    format: format === 'arrow' ? 'arrow' : 'csv',
  });
  const out: GeneratedRow[] = [];
  const labels: Label[] = [];
  for (let g = gen.next(); g; g = gen.next()) {
    out.push(g.row);
    labels.push(g.label);
  }
  return { rows: out, labels };
}

function expected(labels: Label[], rows: GeneratedRow[]) {
  let accepted = 0;
  let quarantined = 0;
  let duplicates = 0;
  let sum = 0n;
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as Label;
    if (l.reasons.includes('DUPLICATE_TX')) duplicates++;
    else if (l.status === 'invalid') quarantined++;
    else {
      accepted++;
      sum += (rows[i] as GeneratedRow).amount_minor;
    }
  }
  return { accepted, quarantined, duplicates, sum };
}

const dir = tempDir();
let svc: RunningService;
const sent: { accepted: number; sum: bigint } = { accepted: 0, sum: 0n };

beforeAll(async () => {
  svc = await service(dir.path);
});
afterAll(async () => {
  await svc?.close();
  dir.remove();
});

const FORMAT_LIST: BodyFormat[] = ['arrow', 'csv', 'json', 'ndjson', 'msgpack'];

describe('POST /v1/batches', () => {
  FORMAT_LIST.forEach((format, k) => {
    it(`accounts for every row of a ${format} body, matching the labels`, async () => {
      const { rows, labels } = generate(3000, 100 + k, format);
      const want = expected(labels, rows);
      const res = await post(`${svc.url}/v1/batches`, encodeRows(rows, format), FORMATS[format]);
      expect(res.status, res.text).toBe(201);
      const r = res.json;
      expect(r.status).toBe('completed');
      expect(r.received).toBe(rows.length);
      expect({ accepted: r.accepted, quarantined: r.quarantined, duplicates: r.duplicates }).toEqual({
        accepted: want.accepted,
        quarantined: want.quarantined,
        duplicates: want.duplicates,
      });
      expect(r.accepted + r.quarantined + r.duplicates).toBe(r.received);
      const reasonRows = Object.values(r.reasons as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(reasonRows).toBe(want.quarantined); // each planted bad row has exactly one reason
      expect(r.quality.uniqueness).toBeCloseTo(1 - want.duplicates / rows.length, 5);
      sent.accepted += want.accepted;
      sent.sum += want.sum;

      const batch = await get(`${svc.url}/v1/batches/${r.batch_id}`);
      expect(batch.status).toBe(200);
      expect(batch.json.source.format).toBe(format);
      expect(batch.json.source.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(batch.json.quarantine_ids.length).toBe(want.quarantined);
    });
  });

  it('keeps gold totals equal to the accepted rows across all batches', async () => {
    const res = await get(`${svc.url}/v1/reports/daily-kpis`);
    expect(res.status).toBe(200);
    const rows = res.json.rows as { count: number; sum_minor: string }[];
    expect(rows.reduce((a, r) => a + r.count, 0)).toBe(sent.accepted);
    expect(rows.reduce((a, r) => a + BigInt(r.sum_minor), 0n)).toBe(sent.sum);
    const csv = await get(`${svc.url}/v1/reports/daily-kpis?format=csv`);
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.text.split('\r\n')[0]).toBe(
      'day,currency,channel,direction,count,sum_minor,min_minor,max_minor',
    );
    const dq = await get(`${svc.url}/v1/reports/data-quality`, { accept: 'text/csv' });
    expect(dq.text.startsWith('day,batches,received')).toBe(true);
  });

  it('answers an Idempotency-Key repeat with the first reply and counts nothing twice', async () => {
    const { rows } = generate(500, 7, 'ndjson');
    const body = encodeRows(rows, 'ndjson');
    const first = await post(`${svc.url}/v1/batches`, body, FORMATS.ndjson, { 'idempotency-key': 'k-7' });
    const again = await post(`${svc.url}/v1/batches`, body, FORMATS.ndjson, { 'idempotency-key': 'k-7' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    sent.accepted += first.json.accepted;
    const kpis = await get(`${svc.url}/v1/reports/daily-kpis`);
    expect((kpis.json.rows as { count: number }[]).reduce((a, r) => a + r.count, 0)).toBe(sent.accepted);
  });

  it('marks every row of a resent body (no key) as a duplicate, also after a restart', async () => {
    const { rows, labels } = generate(400, 8, 'csv');
    // A row without a well-formed tx id has no identity to dedup on: it is quarantined again.
    const anonymous = labels.filter((l) => l.reasons.includes('TX_ID_FORMAT') || l.tx_id === null).length;
    expect(anonymous).toBeGreaterThan(0);
    const body = encodeRows(rows, 'csv');
    const first = await post(`${svc.url}/v1/batches`, body, FORMATS.csv);
    expect(first.status).toBe(201);
    sent.accepted += first.json.accepted;
    await svc.close();
    svc = await service(dir.path);
    const again = await post(`${svc.url}/v1/batches`, body, FORMATS.csv);
    expect(again.status).toBe(201);
    expect(again.json.duplicates).toBe(again.json.received - anonymous);
    expect(again.json.quarantined).toBe(anonymous);
    expect(again.json.accepted).toBe(0);
  });
});

describe('bad bodies', () => {
  async function state() {
    const batches = await get(`${svc.url}/v1/reports/data-quality`);
    return JSON.stringify(batches.json);
  }

  it('refuses each with a clear 4xx and a stable code, leaving no partial state', async () => {
    const before = await state();
    const { rows } = generate(200, 9, 'arrow');
    const arrow = encodeRows(rows, 'arrow');
    const cases: [Uint8Array | string, string, number, string][] = [
      [arrow.subarray(0, Math.floor(arrow.length * 0.6)), FORMATS.arrow, 400, 'BODY_UNPARSEABLE'],
      ['tx_id,amount\nT1,"12.50\n', FORMATS.csv, 400, 'BODY_UNPARSEABLE'],
      ['{"rows": []}', FORMATS.json, 400, 'BODY_SHAPE'],
      ['', FORMATS.json, 400, 'BODY_EMPTY'],
      ['<xml/>', 'application/xml', 415, 'CONTENT_TYPE_UNSUPPORTED'],
    ];
    for (const [body, type, status, code] of cases) {
      const res = await post(`${svc.url}/v1/batches`, body, type);
      expect(res.status, `${type}: ${res.text}`).toBe(status);
      expect(res.json.error.code).toBe(code);
    }
    expect(await state()).toBe(before);
  });

  it('refuses a body 100 MB over the limit with 413', async () => {
    const big = Buffer.alloc(svc.config.bodyLimitBytes + 100 * 2 ** 20, 0x61);
    const res = await post(`${svc.url}/v1/batches`, big, FORMATS.csv).catch((e: Error) => ({
      status: -1,
      json: null,
      text: e.message,
    }));
    // Fastify answers 413 as soon as the declared length is over the limit.
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('BODY_TOO_LARGE');
  });
});

describe('POST /v1/validate', () => {
  it('gives per-row verdicts against stored history and persists nothing', async () => {
    const { rows, labels } = generate(300, 10, 'json');
    const res = await post(`${svc.url}/v1/validate`, encodeRows(rows, 'json'), FORMATS.json);
    expect(res.status).toBe(200);
    const results = res.json.results as { tx_id: string; status: string; reasons: string[] }[];
    expect(results.map((r) => r.reasons)).toEqual(labels.map((l) => l.reasons));
    // a row already stored is a duplicate for validate too
    const stored = await post(`${svc.url}/v1/batches`, encodeRows(rows.slice(0, 1), 'json'), FORMATS.json);
    expect(stored.status).toBe(201);
    const again = await post(`${svc.url}/v1/validate`, encodeRows(rows.slice(0, 1), 'json'), FORMATS.json);
    expect(again.json.results[0].reasons).toContain('DUPLICATE_TX');
  });
});

describe('silver', () => {
  it('is Parquet that DuckDB reads, with exactly the accepted rows and their sums', async () => {
    await svc.close(); // graceful shutdown rolls everything staged
    const db = await (await DuckDBInstance.create()).connect();
    const reader = await db.runAndReadAll(
      `SELECT count(*)::BIGINT AS n, sum(amount_minor)::BIGINT AS s, count(DISTINCT tx_id)::BIGINT AS d FROM read_parquet('${dir.path}/silver/**/*.parquet', hive_partitioning = true)`,
    );
    const [n, , d] = reader.getRows()[0] as [bigint, bigint, bigint];
    // Per-account per-day gold is folded from batch partials by shutdown at the latest.
    const store = new Store({ dataDir: dir.path });
    let accountRows = 0;
    for (const { value } of store.gold.getRange({ start: 'a|', end: 'a|~' }))
      accountRows += (value as { count: number }).count;
    expect([...store.gold.getKeys({ start: 'p|', end: 'p|~' })]).toEqual([]);
    await store.close();
    const kpis = (
      await (async () => {
        svc = await service(dir.path);
        return get(`${svc.url}/v1/reports/daily-kpis`);
      })()
    ).json.rows as { count: number; sum_minor: string }[];
    const goldCount = kpis.reduce((a, r) => a + r.count, 0);
    const goldSum = kpis.reduce((a, r) => a + BigInt(r.sum_minor), 0n);
    expect(Number(n)).toBe(goldCount);
    expect(accountRows).toBe(goldCount);
    expect(Number(d)).toBe(goldCount);
    expect((reader.getRows()[0] as bigint[])[1]).toBe(goldSum);
  });
});
