/**
 * The audit chain and its verification, on a store of its own: a fresh log verifies; each kind of
 * tampering fails at the first bad entry with a stable reason, through the function and
 * `sluice audit verify` (exit 1); a checkpoint catches a tail cut back with the head rewritten.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILE, writeCheckpoint } from '../../engine/audit/checkpoint.ts';
import {
  type AuditEntry,
  appendAudit,
  auditHead,
  entryHash,
  GENESIS,
  HEAD_KEY,
} from '../../engine/audit/log.ts';
import { queryAudit } from '../../engine/audit/query.ts';
import { type AuditFault, verifyAudit } from '../../engine/audit/verify.ts';
import { Store } from '../../engine/store.ts';
import { sluice } from '../support/cli.ts';
import { tempDir } from '../support/service.ts';

const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});

/** A store whose log holds `n` entries, one a minute from `t0`, and no checkpoint. */
async function logOf(n: number, t0 = Date.parse('2026-03-01T00:00:00Z')): Promise<Store> {
  const dir = tempDir('sluice-audit-');
  dirs.push(dir);
  const store = new Store({ dataDir: dir.path });
  store.env.transactionSync(() => {
    for (let i = 1; i <= n; i++)
      appendAudit(
        store,
        {
          actor: i % 2 ? 'k1' : 'system',
          action: i % 3 ? 'batch.ingest' : 'rules.reload',
          target: `t${i}`,
          outcome: 'ok',
          details: { received: i, nested: { b: [1, 2], a: 'x' } },
        },
        t0 + i * 60_000,
      );
  });
  return store;
}

const entry = (store: Store, seq: number) => ({ ...(store.audit.get(seq) as AuditEntry) });

/** The function and the CLI both name the same first bad entry; the CLI exits 1. */
async function expectBroken(store: Store, seq: number, reason: AuditFault, cli = true): Promise<void> {
  const r = await verifyAudit(store, { chunk: 3 });
  expect(r.ok).toBe(false);
  expect(r.firstBad).toEqual({ seq, reason });
  if (!cli) return;
  const c = await sluice(['audit', 'verify', '--data-dir', store.dataDir]);
  expect(c.code).toBe(1);
  expect(JSON.parse(c.stdout).firstBad).toEqual({ seq, reason });
  expect(c.stderr).toContain(`entry ${seq}: ${reason}`);
}

describe('audit chain', () => {
  let store: Store;
  beforeEach(async () => {
    store = await logOf(10);
    return () => store.close();
  });

  it('a fresh log and a written log verify, through the function and the CLI', async () => {
    const empty = await logOf(0);
    expect(await verifyAudit(empty)).toEqual({ ok: true, entries: 0, head: { seq: 0, hash: GENESIS } });
    await empty.close();
    const r = await verifyAudit(store, { chunk: 3 }); // chunk edges at 3, 6, 9
    expect(r).toEqual({ ok: true, entries: 10, head: auditHead(store) });
    expect(r.head.seq).toBe(10);
    const c = await sluice(['audit', 'verify', '--data-dir', store.dataDir]);
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ ok: true, entries: 10 });
  }, 30_000);

  it('each entry links to the one before and hashes its canonical form', () => {
    const e1 = entry(store, 1);
    const e2 = entry(store, 2);
    expect(e1.prev).toBe(GENESIS);
    expect(e2.prev).toBe(e1.hash);
    const { hash, ...rest } = e2;
    expect(entryHash(rest)).toBe(hash);
    // Key order does not matter; values do.
    expect(entryHash({ ...rest, details: { nested: { a: 'x', b: [1, 2] }, received: 2 } })).toBe(hash);
    expect(entryHash({ ...rest, details: { nested: { a: 'x', b: [2, 1] }, received: 2 } })).not.toBe(hash);
  });

  it('changing any field of one entry fails verify at that entry', async () => {
    const changes: [keyof AuditEntry, unknown, AuditFault][] = [
      ['actor', 'k2', 'hash_mismatch'],
      ['action', 'subject.erase', 'hash_mismatch'],
      ['target', 't99', 'hash_mismatch'],
      ['outcome', 'failed', 'hash_mismatch'],
      ['at', '2026-03-01T00:04:00.001Z', 'hash_mismatch'],
      ['details', { received: 5, nested: { b: [1, 2], a: 'y' } }, 'hash_mismatch'],
      ['hash', 'f'.repeat(64), 'hash_mismatch'],
      ['prev', 'e'.repeat(64), 'prev_mismatch'],
      ['seq', 6, 'seq_gap'],
    ];
    const original = entry(store, 5);
    for (const [field, value, reason] of changes) {
      store.env.transactionSync(() => {
        store.audit.put(5, { ...original, [field]: value });
      });
      await expectBroken(store, 5, reason, field === 'actor');
      store.env.transactionSync(() => {
        store.audit.put(5, original);
      });
      expect((await verifyAudit(store)).ok).toBe(true);
    }
  }, 30_000);

  it('an entry changed and rehashed breaks the link from the next one', async () => {
    const e = entry(store, 4);
    const forged = { ...e, outcome: 'denied' as const };
    const { hash: _, ...rest } = forged;
    store.env.transactionSync(() => {
      store.audit.put(4, { ...forged, hash: entryHash(rest) });
    });
    await expectBroken(store, 5, 'prev_mismatch', false);
  });

  it('deleting one entry fails at its seq', async () => {
    store.env.transactionSync(() => {
      store.audit.remove(7);
    });
    await expectBroken(store, 7, 'seq_gap');
  }, 30_000);

  it('swapping two entries fails at the first of them', async () => {
    const a = entry(store, 3);
    const b = entry(store, 4);
    store.env.transactionSync(() => {
      store.audit.put(3, b);
      store.audit.put(4, a);
    });
    await expectBroken(store, 3, 'seq_gap');
  }, 30_000);

  it('a tail cut off, or entries added behind the head, fail the head check', async () => {
    store.env.transactionSync(() => {
      store.audit.remove(10);
      store.audit.remove(9);
    });
    await expectBroken(store, 9, 'head_mismatch', false);
    const s2 = await logOf(4);
    const head = s2.meta.get(HEAD_KEY);
    s2.env.transactionSync(() =>
      appendAudit(s2, { actor: 'x', action: 'pii.read', target: 't', outcome: 'ok' }),
    );
    s2.env.transactionSync(() => {
      s2.meta.put(HEAD_KEY, head);
    });
    await expectBroken(s2, 5, 'head_mismatch', false);
    await s2.close();
  });

  it('a tail cut back past a checkpoint, head rewritten to match, fails the checkpoint check', async () => {
    // The scheduled job, run by hand.
    const run = await sluice(['job', 'run', 'audit-checkpoint', '--data-dir', store.dataDir]);
    expect(run.code).toBe(0);
    const cp = JSON.parse(run.stdout);
    expect(cp).toMatchObject({ job: 'audit-checkpoint', seq: 11, written: true });
    const file = JSON.parse(readFileSync(join(store.dataDir, CHECKPOINT_FILE), 'utf8'));
    expect(file).toEqual({ seq: 11, hash: cp.hash, at: entry(store, 11).at });
    expect(entry(store, 11)).toMatchObject({
      action: 'audit.checkpoint',
      actor: 'system',
      target: CHECKPOINT_FILE,
      hash: cp.hash,
    });
    // Nothing appended since: the next run leaves the log and the file alone.
    expect(await writeCheckpoint(store)).toMatchObject({ seq: 11, written: false });
    expect(auditHead(store).seq).toBe(11);
    const ok = await verifyAudit(store);
    expect(ok).toMatchObject({ ok: true, entries: 11, checkpoint: file });

    // Cut back to entry 8 and make the head say so: the chain alone is consistent again.
    const e8 = entry(store, 8);
    store.env.transactionSync(() => {
      for (const s of [9, 10, 11]) store.audit.remove(s);
      store.meta.put(HEAD_KEY, { seq: 8, hash: e8.hash });
    });
    await expectBroken(store, 11, 'checkpoint_mismatch');
    // Rewriting history before the checkpoint, consistently, is caught the same way.
    store.env.transactionSync(() => {
      for (const s of [9, 10, 11]) {
        const prev = entry(store, s - 1);
        const base = {
          seq: s,
          at: prev.at,
          prev: prev.hash,
          actor: 'm',
          action: 'pii.read' as const,
          target: 'x',
          outcome: 'ok' as const,
        };
        const e = { ...base, hash: entryHash(base) };
        store.audit.put(s, e);
        store.meta.put(HEAD_KEY, { seq: s, hash: e.hash });
      }
    });
    await expectBroken(store, 11, 'checkpoint_mismatch', false);
    // A shipped copy given on the command line is checked instead.
    const shipped = join(store.dataDir, 'shipped.json');
    writeFileSync(shipped, JSON.stringify({ ...file, seq: 3, hash: entry(store, 3).hash }));
    const c = await sluice(['audit', 'verify', '--data-dir', store.dataDir, '--checkpoint', shipped]);
    expect(c.code).toBe(0);
    writeFileSync(join(store.dataDir, CHECKPOINT_FILE), 'not json');
    await expectBroken(store, 0, 'checkpoint_mismatch', false);
  }, 30_000);

  it('the CLI: bad usage exits 2, a data dir without a store exits 1', async () => {
    expect((await sluice(['audit'])).code).toBe(2);
    expect((await sluice(['audit', 'verify', '--nope'])).code).toBe(2);
    const d = tempDir('sluice-audit-none-');
    dirs.push(d);
    const r = await sluice(['audit', 'verify', '--data-dir', d.path]);
    expect(r.code).toBe(1);
    expect(existsSync(join(d.path, 'lmdb'))).toBe(false);
  }, 30_000);
});

describe('reading the log', () => {
  it('filters by time, action, actor and target, and pages by seq', async () => {
    const store = await logOf(30);
    const all = queryAudit(store, { limit: 1000 });
    expect(all.entries.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(all.next).toBeNull();
    // Minute i holds entry i: [00:05, 00:08) is entries 5, 6, 7.
    const window = queryAudit(store, { from: '2026-03-01T00:05:00Z', to: '2026-03-01T00:08:00Z' });
    expect(window.entries.map((e) => e.seq)).toEqual([5, 6, 7]);
    const reloads = queryAudit(store, { action: 'rules.reload', actor: 'k1' });
    expect(reloads.entries.map((e) => e.seq)).toEqual([3, 9, 15, 21, 27]);
    expect(queryAudit(store, { target: 't12' }).entries.map((e) => e.seq)).toEqual([12]);
    // Pages of 4 matches, resumed from the cursor, add up to the whole.
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const p = queryAudit(store, { action: 'batch.ingest', limit: 4, ...(cursor ? { cursor } : {}) });
      seen.push(...p.entries.map((e) => e.seq));
      cursor = p.next ?? undefined;
      pages++;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i + 1).filter((i) => i % 3 !== 0));
    // Five full pages; the fifth cannot know that nothing matches after it, so a sixth comes back empty.
    expect(pages).toBe(6);
    // A bounded scan hands back a cursor even when it found nothing yet.
    const scan = queryAudit(store, { target: 't29' }, 10);
    expect(scan).toEqual({ entries: [], next: '10' });
    await store.close();
  });

  it('times never go backwards along the chain, even if the clock does', async () => {
    const store = await logOf(2);
    const before = entry(store, 2).at;
    store.env.transactionSync(() =>
      appendAudit(
        store,
        { actor: 'a', action: 'pii.read', target: 't', outcome: 'ok' },
        Date.parse('2020-01-01'),
      ),
    );
    expect(entry(store, 3).at).toBe(before);
    expect((await verifyAudit(store)).ok).toBe(true);
    await store.close();
  });
});
