/**
 * Scheduled jobs: the gold reports job writes the day's CSVs from gold, by hand through
 * `sluice job run`; the runner retries a failing job with backoff and reports every run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Job, JobRunner } from '../../engine/jobs.ts';
import { Store } from '../../engine/store.ts';
import { sluice } from '../support/cli.ts';
import { post, service, tempDir } from '../support/service.ts';

describe('jobs', () => {
  const dir = tempDir('sluice-jobs-');
  afterAll(() => dir.remove());

  it('sluice job run gold-reports writes the day’s reports from gold', async () => {
    const svc = await service(dir.path, { workers: 1 });
    const ts = Date.now() - 60_000;
    const rows = [1, 2, 3].map((i) => ({
      tx_id: `JOB-${i}`,
      ts,
      amount: `${i}.00`,
      currency: 'GBP',
      direction: 'credit',
      channel: 'FPS',
      account_id: 'J-1',
    }));
    const reply = await post(`${svc.url}/v1/batches`, JSON.stringify(rows), 'application/json');
    expect(reply.status).toBe(201);
    await svc.close();
    // Data quality counts a batch on the day it was received, which near midnight is not the rows' day.
    const store = new Store({ dataDir: dir.path });
    const received = (store.batches.get(reply.json.batch_id) as { received_at: string }).received_at;
    await store.close();
    const r = await sluice(['job', 'run', 'gold-reports', '--data-dir', dir.path]);
    expect(r.code).toBe(0);
    const day = new Date(ts).toISOString().slice(0, 10);
    const receivedDay = received.slice(0, 10);
    const kpis = readFileSync(join(dir.path, 'gold', 'reports', `date=${day}`, 'daily-kpis.csv'), 'utf8');
    expect(kpis).toBe(
      `day,currency,channel,direction,count,sum_minor,min_minor,max_minor\r\n${day},GBP,FPS,credit,3,600,100,300\r\n`,
    );
    const quality = readFileSync(
      join(dir.path, 'gold', 'reports', `date=${receivedDay}`, 'data-quality.csv'),
      'utf8',
    );
    expect(quality.split('\r\n')[1]).toBe(`${receivedDay},1,3,3,0,0`);
    expect(JSON.parse(r.stdout).written).toContain(`gold/reports/date=${day}/alerts.csv`);
    expect((await sluice(['job', 'run', 'no-such-job', '--data-dir', dir.path])).code).toBe(2);
  }, 60_000);

  it('retries a failing job with backoff and reports each run', async () => {
    let calls = 0;
    const flaky: Job = {
      name: 'flaky',
      summary: 'fails twice, then works',
      everyMs: 60_000,
      async run() {
        calls++;
        if (calls <= 2) throw new Error(`failure ${calls}`);
        return { calls };
      },
    };
    const runs: string[] = [];
    const at: number[] = [];
    const store = new Store({ dataDir: join(dir.path, 'runner') });
    const runner = new JobRunner({ store, now: Date.now }, [flaky], {
      onRun: (job, outcome) => {
        runs.push(`${job}:${outcome}`);
        at.push(Date.now());
      },
    });
    runner.start(true);
    const until = Date.now() + 8000;
    while (runs.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    await runner.stop();
    await store.close();
    expect(runs).toEqual(['flaky:failed', 'flaky:failed', 'flaky:ok']);
    // Backoff: the retries come 1 s and then 2 s after the failures, not at once.
    expect((at[1] as number) - (at[0] as number)).toBeGreaterThanOrEqual(900);
    expect((at[2] as number) - (at[1] as number)).toBeGreaterThanOrEqual(1900);
  }, 15_000);
});
