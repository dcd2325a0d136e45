import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RowCipher, xorStream } from '../../engine/pii/cipher.ts';
import { ERASED, maskValue } from '../../engine/pii/fields.ts';
import { destroyBodyKeysBefore, destroySubject, Keyring, keysDir, SLOT } from '../../engine/pii/keyring.ts';
import { openBody, openValues, type SealedFields, sealBody, sealRecords } from '../../engine/pii/seal.ts';
import { tempDir } from '../support/service.ts';

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.remove());

const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

describe('keyring', () => {
  it('gives a subject the same key across reopenings and another subject a different one', () => {
    const a = new Keyring(dir.path, 1);
    const k1 = a.subjectKey(latin1('CUST-1'));
    const k2 = a.subjectKey(latin1('CUST-2'));
    a.close();
    const b = new Keyring(dir.path, 1);
    expect(b.subjectKey(latin1('CUST-1'))).toEqual(k1);
    expect(Buffer.from(k2.key).equals(Buffer.from(k1.key))).toBe(false);
    b.close();
  });

  it('finds a subject by its id bytes and hash as by its id, and drops that cache on erasure', () => {
    const ring = new Keyring(dir.path, 1);
    const id = Buffer.from('..CUST-7..', 'latin1');
    const byId = ring.subjectKey(latin1('CUST-7'));
    // The hash words are the caller's (the batch dictionary's account key); any pair will do here.
    expect(ring.subjectKeyOf(123, 456, id, 2, 8)).toBe(byId);
    expect(ring.subjectKeyOf(123, 456, id, 2, 8)).toBe(byId);
    // Another id under the same hash words is another subject.
    const other = ring.subjectKeyOf(123, 456, Buffer.from('CUST-8'), 0, 6);
    expect(other.ref).not.toBe(byId.ref);
    ring.sync();
    destroySubject(dir.path, 'CUST-7');
    ring.refresh();
    const fresh = ring.subjectKeyOf(123, 456, id, 2, 8);
    expect(fresh.ref).not.toBe(byId.ref);
    expect(ring.subjectKey(latin1('CUST-7'))).toBe(fresh);
    ring.close();
  });

  it('never stores the subject id, only its peppered tag', () => {
    const a = new Keyring(dir.path, 3);
    a.subjectKey(latin1('CUST-SECRET-42'));
    a.close();
    expect(readFileSync(join(keysDir(dir.path), 'ring-3.bin')).includes(Buffer.from('CUST-SECRET-42'))).toBe(
      false,
    );
  });

  it('destroys every key of a subject in every writer file, and other threads stop using them', () => {
    const w1 = new Keyring(dir.path, 1);
    const w2 = new Keyring(dir.path, 2);
    const a = w1.subjectKey(latin1('CUST-É'));
    const b = w2.subjectKey(latin1('CUST-É'));
    const other = w1.subjectKey(latin1('CUST-O'));
    w1.sync();
    w2.sync();
    expect(destroySubject(dir.path, 'CUST-É').keys).toBe(2);
    const reader = new Keyring(dir.path, 9);
    expect(reader.keyOf(a.ref)).toBeNull();
    expect(reader.keyOf(b.ref)).toBeNull();
    expect(reader.keyOf(other.ref)).toEqual(other.key);
    // w1 still caches the destroyed key until it refreshes (once per batch); then it makes a new one.
    w1.refresh();
    const fresh = w1.subjectKey(latin1('CUST-É'));
    expect(fresh.ref).not.toBe(a.ref);
    expect(Buffer.from(fresh.key).equals(Buffer.from(a.key))).toBe(false);
    for (const k of [w1, w2, reader]) k.close();
  });

  it('ignores a torn slot at the end of a ring file (a crash mid-append)', () => {
    const w = new Keyring(dir.path, 1);
    const k = w.subjectKey(latin1('CUST-1'));
    w.close();
    appendFileSync(join(keysDir(dir.path), 'ring-1.bin'), Buffer.alloc(SLOT / 2, 7));
    const again = new Keyring(dir.path, 1);
    expect(again.subjectKey(latin1('CUST-1'))).toEqual(k);
    const next = again.subjectKey(latin1('CUST-2'));
    expect(next.ref % 2 ** 32).toBe(1); // the torn half-slot is overwritten, not skipped past
    again.close();
  });

  it('uses one body key per hour and destroys it once every body under it is past the cutoff', () => {
    const w = new Keyring(dir.path, 1);
    const h0 = Date.parse('2026-11-20T10:05:00Z');
    const body = Buffer.from('{"tx_id":"T1","counterparty_name":"Ann Example"}');
    const s1 = sealBody(w, body, h0);
    const s2 = sealBody(w, body, h0 + 20 * 60_000);
    const s3 = sealBody(w, body, h0 + 60 * 60_000);
    w.sync();
    expect(Buffer.from(s1).includes(Buffer.from('Ann Example'))).toBe(false);
    expect(Buffer.from(openBody(w, s2) as Uint8Array).equals(body)).toBe(true);
    // A cutoff inside the first hour keeps its key: a body at 10:50 would not have expired yet.
    expect(destroyBodyKeysBefore(dir.path, h0 + 30 * 60_000)).toBe(0);
    // At 11:45 every 10:xx body has expired, but an 11:50 body under the second key would not have.
    expect(destroyBodyKeysBefore(dir.path, h0 + 100 * 60_000)).toBe(1);
    w.refresh();
    expect(openBody(w, s1)).toBeNull();
    expect(openBody(w, s2)).toBeNull();
    expect(Buffer.from(openBody(w, s3) as Uint8Array).equals(body)).toBe(true);
    w.close();
  });

  it('compresses a body before sealing it, and opens it back byte for byte', () => {
    const w = new Keyring(dir.path, 1);
    const at = Date.parse('2026-11-20T10:05:00Z');
    const row = '{"tx_id":"T%","account_id":"ACC-1","amount":"12.50","currency":"GBP"}\n';
    const body = Buffer.from(Array.from({ length: 500 }, (_, i) => row.replace('%', String(i))).join(''));
    const sealed = sealBody(w, body, at);
    w.sync();
    expect(sealed.byteLength).toBeLessThan(body.byteLength / 3);
    expect(Buffer.from(sealed).includes(Buffer.from('ACC-1'))).toBe(false);
    expect(Buffer.from(openBody(w, sealed) as Uint8Array).equals(body)).toBe(true);
    w.close();
  });

  it('compresses a body over 4 MiB in several blocks, and opens it back byte for byte', () => {
    const w = new Keyring(dir.path, 1);
    const row = (i: number) => `{"tx_id":"T${i}","account_id":"ACC-${i % 977}","amount":"${i % 1000}.25"}\n`;
    const body = Buffer.from(Array.from({ length: 160_000 }, (_, i) => row(i)).join(''));
    expect(body.byteLength).toBeGreaterThan(2 * 4 * 2 ** 20); // three blocks
    const sealed = sealBody(w, body, Date.parse('2026-11-20T10:05:00Z'));
    w.sync();
    expect(Buffer.from(sealed.subarray(0, 4)).toString('latin1')).toBe('SLB3');
    expect(sealed.byteLength).toBeLessThan(body.byteLength / 2);
    expect(Buffer.from(openBody(w, sealed) as Uint8Array).equals(body)).toBe(true);
    w.close();
  });

  it('still opens a body sealed as one LZ4 block by sessions 8 to 10 (SLB2, lz4-napi)', () => {
    const w = new Keyring(dir.path, 1);
    const at = Date.parse('2026-11-20T10:05:00Z');
    const body = Buffer.from('{"tx_id":"T1","account_id":"ACC-1"}\n'.repeat(6));
    // lz4-napi 2.10.0's compressSync(body): the raw size (u32 LE), then one LZ4 block.
    const block = Buffer.from(
      'd8000000f2077b2274785f6964223a225431222c226163636f756e7412008f4143432d31227d0a24009b60432d31227d0a',
      'hex',
    );
    // The envelope as sealBody wrote it then: magic, key ref, nonce, the block under the body key.
    const { ref, key } = w.bodyKey(at);
    const nonce = randomBytes(12);
    const sealed = Buffer.alloc(24 + block.byteLength);
    sealed.write('SLB2', 0, 'latin1');
    sealed.writeDoubleLE(ref, 4);
    nonce.copy(sealed, 12);
    Buffer.from(xorStream(key, nonce, 0, block)).copy(sealed, 24);
    w.sync();
    expect(Buffer.from(openBody(w, sealed) as Uint8Array).equals(body)).toBe(true);
    w.close();
  });

  it('refuses a sealed body whose blocks are torn, with an error', () => {
    const w = new Keyring(dir.path, 1);
    const body = Buffer.from('{"tx_id":"T1","account_id":"ACC-1"}\n'.repeat(200));
    const sealed = sealBody(w, body, Date.parse('2026-11-20T10:05:00Z'));
    w.sync();
    expect(() => openBody(w, sealed.subarray(0, sealed.byteLength - 10))).toThrow(/torn LZ4 block/);
    w.close();
  });

  it('seals a body that would not compress as it is, and opens it back', () => {
    const w = new Keyring(dir.path, 1);
    const body = randomBytes(4096); // random bytes: LZ4 would only add to them
    const sealed = sealBody(w, body, Date.parse('2026-11-20T10:05:00Z'));
    w.sync();
    expect(sealed.byteLength).toBe(24 + body.byteLength);
    expect(Buffer.from(openBody(w, sealed) as Uint8Array).equals(body)).toBe(true);
    w.close();
  });
});

describe('sealed record values', () => {
  const values = {
    tx_id: 'T1',
    customer_id: 'CUST-1',
    account_id: 'ACC-1',
    account_number: '66374958',
    iban: null,
    counterparty_name: 'Zoë Ångström',
    reference: 'rent',
  };

  const cipher = new RowCipher();
  const sealOne = (w: Keyring, v: Record<string, string | null>) =>
    sealRecords(w, cipher, [v], 'batch:b1')[0] as {
      values: Record<string, string | null>;
      sealed: SealedFields | null;
    };

  it('round-trip, with personal fields absent from the stored values', () => {
    const w = new Keyring(dir.path, 1);
    const { values: stored, sealed } = sealOne(w, values);
    expect(stored).toMatchObject({
      tx_id: 'T1',
      account_number: null,
      counterparty_name: null,
      reference: null,
    });
    expect(JSON.stringify(sealed)).not.toContain('66374958');
    expect(openValues(w, stored, sealed)).toEqual(values);
    w.close();
  });

  it('seals a batch of records in one call, each opening to its own values, and leaves records without personal fields as they are', () => {
    const w = new Keyring(dir.path, 1);
    const records: Record<string, string | null>[] = [
      values,
      {
        ...values,
        customer_id: 'CUST-2',
        counterparty_name: 'Ann Other',
        reference: null,
        account_number: '',
      },
      {
        tx_id: 'T3',
        customer_id: null,
        account_id: 'ACC-3',
        account_number: null,
        iban: null,
        counterparty_name: null,
        reference: null,
      },
      { ...values, customer_id: null, account_id: null, iban: 'GB82WEST12345698765432' },
    ];
    const sealed = sealRecords(w, cipher, records, 'batch:b9');
    expect(sealed[2]).toEqual({ values: records[2], sealed: null });
    for (const [k, r] of sealed.entries()) {
      expect(openValues(w, r.values, r.sealed)).toEqual(records[k]);
    }
    expect(Object.keys(sealed[1]?.sealed?.ct ?? {})).toEqual(['counterparty_name']);
    // Each record has its own nonce and, by subject, its own key; the subject-less one uses the batch's.
    const nonces = new Set(sealed.flatMap((r) => (r.sealed ? [r.sealed.nonce] : [])));
    expect(nonces.size).toBe(3);
    expect(sealed[0]?.sealed?.ref).not.toBe(sealed[1]?.sealed?.ref);
    expect(sealed[3]?.sealed?.ref).toBe(
      sealRecords(w, cipher, [{ tx_id: 'T4', counterparty_name: 'N' }], 'batch:b9')[0]?.sealed?.ref,
    );
    w.close();
  });

  it('open as [erased] once the subject is erased', () => {
    const w = new Keyring(dir.path, 1);
    const { values: stored, sealed } = sealOne(w, values);
    w.sync();
    destroySubject(dir.path, 'CUST-1');
    w.refresh();
    expect(openValues(w, stored, sealed)).toMatchObject({
      account_number: ERASED,
      counterparty_name: ERASED,
      reference: ERASED,
      account_id: 'ACC-1',
    });
    w.close();
  });
});

describe('masking', () => {
  it('keeps the last four characters of identifiers and nothing of free text', () => {
    expect(maskValue('account_number', '66374958')).toBe('****4958');
    expect(maskValue('iban', 'GB29 NWBK 6016 1331 9268 19')).toBe('****6819');
    expect(maskValue('sort_code', '08-99-99')).toBe('****99');
    expect(maskValue('counterparty_name', 'Zoë Ångström')).toBe('****');
    expect(maskValue('account_number', '123')).toBe('****');
    expect(maskValue('iban', null)).toBeNull();
    expect(maskValue('iban', ERASED)).toBe(ERASED);
  });
});
