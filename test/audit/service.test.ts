/**
 * The audit log in a running service: concurrent commits in two pool workers append to one
 * chain; every ingest and every rules or sanctions reload is an entry; `GET /v1/audit` filters
 * and pages; tampering fails `GET /v1/audit/verify` and `sluice audit verify` at the first bad seq.
 */
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RULES_PATH } from '../../engine/aml/rules.ts';
import { DEFAULT_SANCTIONS_PATHS } from '../../engine/aml/sanctions.ts';
import { writeCheckpoint } from '../../engine/audit/checkpoint.ts';
import { type AuditEntry, auditHead, HEAD_KEY } from '../../engine/audit/log.ts';
import type { AuditFault } from '../../engine/audit/verify.ts';
import { keyIdOf } from '../../engine/auth/keys.ts';
import { Store } from '../../engine/store.ts';
import { sluice } from '../support/cli.ts';
import { addKey, bearer, get, post, service, type TestService, tempDir } from '../support/service.ts';

const NOW = Date.now() - 3_600_000;

/** A JSON body of `rows` valid rows, big enough (> 16 KiB) to be committed in a pool worker. */
function body(prefix: string, rows: number): string {
  return JSON.stringify(
    Array.from({ length: rows }, (_, i) => ({
      tx_id: `${prefix}-${i}`,
      ts: NOW + i,
      amount: `${(i % 90) + 1}.25`,
      currency: 'GBP',
      direction: i % 2 ? 'credit' : 'debit',
      channel: 'FPS',
      account_id: `${prefix}-ACC-${i % 7}`,
      reference: 'x'.repeat(40),
    })),
  );
}

/**
 * Replaces a file whole, by rename, as configuration management does: written in place, a poll
 * can catch it truncated and audit a reload of that too, so the count of entries skips.
 */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('audit in the service', () => {
  const dir = tempDir('sluice-audit-svc-');
  const data = join(dir.path, 'data');
  const rulesPath = join(dir.path, 'rules.json');
  const ofsi = join(dir.path, 'ofsi.csv');
  let svc: TestService;
  let store: Store;

  const entries = async (query = ''): Promise<AuditEntry[]> => {
    const r = await get(`${svc.url}/v1/audit?limit=1000${query}`);
    expect(r.status).toBe(200);
    return r.json.entries;
  };

  /** The route, and the CLI on the live data dir, name the same first bad entry. */
  async function expectBroken(seq: number, reason: AuditFault): Promise<void> {
    const r = await get(`${svc.url}/v1/audit/verify`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ ok: false, firstBad: { seq, reason } });
    const c = await sluice(['audit', 'verify', '--data-dir', data]);
    expect(c.code).toBe(1);
    expect(JSON.parse(c.stdout).firstBad).toEqual({ seq, reason });
  }

  async function expectIntact(): Promise<void> {
    const r = await get(`${svc.url}/v1/audit/verify`);
    expect(r.json).toMatchObject({ ok: true, entries: auditHead(store).seq });
  }

  beforeAll(async () => {
    copyFileSync(DEFAULT_RULES_PATH, rulesPath);
    copyFileSync(DEFAULT_SANCTIONS_PATHS[0] as string, ofsi);
    svc = await service(data, { workers: 2, rulesPath, sanctionsPaths: [ofsi], reloadPollMs: 100 });
    store = new Store({ dataDir: data });
  });
  afterAll(async () => {
    await svc.close();
    await store.close();
    dir.remove();
  });

  it('commits in two pool workers at once append to one chain, one entry per batch', async () => {
    const bodies = Array.from({ length: 6 }, (_, b) => body(`CC${b}`, 200));
    expect(bodies.every((b) => b.length > 16 * 1024)).toBe(true);
    const replies = await Promise.all(
      bodies.map((b) => post(`${svc.url}/v1/batches`, b, 'application/json')),
    );
    expect(replies.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201]);

    const ingests = await entries('&action=batch.ingest');
    expect(ingests.map((e) => e.target).sort()).toEqual(replies.map((r) => r.json.batch_id).sort());
    for (const r of replies) {
      const e = ingests.find((x) => x.target === r.json.batch_id) as AuditEntry;
      expect(e).toMatchObject({
        actor: keyIdOf(svc.key),
        outcome: 'ok',
        details: { received: 200, accepted: 200, quarantined: 0, duplicates: 0, format: 'json' },
      });
      expect(e.details?.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    const all = await entries();
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    const v = await get(`${svc.url}/v1/audit/verify`);
    expect(v.json).toEqual({ ok: true, entries: all.length, head: auditHead(store) });
  }, 60_000);

  it('GET /v1/audit filters by actor and target, pages by cursor, and needs the auditor role', async () => {
    const all = await entries();
    const target = all[all.length - 1]?.target as string;
    expect((await entries(`&target=${target}`)).map((e) => e.target)).toEqual([target]);
    expect((await entries('&actor=nobody')).length).toBe(0);
    const first = await get(`${svc.url}/v1/audit?limit=2`);
    expect(first.json.entries.map((e: AuditEntry) => e.seq)).toEqual([1, 2]);
    const second = await get(`${svc.url}/v1/audit?limit=2&cursor=${first.json.next}`);
    expect(second.json.entries.map((e: AuditEntry) => e.seq)).toEqual([3, 4]);
    expect((await get(`${svc.url}/v1/audit?limit=1001`)).status).toBe(400);
    expect((await get(`${svc.url}/v1/audit?action=no.such`)).status).toBe(400);

    const analyst = await addKey(data, ['analyst']);
    expect((await get(`${svc.url}/v1/audit`, bearer(analyst))).status).toBe(403);
    expect((await get(`${svc.url}/v1/audit/verify`, bearer(analyst))).status).toBe(403);
    const auditor = await addKey(data, ['auditor']);
    expect((await get(`${svc.url}/v1/audit/verify`, bearer(auditor))).json.ok).toBe(true);
    const doc = (await get(`${svc.url}/docs/json`)).json;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/audit', '/v1/audit/verify']));
  }, 30_000);

  it('a changed, deleted or swapped entry fails the route and the CLI at its seq', async () => {
    const e3 = store.audit.get(3) as AuditEntry;
    const e4 = store.audit.get(4) as AuditEntry;
    const restore = () =>
      store.env.transactionSync(() => {
        store.audit.put(3, e3);
        store.audit.put(4, e4);
      });
    store.env.transactionSync(() => {
      store.audit.put(4, { ...e4, details: { ...e4.details, accepted: 199 } });
    });
    await expectBroken(4, 'hash_mismatch');
    restore();
    await expectIntact();
    store.env.transactionSync(() => {
      store.audit.remove(3);
    });
    await expectBroken(3, 'seq_gap');
    restore();
    store.env.transactionSync(() => {
      store.audit.put(3, e4);
      store.audit.put(4, e3);
    });
    await expectBroken(3, 'seq_gap');
    restore();
    await expectIntact();
  }, 60_000);

  it('a tail cut back past a checkpoint, head rewritten to match, fails the route and the CLI', async () => {
    const cp = await writeCheckpoint(store);
    expect(cp.written).toBe(true);
    const head = store.meta.get(HEAD_KEY);
    const cut = [cp.seq - 1, cp.seq].map((s) => [s, store.audit.get(s)] as const);
    const keep = store.audit.get(cp.seq - 2) as AuditEntry;
    store.env.transactionSync(() => {
      for (const [s] of cut) store.audit.remove(s);
      store.meta.put(HEAD_KEY, { seq: keep.seq, hash: keep.hash });
    });
    await expectBroken(cp.seq, 'checkpoint_mismatch');
    store.env.transactionSync(() => {
      for (const [s, e] of cut) store.audit.put(s, e);
      store.meta.put(HEAD_KEY, head);
    });
    await expectIntact();
  }, 60_000);

  it('rules and sanctions reloads are entries, ok and failed', async () => {
    const doc = JSON.parse(readFileSync(rulesPath, 'utf8'));
    doc.version = 'audit-test-2';
    replaceFile(rulesPath, JSON.stringify(doc));
    await eventually(async () => (await entries('&action=rules.reload')).length === 1, 'rules.reload ok');
    const [ok] = await entries('&action=rules.reload');
    expect(ok).toMatchObject({
      actor: 'system',
      target: rulesPath,
      outcome: 'ok',
      details: { version: 'audit-test-2' },
    });
    expect(ok?.details?.sha256).toMatch(/^[0-9a-f]{64}$/);

    replaceFile(rulesPath, '{"version": ');
    await eventually(async () => (await entries('&action=rules.reload')).length === 2, 'rules.reload failed');
    const failed = (await entries('&action=rules.reload'))[1];
    expect(failed).toMatchObject({ actor: 'system', outcome: 'failed' });
    expect(typeof failed?.details?.error).toBe('string');

    // One list is in force for the whole service (the pool workers follow its version): one entry
    // per reload attempt, with the version and size it put in force.
    replaceFile(ofsi, `${readFileSync(ofsi, 'utf8')}\n`);
    await eventually(
      async () => (await entries('&action=sanctions.reload')).length === 1,
      'sanctions.reload',
    );
    const [reload] = await entries('&action=sanctions.reload');
    expect(reload).toMatchObject({ actor: 'system', outcome: 'ok' });
    expect(reload?.details?.size).toBeGreaterThan(0);
    expect(String(reload?.details?.version)).toMatch(/^[0-9a-f]{64}$/);
    await new Promise((r) => setTimeout(r, 500)); // a second entry for one change would double count
    expect(await entries('&action=sanctions.reload')).toHaveLength(1);
    await expectIntact();
  }, 60_000);
});
