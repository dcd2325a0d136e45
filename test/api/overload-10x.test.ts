/**
 * bench/overload.ts scaled down (~15 s): measure what `sluice serve` sustains, flood it at ten
 * times that, then go back to normal load. Asserted are the qualitative guarantees only, never a
 * timing (the machine is shared): every shed reply is 429/503 with Retry-After and a registered
 * code, nothing else fails, the service's memory stays under its configured bound, every batch it
 * acknowledged is in gold, and throughput comes back after the flood.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  arrowTemplates,
  closedLoop,
  MiB,
  memorySampler,
  type Outcome,
  pool,
  postBatch,
  type Sluice,
  sleep,
  stampedBody,
  startSluice,
  type Template,
  VirtualClock,
  workDir,
} from '../../bench/load.ts';

const BOUND_MIB = 1536;
const ROWS = 2048;
const CONCURRENCY = 4;

const dir = workDir('sluice-overload-10x-');
let s: Sluice;
let templates: Template[];
let clock: VirtualClock;

beforeAll(async () => {
  templates = await arrowTemplates(dir.path, ROWS, 8);
  clock = new VirtualClock(30_000);
  s = await startSluice(dir.path, ['--workers', '1', '--max-rss-mb', String(BOUND_MIB)]);
}, 60_000);
afterAll(async () => {
  await s?.close();
  dir.remove();
});

describe('ten times capacity', () => {
  it('sheds with Retry-After, stays under its memory bound, loses nothing acknowledged, and recovers', async () => {
    let acceptedRows = 0;
    const count = (o: Outcome, _rows: number) => {
      if (o.status === 201) acceptedRows += o.accepted ?? 0;
    };

    // capacity: a closed loop for 3 s (after 1 s of warm-up)
    let capRequests = 0;
    let capRows = 0;
    const warm = performance.now() + 1_000;
    const capEnd = warm + 3_000;
    await closedLoop(
      s,
      templates,
      clock,
      CONCURRENCY,
      () => performance.now() >= capEnd,
      (o, rows) => {
        count(o, rows);
        if (performance.now() < warm) return;
        expect(o.status).toBe(201);
        capRequests++;
        capRows += rows;
      },
    );
    const rate = capRequests / 3;
    const normalRowsPerS = capRows / 3;
    expect(rate).toBeGreaterThan(0);

    // the flood: an open loop at 10× for 6 s, whatever the replies
    const mem = memorySampler(s, 100);
    const p = pool(s.url, 256);
    const replies: Outcome[] = [];
    const pending: Promise<void>[] = [];
    const t0 = performance.now();
    let sent = 0;
    while (performance.now() - t0 < 6_000) {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate * 10);
      for (; sent < due; sent++) {
        const t = templates[sent % templates.length] as Template;
        pending.push(
          postBatch(p, s.key, stampedBody(t, clock)).then((o) => {
            replies.push(o);
            count(o, t.rows);
          }),
        );
      }
      await sleep(2);
    }
    await Promise.all(pending);
    await p.close();
    const peak = mem.stop();

    const shed = replies.filter((o) => o.status === 429 || o.status === 503);
    const admitted = replies.filter((o) => o.status === 201);
    expect(shed.length).toBeGreaterThan(replies.length / 2);
    expect(admitted.length).toBeGreaterThan(0);
    for (const o of shed) expect(o.retryAfter).toMatch(/^\d+$/);
    // nothing but admitted or shed: no 5xx, no resets, no timeouts
    expect(replies.filter((o) => o.status !== 201 && o.status !== 429 && o.status !== 503)).toEqual([]);
    expect(peak.anon / MiB).toBeLessThan(BOUND_MIB);

    // recovery: the closed loop again, until a 1-s window reaches 75 % of capacity (15 s at most)
    const windows: number[] = [];
    const r0 = performance.now();
    let recovered = false;
    await closedLoop(
      s,
      templates,
      clock,
      CONCURRENCY,
      () => recovered || performance.now() - r0 > 15_000,
      (o, rows) => {
        count(o, rows);
        const i = Math.floor((performance.now() - r0) / 1000);
        windows[i] = (windows[i] ?? 0) + (o.status === 201 ? rows : 0);
        if (i > 0 && (windows[i - 1] ?? 0) >= 0.75 * normalRowsPerS) recovered = true;
      },
    );
    expect(
      recovered,
      `1-s windows after the flood: ${windows.join(', ')} rows; capacity ${normalRowsPerS}/s`,
    ).toBe(true);

    // every acknowledged batch is in gold; what was shed left nothing behind
    const kpis = await fetch(`${s.url}/v1/reports/daily-kpis`, {
      headers: { authorization: `Bearer ${s.key}` },
    });
    const rows = ((await kpis.json()) as { rows: { count: number }[] }).rows;
    expect(acceptedRows).toBeGreaterThan(0);
    expect(rows.reduce((a, r) => a + r.count, 0)).toBe(acceptedRows);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  }, 60_000);
});
