/**
 * `sluice generate` then `sluice ingest` against the real service (started in this process on an
 * ephemeral port): the summary's counts must match the labels, a re-run must be answered wholly by
 * idempotent repeats with nothing counted twice, and a dead server must fail fast and bounded.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestSummary } from '../../cli/ingest.ts';
import { sluice } from '../support/cli.ts';
import { get, service as startService, type TestService } from '../support/service.ts';

const ROWS = 20_000;
const dir = mkdtempSync(join(tmpdir(), 'sluice-ingest-'));
let service: TestService;

beforeAll(async () => {
  service = await startService(join(dir, 'data'), { workers: 2 });
});
afterAll(async () => {
  await service?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Expected {
  rows: number;
  accepted: number;
  quarantined: number;
  duplicates: number;
}

function expectedFrom(labelsPath: string): Expected {
  const e: Expected = { rows: 0, accepted: 0, quarantined: 0, duplicates: 0 };
  for (const line of readFileSync(labelsPath, 'utf8').trimEnd().split('\n')) {
    const l = JSON.parse(line) as { status: string; reasons: string[] };
    e.rows++;
    if (l.status === 'valid') e.accepted++;
    else if (l.reasons.includes('DUPLICATE_TX')) e.duplicates++;
    else e.quarantined++;
  }
  return e;
}

function summaryOf(stdout: string): IngestSummary {
  const lines = stdout.trimEnd().split('\n');
  expect(lines.length).toBe(1);
  return JSON.parse(lines[0] as string) as IngestSummary;
}

/** Accepted rows over all days of the gold data-quality report: what the service has stored. */
async function storedAccepted(): Promise<number> {
  const res = await get(`${service.url}/v1/reports/data-quality`);
  expect(res.status).toBe(200);
  const body = res.json as unknown;
  const rows = (Array.isArray(body) ? body : ((body as { rows?: unknown[] }).rows ?? [])) as {
    accepted: number;
  }[];
  return rows.reduce((a, r) => a + r.accepted, 0);
}

async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('sluice ingest', () => {
  let storedSoFar = 0;
  const cases = [
    // CSV one request at a time; Arrow resliced to 3,000 rows, four in flight
    { format: 'csv', seed: 21, flags: ['--concurrency', '1'] },
    { format: 'arrow', seed: 22, flags: ['--batch-rows', '3000', '--concurrency', '4'] },
  ] as const;

  for (const c of cases) {
    it(`stores a generated ${c.format} file as its labels say, and a re-run counts nothing twice`, async () => {
      const file = join(dir, `in.${c.format}`);
      const g = await sluice([
        'generate',
        '--rows',
        String(ROWS),
        '--seed',
        String(c.seed),
        '--format',
        c.format,
        '--bad-share',
        '0.05',
        '--out',
        file,
      ]);
      expect(g.code, g.stderr).toBe(0);
      const want = expectedFrom(`${file}.labels.ndjson`);
      expect(want.rows).toBe(ROWS);

      const args = ['ingest', file, '--url', service.url, '--key', service.key, ...c.flags];
      const first = await sluice(args);
      expect(first.code, first.stderr).toBe(0);
      const s1 = summaryOf(first.stdout);
      expect(s1.failed_batches).toBe(0);
      expect(s1.aborted).toBeNull();
      expect(s1.rows).toBe(ROWS);
      expect(s1.received).toBe(ROWS);
      expect({ accepted: s1.accepted, quarantined: s1.quarantined, duplicates: s1.duplicates }).toEqual({
        accepted: want.accepted,
        quarantined: want.quarantined,
        duplicates: want.duplicates,
      });
      expect(s1.accepted + s1.quarantined + s1.duplicates).toBe(ROWS);
      expect(s1.created).toBe(s1.batches);
      expect(s1.repeated).toBe(0);
      storedSoFar += want.accepted;
      expect(await storedAccepted()).toBe(storedSoFar);

      // the same ingest again: every batch is an idempotent repeat with the first reply
      const again = await sluice(args);
      expect(again.code, again.stderr).toBe(0);
      const s2 = summaryOf(again.stdout);
      expect(s2.batches).toBe(s1.batches);
      expect(s2.repeated).toBe(s1.batches);
      expect(s2.created).toBe(0);
      for (const k of ['received', 'accepted', 'quarantined', 'duplicates', 'alerts'] as const) {
        expect(s2[k], k).toBe(s1[k]);
      }
      expect(s2.reasons).toEqual(s1.reasons);
      // and the service stored nothing new
      expect(await storedAccepted()).toBe(storedSoFar);
    });
  }

  it('exits 1 after bounded retries, quickly, when nothing listens', async () => {
    const file = join(dir, 'dead.csv');
    const g = await sluice(['generate', '--rows', '100', '--seed', '3', '--out', file]);
    expect(g.code, g.stderr).toBe(0);
    const port = await deadPort();
    const t0 = Date.now();
    const r = await sluice(['ingest', file, '--url', `http://127.0.0.1:${port}`, '--retries', '3'], {
      env: { SLUICE_INGEST_BACKOFF_MS: '20' },
    });
    const ms = Date.now() - t0;
    expect(r.code, r.stderr).toBe(1);
    const s = summaryOf(r.stdout);
    expect(s.failed_batches).toBe(1);
    expect(s.failed[0]?.code).toBe('ECONNREFUSED');
    expect(s.failed[0]?.attempts).toBe(3);
    expect(s.retries).toBe(2);
    expect(s.aborted).not.toBeNull();
    expect(ms).toBeLessThan(10_000);
  });

  it('sends the key from SLUICE_API_KEY, and stops at the first 401 without retrying', async () => {
    const file = join(dir, 'keyed.csv');
    const g = await sluice(['generate', '--rows', '100', '--seed', '4', '--out', file]);
    expect(g.code, g.stderr).toBe(0);
    const args = ['ingest', file, '--url', service.url, '--quiet'];
    const ok = await sluice(args, { env: { SLUICE_API_KEY: service.key } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(summaryOf(ok.stdout).received).toBe(100);

    const none = await sluice(args, { env: { SLUICE_API_KEY: '' } });
    expect(none.code).toBe(1);
    const s = summaryOf(none.stdout);
    expect(s.failed[0]).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', attempts: 1 });
    expect(s.aborted).not.toBeNull();
  });

  it('exits 2 on bad usage', async () => {
    expect((await sluice(['ingest'])).code).toBe(2);
    expect((await sluice(['ingest', 'x.csv', '--concurrency', '0'])).code).toBe(2);
    expect((await sluice(['ingest', 'x.unknown'])).code).toBe(2);
    expect((await sluice(['ingest', 'x.csv', '--url', 'ftp://h'])).code).toBe(2);
  });
});
