import { afterAll, describe, expect, it } from 'vitest';
import { createWork, type WorkResult } from '../../engine/worker.ts';
import { validRow as row } from '../support/rows.ts';
import { tempDir } from '../support/service.ts';

const dir = tempDir();
afterAll(() => dir.remove());

describe('per-account gold inputs of a pool worker', () => {
  it('names each account by its text, ASCII or not, once per day', () => {
    const work = createWork({ dataDir: dir.path });
    const body = Buffer.from(
      JSON.stringify([row('T1', 'ACC-1'), row('T2', 'Zoë-1'), row('T3', 'ACC-1'), row('T4', 'Zoë-1')]),
    );
    const res = work({
      kind: 'ingest',
      body: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength),
      format: 'json',
      batchId: 'b1',
      receivedAt: Date.now(),
    }) as WorkResult;
    expect(res.ok).toBe(true);
    const day = new Date(Date.now() - 60_000).toISOString().slice(0, 10);
    // The UTF-8 text, not its bytes read as latin1 ("ZoÃ«-1").
    expect(res.accounts).toEqual([`${day}|ACC-1`, `${day}|Zoë-1`]);
    expect([...res.rowAccount]).toEqual([0, 1, 0, 1]);
  });
});
