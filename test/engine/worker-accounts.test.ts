import { afterAll, describe, expect, it } from 'vitest';
import { createWork, type WorkResult } from '../../engine/worker.ts';
import { jsonIngest, validRow as row } from '../support/rows.ts';
import { tempDir } from '../support/service.ts';

const dir = tempDir();
afterAll(() => dir.remove());

describe('per-account gold inputs of a pool worker', () => {
  it('names each account by its text, ASCII or not, once per day', () => {
    const work = createWork({ dataDir: dir.path });
    // A fixed event time: a day read from the clock could turn over between the rows and the check.
    const ts = '2026-11-26T12:00:00.000Z';
    const rows = [row('T1', 'ACC-1'), row('T2', 'Zoë-1'), row('T3', 'ACC-1'), row('T4', 'Zoë-1')];
    const res = work(
      jsonIngest(
        rows.map((r) => ({ ...r, ts })),
        'b1',
        Date.parse('2026-11-26T12:01:00Z'),
      ),
    ) as WorkResult;
    expect(res.ok).toBe(true);
    // The UTF-8 text, not its bytes read as latin1 ("ZoÃ«-1").
    expect(res.accounts).toEqual(['2026-11-26|ACC-1', '2026-11-26|Zoë-1']);
    expect([...res.rowAccount]).toEqual([0, 1, 0, 1]);
  });

  it('keeps an account apart per day when its rows alternate between days in one batch', () => {
    const work = createWork({ dataDir: dir.path });
    const at = (iso: string) => ({ ts: iso });
    const d1 = '2026-11-25T23:59:00.000Z';
    const d2 = '2026-11-26T00:01:00.000Z';
    const rows = [
      { ...row('D1', 'ACC-9'), ...at(d1) },
      { ...row('D2', 'ACC-9'), ...at(d2) },
      { ...row('D3', 'ACC-9'), ...at(d1) },
      { ...row('D4', 'ACC-8'), ...at(d2) },
      { ...row('D5', 'ACC-9'), ...at(d2) },
    ];
    const res = work(jsonIngest(rows, 'b2', Date.parse('2026-11-26T00:05:00Z'))) as WorkResult;
    expect(res.ok).toBe(true);
    expect(res.accounts).toEqual(['2026-11-25|ACC-9', '2026-11-26|ACC-9', '2026-11-26|ACC-8']);
    expect([...res.rowAccount]).toEqual([0, 1, 0, 2, 1]);
  });
});
