/** Admission control: beyond the in-flight limit Sluice sheds with 429 and Retry-After, never a crash. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../api/service.ts';
import { FORMATS } from '../../engine/formats/index.ts';
import { TransactionGenerator } from '../../engine/generator.ts';
import { encodeRows } from '../../engine/generator-formats.ts';
import { Kernels } from '../../engine/kernels.ts';
import { loadReferenceData } from '../../engine/reference-data.ts';
import { get, post, service, tempDir } from '../support/service.ts';

const dir = tempDir();
let svc: RunningService;
beforeAll(async () => {
  svc = await service(dir.path, { maxInflight: 1 });
});
afterAll(async () => {
  await svc?.close();
  dir.remove();
});

describe('overload', () => {
  it('answers 429 with Retry-After beyond the in-flight limit, and every admitted batch completes', async () => {
    const reference = loadReferenceData();
    const bodies = Array.from({ length: 8 }, (_, k) => {
      const gen = new TransactionGenerator(new Kernels(reference), reference, {
        rows: 4000,
        seed: 500 + k,
        format: 'arrow',
      });
      const rows = [];
      for (let g = gen.next(); g; g = gen.next()) rows.push(g.row);
      return encodeRows(rows, 'arrow');
    });
    const replies = await Promise.all(bodies.map((b) => post(`${svc.url}/v1/batches`, b, FORMATS.arrow)));
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    const shed = replies.filter((r) => r.status === 429);
    expect(shed.length).toBeGreaterThanOrEqual(1);
    for (const r of shed) {
      expect(r.headers['retry-after']).toBe('1');
      expect(r.json.error.code).toBe('OVERLOADED');
    }
    expect(statuses.every((s) => s === 201 || s === 429)).toBe(true);
    // what was admitted is all in gold; what was shed left nothing behind
    const admitted = replies.filter((r) => r.status === 201).reduce((a, r) => a + r.json.accepted, 0);
    const kpis = await get(`${svc.url}/v1/reports/daily-kpis`);
    expect((kpis.json.rows as { count: number }[]).reduce((a, r) => a + r.count, 0)).toBe(admitted);
    expect((await get(`${svc.url}/healthz`)).status).toBe(200);
  });
});
