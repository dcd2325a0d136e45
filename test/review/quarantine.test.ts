/**
 * The quarantine review end to end, against a real service on loopback: the queue's filters and
 * paging, and each resolve action's effect on the record, silver, gold, the data-quality counts
 * and the audit chain, exactly once, also under two resolves at once.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../../engine/auth/keys.ts';
import { FORMATS } from '../../engine/formats/index.ts';
import { addKey, bearer, get, post, send, service, type TestService, tempDir } from '../support/service.ts';

const GOOD_IBAN = 'DE89370400440532013000';
const BAD_IBAN = 'DE89370400440532013001'; // last digit changed: MOD-97 fails
const DAY = '2026-01-15';

type Row = Record<string, string>;

function row(tx: string, extra: Row = {}): Row {
  return {
    tx_id: tx,
    ts: `${DAY}T10:00:00Z`,
    amount: '125.50',
    currency: 'GBP',
    direction: 'debit',
    channel: 'FPS',
    account_id: `ACC-${tx}`,
    ...extra,
  };
}

const dir = tempDir();
let svc: TestService;
let keyId: string;

async function ingest(rows: Row[]): Promise<string> {
  const res = await post(`${svc.url}/v1/batches`, JSON.stringify({ transactions: rows }), FORMATS.json);
  expect(res.status, res.text).toBe(201);
  return res.json.batch_id as string;
}

async function list(query: string) {
  const res = await get(`${svc.url}/v1/quarantine?${query}`);
  expect(res.status, res.text).toBe(200);
  return res.json as {
    records: { id: string; tx_id: string; status: string; reasons: string[] }[];
    next: string | null;
  };
}

function resolve(tx: string, body: Record<string, unknown>) {
  return post(
    `${svc.url}/v1/quarantine/${encodeURIComponent(tx)}/resolve`,
    JSON.stringify(body),
    FORMATS.json,
  );
}

async function kpis(): Promise<{ count: number; sum: bigint }> {
  const res = await get(`${svc.url}/v1/reports/daily-kpis?from=${DAY}&to=${DAY}`);
  const rows = res.json.rows as { count: number; sum_minor: string }[];
  return {
    count: rows.reduce((a, r) => a + r.count, 0),
    sum: rows.reduce((a, r) => a + BigInt(r.sum_minor), 0n),
  };
}

async function auditEntries(action: string) {
  const res = await get(`${svc.url}/v1/audit?action=${action}`);
  expect(res.status, res.text).toBe(200);
  return res.json.entries as { actor: string; target: string; details: Record<string, unknown> }[];
}

async function recordOf(tx: string) {
  return (await list(`tx_id=${encodeURIComponent(tx)}`)).records[0] as {
    status: string;
    resolution?: Record<string, unknown>;
  };
}

let batchA: string;
let batchB: string;

beforeAll(async () => {
  svc = await service(dir.path);
  keyId = keyIdOf(svc.key) as string;
  batchA = await ingest([
    row('OK-1'),
    row('IBAN-1', { counterparty_iban: BAD_IBAN }),
    row('IBAN-2', { counterparty_iban: BAD_IBAN }),
    row('CUR-1', { currency: 'ZZZ' }),
    row('PREC-1', { amount: '1.234' }),
    row('BAD ID', { counterparty_iban: BAD_IBAN }),
  ]);
  batchB = await ingest([
    row('OK-2'),
    row('IBAN-3', { counterparty_iban: BAD_IBAN }),
    row('REJ-1', { counterparty_iban: BAD_IBAN }),
    row('RACE-1', { counterparty_iban: BAD_IBAN }),
    row('BAD ID', { counterparty_iban: BAD_IBAN }),
  ]);
}, 60_000);

afterAll(async () => {
  await svc?.close();
  dir.remove();
});

describe('GET /v1/quarantine', () => {
  it('lists every quarantined row, filtered by batch, reason, status and tx_id', async () => {
    const all = await list('limit=1000');
    expect(all.records.map((r) => r.tx_id).sort()).toEqual(
      ['BAD ID', 'BAD ID', 'CUR-1', 'IBAN-1', 'IBAN-2', 'IBAN-3', 'PREC-1', 'RACE-1', 'REJ-1'].sort(),
    );
    expect(all.next).toBeNull();
    // Personal values are sealed at rest; a reply never carries the sealed form.
    expect(all.records.some((r) => 'sealed' in r)).toBe(false);
    expect((await list(`batch_id=${batchB}`)).records.map((r) => r.tx_id).sort()).toEqual([
      'BAD ID',
      'IBAN-3',
      'RACE-1',
      'REJ-1',
    ]);
    const iban = await list('reason=IBAN_CHECKSUM');
    expect(iban.records).toHaveLength(7);
    expect(iban.records.every((r) => r.reasons.includes('IBAN_CHECKSUM'))).toBe(true);
    expect((await list('reason=CURRENCY_UNKNOWN')).records.map((r) => r.tx_id)).toEqual(['CUR-1']);
    expect((await list('status=open')).records).toHaveLength(9);
    expect((await list('status=rejected')).records).toHaveLength(0);
    expect((await list('tx_id=BAD%20ID')).records).toHaveLength(2);
    expect((await list(`tx_id=BAD%20ID&batch_id=${batchA}`)).records).toHaveLength(1);
  });

  it('filters by received time', async () => {
    expect((await list('from=2000-01-01T00:00:00Z')).records).toHaveLength(9);
    expect((await list('to=2000-01-01T00:00:00Z')).records).toHaveLength(0);
    expect((await list(`from=${new Date(Date.now() + 60_000).toISOString()}`)).records).toHaveLength(0);
  });

  it('pages with a cursor through every row once, in id order', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list(`limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      seen.push(...page.records.map((r) => r.id));
      cursor = page.next;
      pages++;
    } while (cursor && pages < 20);
    expect(seen).toHaveLength(9);
    expect(new Set(seen).size).toBe(9);
    expect(seen).toEqual([...seen].sort());
  });

  it('needs the analyst role', async () => {
    const ingestOnly = await addKey(dir.path, ['ingest']);
    const res = await get(`${svc.url}/v1/quarantine`, bearer(ingestOnly));
    expect(res.status).toBe(403);
    const resolved = await post(
      `${svc.url}/v1/quarantine/CUR-1/resolve`,
      JSON.stringify({ action: 'reject', note: 'n' }),
      FORMATS.json,
      bearer(ingestOnly),
    );
    expect(resolved.status).toBe(403);
    expect((await recordOf('CUR-1')).status).toBe('open');
  });

  it('refuses a limit over 1000 and an unknown status', async () => {
    expect((await get(`${svc.url}/v1/quarantine?limit=1001`)).status).toBe(400);
    expect((await get(`${svc.url}/v1/quarantine?status=lost`)).status).toBe(400);
  });

  it('is described in the OpenAPI document, with its filters and the resolve body', async () => {
    const doc = (await get(`${svc.url}/docs/json`)).json;
    const params = (doc.paths['/v1/quarantine'].get.parameters as { name: string }[]).map((p) => p.name);
    expect(params.sort()).toEqual(['batch_id', 'cursor', 'from', 'limit', 'reason', 'status', 'to', 'tx_id']);
    const resolveBody =
      doc.paths['/v1/quarantine/{tx_id}/resolve'].post.requestBody.content['application/json'].schema;
    expect(resolveBody.required).toEqual(['action', 'note']);
    expect(resolveBody.properties.note.maxLength).toBe(2000);
  });
});

describe('POST /v1/quarantine/{tx_id}/resolve', () => {
  it('rejects: the record is rejected with the reviewer, note and time; nothing is accepted', async () => {
    const before = await kpis();
    const res = await resolve('REJ-1', { action: 'reject', note: 'duplicate of a manual payment' });
    expect(res.status, res.text).toBe(200);
    expect(res.json.status).toBe('rejected');
    expect(res.json.resolution).toMatchObject({
      action: 'reject',
      by: keyId,
      note: 'duplicate of a manual payment',
    });
    expect(Date.parse(res.json.resolution.at)).toBeGreaterThan(Date.now() - 60_000);
    expect(await kpis()).toEqual(before);
    expect((await list('status=rejected')).records.map((r) => r.tx_id)).toEqual(['REJ-1']);
  });

  it('corrects a bad IBAN: accepted exactly once in gold, the record corrected; a second resolve is 409', async () => {
    const before = await kpis();
    const res = await resolve('IBAN-1', {
      action: 'correct',
      note: 'IBAN confirmed with the customer',
      fields: { counterparty_iban: GOOD_IBAN },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.status).toBe('corrected');
    expect(res.json.resolution.changed_fields).toEqual(['counterparty_iban']);
    const newBatch = res.json.resolution.new_batch_id as string;
    expect(await kpis()).toEqual({ count: before.count + 1, sum: before.sum + 12550n });

    const batch = await get(`${svc.url}/v1/batches/${newBatch}`);
    expect(batch.json).toMatchObject({ received: 1, accepted: 1, quarantined: 0 });

    const again = await resolve('IBAN-1', {
      action: 'correct',
      note: 'again',
      fields: { counterparty_iban: GOOD_IBAN },
    });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('QUARANTINE_RESOLVED');
    const release = await resolve('IBAN-1', { action: 'release', note: 'and again' });
    expect(release.status).toBe(409);
    expect(await kpis()).toEqual({ count: before.count + 1, sum: before.sum + 12550n });
  });

  it('refuses a correction that is still invalid with 422 and its reasons, changing nothing', async () => {
    const before = await kpis();
    const auditBefore = (await auditEntries('quarantine.correct')).length;
    const res = await resolve('IBAN-2', {
      action: 'correct',
      note: 'try another',
      fields: { counterparty_iban: 'DE89370400440532013002' },
    });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe('CORRECTION_INVALID');
    expect(res.json.error.reasons).toEqual(['IBAN_CHECKSUM']);
    expect(res.json.error.fields).toEqual([{ code: 'IBAN_CHECKSUM', field: 'counterparty_iban' }]);
    expect((await recordOf('IBAN-2')).status).toBe('open');
    expect(await kpis()).toEqual(before);
    expect(await auditEntries('quarantine.correct')).toHaveLength(auditBefore);
  });

  it('releases a row the rules flagged: accepted once, flagged released', async () => {
    const before = await kpis();
    const res = await resolve('IBAN-3', {
      action: 'release',
      note: 'counterparty bank confirmed the account',
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.status).toBe('released');
    expect(res.json.resolution.new_batch_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await kpis()).toEqual({ count: before.count + 1, sum: before.sum + 12550n });
  });

  it('refuses to release a row without a usable required value (422), leaving it open', async () => {
    const res = await resolve('CUR-1', { action: 'release', note: 'looks fine' });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe('QUARANTINE_NOT_RELEASABLE');
    expect(res.json.error.reasons).toEqual(['CURRENCY_UNKNOWN']);
    expect((await recordOf('CUR-1')).status).toBe('open');
  });

  it('accepts exactly once when two resolves of one row arrive at once', async () => {
    const before = await kpis();
    const body = { action: 'correct', note: 'fixed', fields: { counterparty_iban: GOOD_IBAN } };
    const [a, b] = await Promise.all([
      resolve('RACE-1', body),
      resolve('RACE-1', { action: 'release', note: 'ok' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect((a.status === 409 ? a : b).json.error.code).toBe('QUARANTINE_RESOLVED');
    expect(await kpis()).toEqual({ count: before.count + 1, sum: before.sum + 12550n });
    const entries = (await auditEntries('quarantine.correct'))
      .concat(await auditEntries('quarantine.release'))
      .filter((e) => e.target === 'RACE-1');
    expect(entries).toHaveLength(1);
  });

  it('asks which row when several open ones share a tx_id, and refuses a tx_id already stored', async () => {
    const ambiguous = await resolve('BAD ID', { action: 'reject', note: 'which?' });
    expect(ambiguous.status).toBe(409);
    expect(ambiguous.json.error.code).toBe('QUARANTINE_AMBIGUOUS');
    expect(ambiguous.json.error.batch_ids.sort()).toEqual([batchA, batchB].sort());

    const before = await kpis();
    const taken = await resolve('BAD ID', {
      action: 'correct',
      note: 'give it a proper id',
      batch_id: batchA,
      fields: { tx_id: 'OK-1', counterparty_iban: GOOD_IBAN },
    });
    expect(taken.status).toBe(409);
    expect(taken.json.error.code).toBe('DUPLICATE_TX');
    // The child transaction rolled the whole one-row batch back.
    expect(await kpis()).toEqual(before);
    expect((await list(`tx_id=BAD%20ID&batch_id=${batchA}`)).records[0]?.status).toBe('open');

    const fixed = await resolve('BAD ID', {
      action: 'correct',
      note: 'give it a proper id',
      batch_id: batchA,
      fields: { tx_id: 'FIXED-1', counterparty_iban: GOOD_IBAN },
    });
    expect(fixed.status, fixed.text).toBe(200);
    expect(fixed.json.resolution.changed_fields).toEqual(['counterparty_iban', 'tx_id']);
    expect(await kpis()).toEqual({ count: before.count + 1, sum: before.sum + 12550n });
    // Now only one is open: the tx_id alone names it.
    const rest = await resolve('BAD ID', { action: 'reject', note: 'sender will resend' });
    expect(rest.status, rest.text).toBe(200);
    expect(rest.json.batch_id).toBe(batchB);
  });

  it('refuses to release or correct a row whose subject was erased, but lets it be rejected', async () => {
    await ingest([row('ERASE-1', { customer_id: 'CUST-ERASE', counterparty_iban: BAD_IBAN })]);
    const erased = await send('DELETE', `${svc.url}/v1/subjects/CUST-ERASE`);
    expect(erased.status, erased.text).toBe(200);
    const release = await resolve('ERASE-1', { action: 'release', note: 'n' });
    expect(release.status).toBe(409);
    expect(release.json.error.code).toBe('QUARANTINE_ERASED');
    const reject = await resolve('ERASE-1', { action: 'reject', note: 'subject erased' });
    expect(reject.status, reject.text).toBe(200);
  });

  it('audits each action with the reviewer key id and field names, never values', async () => {
    const all = [
      ...(await auditEntries('quarantine.reject')),
      ...(await auditEntries('quarantine.release')),
      ...(await auditEntries('quarantine.correct')),
    ];
    expect(all.map((e) => e.target).sort()).toEqual([
      'BAD ID',
      'BAD ID',
      'ERASE-1',
      'IBAN-1',
      'IBAN-3',
      'RACE-1',
      'REJ-1',
    ]);
    for (const e of all) {
      expect(e.actor).toBe(keyId);
      expect(Object.keys(e.details).sort()).toEqual(
        e.details.new_batch_id
          ? ['batch_id', 'changed_fields', 'new_batch_id', 'quarantine_id']
          : ['batch_id', 'changed_fields', 'quarantine_id'],
      );
      expect(JSON.stringify(e.details)).not.toContain(GOOD_IBAN);
    }
  });

  it("counts the day's resolutions in the data-quality report", async () => {
    // Yesterday too: the suite may have run across midnight, its batches on one day and resolutions on the next.
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const res = await get(`${svc.url}/v1/reports/data-quality?from=${yesterday}&to=${today}`);
    const day: Record<string, number> = {};
    for (const r of res.json.rows as Record<string, unknown>[])
      for (const k of ['batches', 'received', 'rejected', 'released', 'corrected'])
        day[k] = (day[k] ?? 0) + (r[k] as number);
    // 3 batches of 12 rows came in; the reviewers' one-row batches are resolutions, not input.
    expect(day).toMatchObject({ batches: 3, received: 12, rejected: 3 });
    // RACE-1 went whichever way won the race.
    expect([day.released, day.corrected].sort()).toEqual(day.released === 2 ? [2, 2] : [1, 3]);
  });
});

describe('silver', () => {
  it('holds each accepted row once, released and corrected rows flagged', async () => {
    await svc.close(); // a graceful stop rolls staged silver into Parquet
    const db = await (await DuckDBInstance.create()).connect();
    const reader = await db.runAndReadAll(
      `SELECT tx_id, count(*)::INTEGER AS n, bit_or(flags)::INTEGER AS flags
       FROM read_parquet('${dir.path}/silver/**/*.parquet', hive_partitioning = true) GROUP BY tx_id ORDER BY tx_id`,
    );
    const rows = Object.fromEntries(
      reader
        .getRows()
        .map(([tx, n, flags]) => [tx as string, { n: n as number, flags: (flags as number) & 6 }]),
    );
    expect(rows).toEqual({
      'FIXED-1': { n: 1, flags: 4 },
      'IBAN-1': { n: 1, flags: 4 },
      'IBAN-3': { n: 1, flags: 2 },
      'OK-1': { n: 1, flags: 0 },
      'OK-2': { n: 1, flags: 0 },
      'RACE-1': { n: 1, flags: expect.any(Number) },
    });
    expect([2, 4]).toContain(rows['RACE-1']?.flags);
    svc = await service(dir.path); // for afterAll
  }, 60_000);
});
