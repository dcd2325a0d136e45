/**
 * A real Prometheus server (Debian's `prometheus`, installed by .ci/run) scrapes a real Sluice on
 * loopback; after an ingest, its HTTP API shows the row counters of the ingest and latency
 * samples. Skipped, loudly, where the binary is absent.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../api/service.ts';
import { freePort, get, post, service, tempDir } from '../support/service.ts';

function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const HAVE = which('prometheus');
if (!HAVE) console.warn('prometheus is not installed: the scrape test is skipped (.ci/run installs it)');

describe.skipIf(!HAVE)('Prometheus scraping Sluice', () => {
  const dir = tempDir('sluice-prom-');
  let svc: RunningService | undefined;
  let prom: ChildProcess | undefined;
  afterAll(async () => {
    prom?.kill('SIGKILL');
    await svc?.close();
    dir.remove();
  });

  it('sees the ingest in the row counters and samples in the latency histogram', async () => {
    svc = await service(join(dir.path, 'data'), { workers: 1 });
    const target = new URL(svc.url).host;
    const promPort = await freePort();
    writeFileSync(
      join(dir.path, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sluice\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    prom = spawn(
      'prometheus',
      [
        `--config.file=${join(dir.path, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir.path, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: 'ignore' },
    );
    const now = Date.now() - 60_000;
    const rows = Array.from({ length: 500 }, (_, i) => ({
      tx_id: `PROM-${i}`,
      ts: now + i,
      amount: '12.34',
      currency: 'GBP',
      direction: 'debit',
      channel: 'CARD',
      account_id: `P-${i % 50}`,
    }));
    rows.push({ ...(rows[0] as (typeof rows)[number]), tx_id: 'PROM-bad', currency: 'XXQ' });
    const r = await post(`${svc.url}/v1/batches`, JSON.stringify(rows), 'application/json');
    expect(r.status).toBe(201);

    const api = `http://127.0.0.1:${promPort}/api/v1/query?query=`;
    const query = async (q: string): Promise<number | null> => {
      try {
        const res = await get(`${api}${encodeURIComponent(q)}`);
        const v = res.json?.data?.result?.[0]?.value?.[1];
        return v === undefined ? null : Number(v);
      } catch {
        return null; // not up yet
      }
    };
    let accepted: number | null = null;
    const until = Date.now() + 30_000;
    while (Date.now() < until && accepted !== 500) {
      await new Promise((res) => setTimeout(res, 250));
      accepted = await query('sum(sluice_rows_total{outcome="accepted"})');
    }
    expect(accepted).toBe(500);
    expect(await query('sum(sluice_rows_total{outcome="quarantined"})')).toBe(1);
    expect(await query('sum(sluice_quarantined_reasons_total{reason="CURRENCY_UNKNOWN"})')).toBe(1);
    expect(
      await query('sum(sluice_http_request_duration_seconds_count{route="/v1/batches",status="201"})'),
    ).toBe(1);
    expect(await query('sum(sluice_stage_duration_seconds_count{stage="score"})')).toBeGreaterThan(0);
  }, 60_000);
});
