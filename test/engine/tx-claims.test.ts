import { join } from 'node:path';
import { open } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';
import { commitDurably } from '../../engine/commit.ts';
import { DEFAULT_BATCH_ROWS } from '../../engine/formats/text-batch-builder.ts';
import { ROW_BITS, Store } from '../../engine/store.ts';
import { createWork, type WorkResult } from '../../engine/worker.ts';
import { jsonIngest, validRow as row } from '../support/rows.ts';
import { tempDir } from '../support/service.ts';

const dir = tempDir();
const store = new Store({ dataDir: dir.path });
const work = createWork({ dataDir: dir.path });
afterAll(async () => {
  await store.close();
  dir.remove();
});

async function ingest(batchId: string, ids: string[]) {
  const res = work(
    jsonIngest(
      ids.map((id) => row(id)),
      batchId,
    ),
  ) as WorkResult;
  expect(res.ok).toBe(true);
  return commitDurably(
    store,
    { batchId, receivedAt: Date.now(), format: 'json', contentType: 'application/json' },
    res,
  );
}

describe('tx-id claims', () => {
  it('claims ids above the last one by appending, and still finds duplicates of the last and earlier ids', async () => {
    const a = await ingest('a', ['T05', 'T06', 'T07']);
    expect(a.reply).toMatchObject({ accepted: 3, duplicates: 0 });
    // T07 is the last key (an append of it must fail), T06 sits inside the tree, T03 goes below it, T075 below the T08 appended just before it.
    const b = await ingest('b', ['T03', 'T07', 'T08', 'T06', 'T075', 'T09']);
    expect(b.reply).toMatchObject({ received: 6, accepted: 4, duplicates: 2 });
    const seqB = b.seq as number;
    expect(store.txids.get('T03')).toBe(seqB * ROW_BITS + 0);
    expect(store.txids.get('T07')).toBe((a.seq as number) * ROW_BITS + 2); // the first sighting stays
    expect(store.txids.get('T08')).toBe(seqB * ROW_BITS + 2);
    expect(store.txids.get('T075')).toBe(seqB * ROW_BITS + 4);
    expect(store.txids.get('T09')).toBe(seqB * ROW_BITS + 5);
  });

  it('claims ids that arrive in descending order, and refuses every one of them the second time', async () => {
    const first = await ingest('c', ['T20', 'T19', 'T18', 'T10']);
    expect(first.reply).toMatchObject({ accepted: 4, duplicates: 0 });
    const again = await ingest('d', ['T10', 'T18', 'T19', 'T20', 'T21']);
    expect(again.reply).toMatchObject({ accepted: 1, duplicates: 4 });
    expect([...store.txids.getKeys()]).toEqual([
      'T03',
      'T05',
      'T06',
      'T07',
      'T075',
      'T08',
      'T09',
      'T10',
      'T18',
      'T19',
      'T20',
      'T21',
    ]);
  });

  it('refuses a repeat within one request at commit, the first sighting claiming, across record batches too', async () => {
    // One more row than a record batch holds: the last row repeats the first batch's first id.
    const ids = Array.from({ length: DEFAULT_BATCH_ROWS }, (_, i) => `R${String(i).padStart(5, '0')}`);
    ids.push('R00000');
    ids.splice(3, 0, 'R00001'); // and one repeat inside the first record batch
    const out = await ingest('repeats', ids);
    expect(out.reply).toMatchObject({ received: ids.length, accepted: ids.length - 2, duplicates: 2 });
    const seq = out.seq as number;
    expect(store.txids.get('R00000')).toBe(seq * ROW_BITS + 0);
    expect(store.txids.get('R00001')).toBe(seq * ROW_BITS + 1);
    // The repeats' silver rows are dropped at commit, so nothing downstream counts them.
    const staged = store.staging.get(seq);
    const drop = Object.values(staged?.drop ?? {}).flat();
    expect(drop).toHaveLength(2);
  });

  it('looks up an id no row could claim (non-ASCII, as a lineage query may ask) as absent', () => {
    // 'T03' is claimed above; these share its ASCII bytes up to a character past one byte.
    expect(store.txids.get('T03\u00e9')).toBeUndefined();
    // 'ĳ' (U+0133): a write of each character's low byte would make this 'T03' and find its claim.
    expect(store.txids.get('T0\u0133')).toBeUndefined();
    expect(store.txids.get('T03')).toBeDefined();
  });

  it('reads an index written with lmdb-js default string keys (before session 16) as it was, claims and refusals alike', async () => {
    const old = tempDir();
    try {
      // The index as earlier versions wrote it: the same database, with lmdb-js's default keys.
      const env = open({ path: join(old.path, 'lmdb'), compression: false, maxDbs: 32 });
      const db = env.openDB<number, string>({ name: 'txids' });
      await env.transaction(() => {
        for (const [k, id] of ['A-1', 'A-10', 'A-2', 'B.x:9', 'a_z'].entries()) db.put(id, k);
      });
      await env.close();
      const s = new Store({ dataDir: old.path });
      const w = createWork({ dataDir: old.path });
      try {
        expect(s.txids.get('A-10')).toBe(1);
        expect([...s.txids.getKeys()]).toEqual(['A-1', 'A-10', 'A-2', 'B.x:9', 'a_z']);
        const res = w(
          jsonIngest(
            ['A-2', 'A-11', 'a_z', 'b-1', 'A-10'].map((id) => row(id)),
            'old',
          ),
        ) as WorkResult;
        const out = await commitDurably(
          s,
          { batchId: 'old', receivedAt: Date.now(), format: 'json', contentType: 'application/json' },
          res,
        );
        expect(out.reply).toMatchObject({ received: 5, accepted: 2, duplicates: 3 });
        expect([...s.txids.getKeys()]).toEqual(['A-1', 'A-10', 'A-11', 'A-2', 'B.x:9', 'a_z', 'b-1']);
        expect(s.txids.get('a_z')).toBe(4); // the first sighting stays
      } finally {
        await s.close();
      }
    } finally {
      old.remove();
    }
  });
});
