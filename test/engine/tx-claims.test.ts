import { join } from 'node:path';
import { open } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';
import { commitDurably } from '../../engine/commit.ts';
import { DEFAULT_BATCH_ROWS } from '../../engine/formats/text-batch-builder.ts';
import { ROW_BITS, Store } from '../../engine/store.ts';
import { claimedIds, claimOf, claimsOf, MIN_RUN, releaseClaim } from '../../engine/tx-claims.ts';
import { createWork, type WorkResult } from '../../engine/worker.ts';
import { jsonIngest, validRow as row } from '../support/rows.ts';
import { tempDir } from '../support/service.ts';

/** A store and a worker in a fresh data dir, closed and removed after the suite or block. */
function freshStore() {
  const dir = tempDir();
  const store = new Store({ dataDir: dir.path });
  const work = createWork({ dataDir: dir.path });
  afterAll(async () => {
    await store.close();
    dir.remove();
  });
  return { store, work };
}

const { store, work } = freshStore();

/** Ingests rows with these ids (one row each, in order) into `into`, through the worker and the commit. */
async function ingestInto(into: Store, w: typeof work, batchId: string, ids: string[]) {
  const res = w(
    jsonIngest(
      ids.map((id) => row(id)),
      batchId,
    ),
  ) as WorkResult;
  expect(res.ok).toBe(true);
  return commitDurably(
    into,
    { batchId, receivedAt: Date.now(), format: 'json', contentType: 'application/json' },
    res,
  );
}
const ingest = (batchId: string, ids: string[]) => ingestInto(store, work, batchId, ids);

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
    expect(claimOf(store, 'R00000')).toBe(seq * ROW_BITS + 0);
    expect(claimOf(store, 'R00001')).toBe(seq * ROW_BITS + 1);
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

describe('tx-id claims of consecutive ids, as runs', () => {
  const { store: s, work: w } = freshStore();
  const seqId = (prefix: string, n: number, width: number) => `${prefix}${String(n).padStart(width, '0')}`;
  const span = (prefix: string, from: number, count: number, width = 6) =>
    Array.from({ length: count }, (_, i) => seqId(prefix, from + i, width));
  const put = (batchId: string, ids: string[]) => ingestInto(s, w, batchId, ids);
  const ranges = () => [...s.txranges.getKeys()].length;

  it('claims a run of consecutive ids as one range, each id pointing at its own row', async () => {
    const ids = span('J-', 100, 40);
    const out = await put('r1', ids);
    expect(out.reply).toMatchObject({ accepted: 40, duplicates: 0 });
    expect(ranges()).toBe(1);
    expect(s.txids.get('J-000100')).toBeUndefined(); // no key of its own
    const seq = out.seq as number;
    for (const [i, id] of ids.entries()) expect(claimOf(s, id)).toBe(seq * ROW_BITS + i);
    expect(claimOf(s, 'J-000099')).toBeUndefined();
    expect(claimOf(s, 'J-000140')).toBeUndefined();
    // The same number under another width or prefix is another id.
    expect(claimOf(s, 'J-00100')).toBeUndefined();
    expect(claimOf(s, 'J-0000100')).toBeUndefined();
    expect(claimOf(s, 'K-000100')).toBeUndefined();
    expect(new Map(claimedIds(s))).toEqual(new Map(ids.map((id, i) => [id, seq * ROW_BITS + i])));
  });

  it('keeps runs shorter than the minimum as keys of their own', async () => {
    const out = await put('short', span('S-', 1, MIN_RUN - 1));
    expect(out.reply).toMatchObject({ accepted: MIN_RUN - 1 });
    expect(ranges()).toBe(1);
    expect(s.txids.get('S-000001')).toBe((out.seq as number) * ROW_BITS);
  });

  it('refuses ids inside a range whether they come alone, in a run, or repeated within the request', async () => {
    // Alone (among ids of no run), as a run inside the range, and as a run over its end.
    const alone = await put('r2', ['X-1', 'J-000120', 'Y-1']);
    expect(alone.reply).toMatchObject({ accepted: 2, duplicates: 1 });
    const inside = await put('r3', span('J-', 110, 10));
    expect(inside.reply).toMatchObject({ accepted: 0, duplicates: 10 });
    const over = await put('r4', span('J-', 130, 20));
    expect(over.reply).toMatchObject({ accepted: 10, duplicates: 10 });
    // The ten new ids were claimed row by row, pointing at their rows.
    expect(claimOf(s, 'J-000140')).toBe((over.seq as number) * ROW_BITS + 10);
    expect(claimOf(s, 'J-000135')).toBe((s.batches.get('r1') as { seq: number }).seq * ROW_BITS + 35);
    // A run below the range reaching into it, and a repeat of a run's id in the same request.
    const under = await put('r5', [...span('J-', 90, 12), 'J-000095']);
    expect(under.reply).toMatchObject({ accepted: 10, duplicates: 3 });
    const again = await put('r6', [...span('L-', 0, 20), 'L-000007']);
    expect(again.reply).toMatchObject({ accepted: 20, duplicates: 1 });
    expect(claimOf(s, 'L-000007')).toBe((again.seq as number) * ROW_BITS + 7);
  });

  it('claims a run row by row when one of its ids already has a key, refusing only that one', async () => {
    const single = await put('r7', ['M-000005']);
    expect(single.reply).toMatchObject({ accepted: 1 });
    const run = await put('r8', span('M-', 0, 16));
    expect(run.reply).toMatchObject({ accepted: 15, duplicates: 1 });
    expect(claimOf(s, 'M-000005')).toBe((single.seq as number) * ROW_BITS);
    expect(claimOf(s, 'M-000006')).toBe((run.seq as number) * ROW_BITS + 6);
  });

  it('splits ids of more than fifteen digits so that a run still forms, and tells them apart', async () => {
    // Not consecutive (the last digit is fixed), then ten consecutive 17-digit ids.
    const fixed = Array.from({ length: 12 }, (_, i) => `9${345678901234500 + i}7`);
    const long = Array.from({ length: 10 }, (_, i) => `12${345678901234500 + i}`);
    const before = ranges();
    const out = await put('r9', [...fixed, ...long]);
    expect(out.reply).toMatchObject({ accepted: 22, duplicates: 0 });
    expect(ranges()).toBe(before + 1);
    expect(claimOf(s, '12345678901234505')).toBe((out.seq as number) * ROW_BITS + 17);
    // The same fifteen trailing digits after another prefix are another id.
    expect(claimOf(s, '2345678901234505')).toBeUndefined();
    const again = await put('r10', [fixed[3] as string, '12345678901234505', '2345678901234505']);
    expect(again.reply).toMatchObject({ accepted: 1, duplicates: 2 });
  });

  it('gives up one id of a range on release, leaving the rest claimed where they were', async () => {
    const seq = (s.batches.get('r1') as { seq: number }).seq;
    // Not the holder: nothing changes.
    await s.env.transaction(() => expect(releaseClaim(s, 'J-000125', seq * ROW_BITS + 24)).toBe(false));
    await s.env.transaction(() => expect(releaseClaim(s, 'J-000125', seq * ROW_BITS + 25)).toBe(true));
    expect(claimOf(s, 'J-000125')).toBeUndefined();
    for (const n of [100, 124, 126, 129]) expect(claimOf(s, `J-000${n}`)).toBe(seq * ROW_BITS + n - 100);
    const back = await put('r11', ['J-000124', 'J-000125', 'J-000126']);
    expect(back.reply).toMatchObject({ accepted: 1, duplicates: 2 });
    expect(claimOf(s, 'J-000125')).toBe((back.seq as number) * ROW_BITS + 1);
    // The ends of a range go too.
    await s.env.transaction(() => releaseClaim(s, 'J-000100', seq * ROW_BITS));
    await s.env.transaction(() => releaseClaim(s, 'J-000129', seq * ROW_BITS + 29));
    expect(claimOf(s, 'J-000100')).toBeUndefined();
    expect(claimOf(s, 'J-000129')).toBeUndefined();
    expect(claimOf(s, 'J-000101')).toBe(seq * ROW_BITS + 1);
    expect(claimOf(s, 'J-000128')).toBe(seq * ROW_BITS + 28);
  });

  it('answers a list of lookups as one lookup per id would, across ranges, gaps and other prefixes', async () => {
    // Two more ranges with a gap between them, beside the J- ranges left split by the release.
    await put('r12', span('G-', 1000, 30));
    await put('r13', span('G-', 1050, 30));
    const ids: (string | null)[] = [
      ...span('G-', 990, 100), // below, in, between, in, above the two ranges
      null,
      ...span('J-', 80, 80), // keys of their own, split ranges, released ids
      'K-000001',
      'G-001010',
      'G-01010', // another width
      'G-001040', // in the gap, then back into the range below it
      'G-001020',
      ...span('G-', 1085, 5).reverse(),
      'no-digits',
    ];
    const many = claimsOf(s, ids);
    expect(many).toEqual(ids.map((id) => (id === null ? undefined : claimOf(s, id))));
    expect(many.filter((x) => x !== undefined).length).toBeGreaterThan(100);
  });

  it('lists every claimed id once, keys and ranges alike', () => {
    const all = [...claimedIds(s)];
    expect(new Set(all.map(([id]) => id)).size).toBe(all.length);
    for (const [id, at] of all) expect(claimOf(s, id)).toBe(at);
  });
});
