/**
 * Erasure by crypto-shredding, end to end: personal fields never reach the disk in clear, and
 * after DELETE /v1/subjects/X none of X's account numbers, IBANs or names can be read back with
 * any key the service still holds (bronze included, once its retention has passed), while other
 * subjects' data stays readable and the audit chain still verifies.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../engine/audit/verify.ts';
import { xorStream } from '../../engine/pii/cipher.ts';
import { Keyring, keysDir, SLOT } from '../../engine/pii/keyring.ts';
import { openBody } from '../../engine/pii/seal.ts';
import { DEFAULT_RETENTION, purgeExpired } from '../../engine/retention.ts';
import { Store } from '../../engine/store.ts';
import { post, send, service, type TestService, tempDir } from '../support/service.ts';

const X = {
  customer_id: 'CUST-X',
  account_id: 'ACC-X',
  sort_code: '08-99-99',
  account_number: '66374958',
  iban: 'GB29NWBK60161331926819',
  counterparty_name: 'Zebedee Quillfeather',
  reference: 'Quillfeather rent',
};
const Y = {
  customer_id: 'CUST-Y',
  account_id: 'ACC-Y',
  sort_code: '107999',
  account_number: '88837491',
  iban: 'GB82WEST12345698765432',
  counterparty_name: 'Yolanda Pemberton',
};
/** X's personal values as they would appear in clear (IBAN also as sent, with spaces). */
const X_SECRETS = [
  '66374958',
  'GB29NWBK60161331926819',
  'Zebedee Quillfeather',
  'Quillfeather',
  'GB83NWBK6016',
];

const now = Date.now();
const at = (k: number) => new Date(now - 3_600_000 + k * 1000).toISOString();
const row = (tx: string, who: Record<string, string>, k: number, extra: Record<string, string> = {}) => ({
  tx_id: tx,
  ts: at(k),
  amount: '125.00',
  currency: 'GBP',
  direction: 'debit',
  channel: 'FPS',
  ...who,
  ...extra,
});

/** Every file under `dir`, whole (the LMDB file, Parquet, keys, reports). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** Which of `needles` occur anywhere in the bytes of the data dir, and where. */
function grep(dir: string, needles: string[]): string[] {
  const hits: string[] = [];
  for (const f of filesUnder(dir)) {
    const bytes = readFileSync(f);
    for (const n of needles) if (bytes.includes(Buffer.from(n, 'utf8'))) hits.push(`${n} in ${f}`);
  }
  return hits;
}

/** Every key still in the ring files (destroyed slots are zeros). */
function liveKeys(dataDir: string): Uint8Array[] {
  const dir = keysDir(dataDir);
  return readdirSync(dir)
    .filter((n) => n.startsWith('ring-'))
    .flatMap((n) => {
      const buf = readFileSync(join(dir, n));
      const out: Uint8Array[] = [];
      for (let s = 0; s + SLOT <= buf.length; s += SLOT)
        if (buf[s + 48] !== 0) out.push(new Uint8Array(buf.subarray(s + 16, s + 48)));
      return out;
    });
}

interface SilverRow {
  tx: string;
  key: number;
  nonce: Buffer;
  name: Buffer;
  account: Buffer;
}

async function silverRows(dataDir: string): Promise<SilverRow[]> {
  const db = await (await DuckDBInstance.create()).connect();
  const r = await db.runAndReadAll(
    `SELECT tx_id, pii_key::BIGINT, hex(pii_nonce), hex(counterparty_name), hex(account_number) FROM read_parquet('${dataDir}/silver/**/*.parquet', hive_partitioning = true) ORDER BY tx_id`,
  );
  return r.getRows().map((v) => ({
    tx: v[0] as string,
    key: Number(v[1] as bigint),
    nonce: Buffer.from(v[2] as string, 'hex'),
    name: Buffer.from((v[3] as string | null) ?? '', 'hex'),
    account: Buffer.from((v[4] as string | null) ?? '', 'hex'),
  }));
}

let dir: ReturnType<typeof tempDir>;
let svc: TestService;

beforeAll(async () => {
  dir = tempDir();
  svc = await service(dir.path);
  const body = JSON.stringify([
    row('X-1', X, 1),
    row('X-2', X, 2, { counterparty_iban: 'GB83NWBK60161331926819' }), // bad checksum: quarantined
    row('Y-1', Y, 3),
  ]);
  const r = await post(`${svc.url}/v1/batches`, body, 'application/json');
  expect(r.status).toBe(201);
  expect(r.json).toMatchObject({ accepted: 2, quarantined: 1 });
  await svc.close(); // rolls silver
});

afterAll(() => dir?.remove());

describe('personal fields at rest', () => {
  it('are never on disk in clear, in any layer, before any erasure', () => {
    expect(grep(dir.path, [...X_SECRETS, 'Yolanda Pemberton', '88837491'])).toEqual([]);
    // The same search does find what is kept in clear (the pseudonymous ids): it can see the data.
    expect(grep(dir.path, ['CUST-X', 'ACC-Y']).length).toBeGreaterThanOrEqual(2);
  });

  it('are sealed in silver and open with the subject key the row names', async () => {
    const ring = new Keyring(dir.path, 999);
    const rows = await silverRows(dir.path);
    expect(rows.map((r) => r.tx)).toEqual(['X-1', 'Y-1']);
    for (const [r, who] of [
      [rows[0] as SilverRow, X],
      [rows[1] as SilverRow, Y],
    ] as const) {
      const key = ring.keyOf(r.key) as Uint8Array;
      expect(key).not.toBeNull();
      // counterparty_name is first in the row's stream, account_number follows it.
      expect(Buffer.from(xorStream(key, r.nonce, 0, r.name)).toString()).toBe(who.counterparty_name);
      expect(Buffer.from(xorStream(key, r.nonce, r.name.length, r.account)).toString()).toBe(
        who.account_number,
      );
    }
    ring.close();
  });
});

describe('DELETE /v1/subjects/{customer_id}', () => {
  let reply: Awaited<ReturnType<typeof send>>;
  beforeAll(async () => {
    svc = await service(dir.path);
    reply = await send('DELETE', `${svc.url}/v1/subjects/CUST-X`);
    await svc.close();
  });

  it('says what it erased and when the last raw copy goes', () => {
    expect(reply.status).toBe(200);
    expect(reply.json.keys_destroyed).toBeGreaterThanOrEqual(1);
    expect(reply.json.layers.silver).toMatch(/unreadable/);
    const by = Date.parse(reply.json.layers.bronze.last_copy_destroyed_by);
    expect(by).toBeGreaterThan(now + DEFAULT_RETENTION.bronzeDays * 86_400_000);
  });

  it("leaves no key that opens X's silver fields, while Y's still open", async () => {
    const rows = await silverRows(dir.path);
    const x = rows.find((r) => r.tx === 'X-1') as SilverRow;
    const y = rows.find((r) => r.tx === 'Y-1') as SilverRow;
    const keys = liveKeys(dir.path);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(Buffer.from(xorStream(k, x.nonce, 0, x.name)).toString()).not.toBe(X.counterparty_name);
    }
    const ring = new Keyring(dir.path, 999);
    expect(ring.keyOf(x.key)).toBeNull();
    const yKey = ring.keyOf(y.key) as Uint8Array;
    expect(Buffer.from(xorStream(yKey, y.nonce, 0, y.name)).toString()).toBe(Y.counterparty_name);
    ring.close();
  });

  it("leaves X's quarantined row unreadable with every remaining key", async () => {
    const store = new Store({ dataDir: dir.path });
    const q = [...store.quarantine.getRange()].map((e) => e.value) as {
      tx_id: string;
      values: Record<string, string | null>;
      sealed: { ref: number; nonce: string; ct: Record<string, string> };
    }[];
    await store.close();
    expect(q.map((r) => r.tx_id)).toEqual(['X-2']);
    const rec = q[0] as (typeof q)[0];
    expect(rec.values.counterparty_name).toBeNull();
    const ct = Buffer.from(rec.sealed.ct.counterparty_name as string, 'base64');
    for (const k of liveKeys(dir.path)) {
      expect(Buffer.from(xorStream(k, Buffer.from(rec.sealed.nonce, 'base64'), 0, ct)).toString()).not.toBe(
        X.counterparty_name,
      );
    }
  });

  it('keeps bronze readable until its retention passes, then destroys it, and the audit chain verifies', async () => {
    const store = new Store({ dataDir: dir.path });
    const ring = new Keyring(dir.path, 999);
    const bodies = [...store.bronze.getRange()].map((e) => e.value as Uint8Array);
    expect(bodies.length).toBe(1);
    // Inside retention the raw body is still there (as documented), sealed.
    expect(Buffer.from(openBody(ring, bodies[0] as Uint8Array) as Uint8Array).toString()).toContain('CUST-X');
    ring.close();
    const report = await purgeExpired(store, DEFAULT_RETENTION, now + 8 * 86_400_000 + 2 * 3_600_000);
    expect(report).toMatchObject({ bronze_bodies: 1, quarantine_records: 0, silver_files: 0 });
    expect(report.bronze_keys_destroyed).toBeGreaterThanOrEqual(1);
    expect([...store.bronze.getKeys()]).toEqual([]);
    for (const k of liveKeys(dir.path)) {
      const sealed = bodies[0] as Uint8Array;
      expect(
        Buffer.from(xorStream(k, sealed.subarray(12, 24), 0, sealed.subarray(24))).toString(),
      ).not.toContain('CUST-X');
    }
    const verdict = await verifyAudit(store);
    expect(verdict.ok).toBe(true);
    const actions = [...store.audit.getRange()].map((e) => (e.value as { action: string }).action);
    expect(actions).toContain('subject.erase');
    expect(actions).toContain('retention.purge');
    await store.close();
    expect(grep(dir.path, X_SECRETS)).toEqual([]);
  });
});
