import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ERASED, maskValue } from '../../engine/pii/fields.ts';
import { destroyBodyKeysBefore, destroySubject, Keyring, keysDir, SLOT } from '../../engine/pii/keyring.ts';
import { openBody, openValues, sealBody, sealValues } from '../../engine/pii/seal.ts';
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

  it('round-trip, with personal fields absent from the stored values', () => {
    const w = new Keyring(dir.path, 1);
    const { values: stored, sealed } = sealValues(w, values, 'batch:b1');
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

  it('open as [erased] once the subject is erased', () => {
    const w = new Keyring(dir.path, 1);
    const { values: stored, sealed } = sealValues(w, values, 'batch:b1');
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
