/**
 * The row cipher: the WASM kernel (`RowCipher.xorRows`) against node:crypto (`xorStream`) field by
 * field at the field's place in its row's stream, on random batches; and both against RFC 8439.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BinaryColumn, NONCE_BYTES, RowCipher, SKIP_ROW, xorStream } from '../../engine/pii/cipher.ts';

const RUNS = Number(process.env.SLUICE_PROPERTY_RUNS ?? 200);
const cipher = new RowCipher();

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const RFC_KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const SUNSCREEN = new TextEncoder().encode(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const SUNSCREEN_CIPHERTEXT = hex(`
  6e2e359a2568f98041ba0728dd0d6981 e97e7aec1d4360c20a27afccfd9fae0b f91b65c5524733ab8f593dabcd62b357
  1639d624e65152ab8f530c359f0861d8 07ca0dbf500d6a6156a38e088a22b65e 52bc514d16ccf806818ce91ab7793736
  5af90bbf74a35be6b40b8eedf2785e42 874d`);

/** A Binary column holding `fields`, after `lead` bytes of junk and before 3 more (offsets start at `lead`). */
function column(fields: Uint8Array[], lead = 0): BinaryColumn {
  const total = fields.reduce((s, f) => s + f.length, 0);
  const data = new Uint8Array(lead + total + 3).fill(0xa5);
  const offsets = new Int32Array(fields.length + 1);
  let at = lead;
  offsets[0] = at;
  fields.forEach((f, i) => {
    data.set(f, at);
    at += f.length;
    offsets[i + 1] = at;
  });
  return { offsets, data };
}

const field = (c: BinaryColumn, i: number) => c.data.subarray(c.offsets[i], c.offsets[i + 1]);
const copy = (c: BinaryColumn): BinaryColumn => ({ offsets: c.offsets.slice(), data: c.data.slice() });
/** Byte equality without the element-by-element diff of `toEqual` (slow on megabytes). */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

/** What node:crypto says every column's data should become. */
function expected(keys: Uint8Array, keyOfRow: Uint32Array, nonces: Uint8Array, cols: BinaryColumn[]) {
  const out = cols.map((c) => c.data.slice());
  keyOfRow.forEach((r, i) => {
    if (r === SKIP_ROW) return;
    const key = keys.subarray(32 * r, 32 * r + 32);
    const nonce = nonces.subarray(NONCE_BYTES * i, NONCE_BYTES * (i + 1));
    let pos = 0;
    cols.forEach((c, k) => {
      const f = field(c, i);
      (out[k] as Uint8Array).set(xorStream(key, nonce, pos, f), c.offsets[i]);
      pos += f.length;
    });
  });
  return out;
}

const fieldBytes = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ minLength: 65, maxLength: 200 }),
);

const batch = fc
  .record({
    k: fc.integer({ min: 1, max: 5 }),
    n: fc.integer({ min: 0, max: 24 }),
    m: fc.integer({ min: 1, max: 8 }),
  })
  .chain(({ k, n, m }) =>
    fc.record({
      keys: fc.uint8Array({ minLength: 32 * k, maxLength: 32 * k }),
      keyOfRow: fc.array(
        fc.oneof(
          { arbitrary: fc.integer({ min: 0, max: k - 1 }), weight: 5 },
          { arbitrary: fc.constant(SKIP_ROW), weight: 1 },
        ),
        { minLength: n, maxLength: n },
      ),
      nonces: fc.uint8Array({ minLength: 12 * n, maxLength: 12 * n }),
      columns: fc.array(
        fc.record({
          fields: fc.array(fieldBytes, { minLength: n, maxLength: n }),
          lead: fc.integer({ min: 0, max: 5 }),
        }),
        { minLength: m, maxLength: m },
      ),
    }),
  )
  .map((b) => ({
    keys: b.keys,
    keyOfRow: Uint32Array.from(b.keyOfRow),
    nonces: b.nonces,
    columns: b.columns.map((c) => column(c.fields, c.lead)),
  }));

describe('RFC 8439 §2.4.2', () => {
  const nonce = hex('000000000000004a00000000');

  it('xorStream from block 1 gives the RFC ciphertext', () => {
    expect(xorStream(RFC_KEY, nonce, 64, SUNSCREEN)).toEqual(SUNSCREEN_CIPHERTEXT);
    expect(xorStream(RFC_KEY, nonce, 64, SUNSCREEN_CIPHERTEXT)).toEqual(SUNSCREEN);
  });

  it('the WASM kernel gives the RFC ciphertext to a field that starts at stream byte 64', () => {
    // The kernel's rows start at block 0; a 64-byte first field uses it up.
    const cols = [column([new Uint8Array(64)]), column([SUNSCREEN])];
    cipher.xorRows(RFC_KEY, Uint32Array.of(0), nonce, cols);
    expect(field(cols[1] as BinaryColumn, 0)).toEqual(SUNSCREEN_CIPHERTEXT);
  });
});

describe('RowCipher.xorRows', () => {
  it('equals xorStream per field at its offset in the row stream, and leaves skipped rows and junk alone', () => {
    fc.assert(
      fc.property(batch, ({ keys, keyOfRow, nonces, columns }) => {
        const want = expected(keys, keyOfRow, nonces, columns);
        const plain = columns.map((c) => c.data.slice());
        cipher.xorRows(keys, keyOfRow, nonces, columns);
        columns.forEach((c, k) => {
          expect(c.data).toEqual(want[k]);
        });
        // Skipped rows, and the bytes before the first offset and after the last, are as they were.
        columns.forEach((c, k) => {
          const p = plain[k] as Uint8Array;
          expect(c.data.subarray(0, c.offsets[0])).toEqual(p.subarray(0, c.offsets[0]));
          expect(c.data.subarray(c.offsets[keyOfRow.length])).toEqual(p.subarray(c.offsets[keyOfRow.length]));
          keyOfRow.forEach((r, i) => {
            if (r === SKIP_ROW) expect(field(c, i)).toEqual(p.subarray(c.offsets[i], c.offsets[i + 1]));
          });
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('run twice, restores every column', () => {
    fc.assert(
      fc.property(batch, ({ keys, keyOfRow, nonces, columns }) => {
        const plain = columns.map(copy);
        cipher.xorRows(keys, keyOfRow, nonces, columns);
        cipher.xorRows(keys, keyOfRow, nonces, columns);
        expect(columns).toEqual(plain);
      }),
      { numRuns: RUNS },
    );
  });

  it('leaves rows keyed SKIP_ROW byte for byte, and they do not shift the stream of other rows', () => {
    const keys = randomBytes(64);
    const nonces = randomBytes(36);
    const rows = [randomBytes(90), randomBytes(90), randomBytes(90)];
    const cols = [column(rows)];
    cipher.xorRows(keys, Uint32Array.of(1, SKIP_ROW, 0), nonces, cols);
    const c = cols[0] as BinaryColumn;
    expect(field(c, 1)).toEqual(new Uint8Array(rows[1] as Buffer));
    expect(field(c, 0)).toEqual(xorStream(keys.subarray(32), nonces.subarray(0, 12), 0, rows[0] as Buffer));
    expect(field(c, 2)).toEqual(xorStream(keys.subarray(0, 32), nonces.subarray(24), 0, rows[2] as Buffer));
  });

  it('accepts offsets arrays longer than the batch (Arrow slices) and uses the first n + 1', () => {
    const keys = randomBytes(32);
    const nonces = randomBytes(12);
    const c = column([randomBytes(10), randomBytes(10)]);
    const plain = c.data.slice();
    cipher.xorRows(keys, Uint32Array.of(0), nonces, [c]);
    expect(field(c, 0)).toEqual(xorStream(keys, nonces, 0, plain.subarray(0, 10)));
    expect(field(c, 1)).toEqual(plain.subarray(10, 20));
  });

  it('grows the instance memory for a 65,536-row batch and still agrees with xorStream', () => {
    const own = new RowCipher();
    const n = 65_536;
    const keys = randomBytes(32 * 4096);
    const keyOfRow = Uint32Array.from({ length: n }, (_, i) => (i * 7919) % 4096);
    const nonces = randomBytes(12 * n);
    const pool = randomBytes(4096);
    // Field lengths 0-96 that differ by row and column; bytes are windows of one random pool.
    const cols = [12, 30, 0, 48].map((len, k) =>
      column(Array.from({ length: n }, (_, i) => pool.subarray(i % 3000, (i % 3000) + ((len + i + k) % 97)))),
    );
    const before = own.memory.byteLength;
    const bytes = cols.reduce((s, c) => s + c.data.length + c.offsets.byteLength, 0);
    expect(bytes).toBeGreaterThan(before);
    const plain = cols.map(copy);
    own.xorRows(keys, keyOfRow, nonces, cols);
    expect(own.memory.byteLength).toBeGreaterThan(before);
    for (let i = 0; i < n; i += 997) {
      const r = keyOfRow[i] as number;
      let pos = 0;
      cols.forEach((c, k) => {
        const p = field(plain[k] as BinaryColumn, i);
        const want = xorStream(
          keys.subarray(32 * r, 32 * r + 32),
          nonces.subarray(12 * i, 12 * i + 12),
          pos,
          p,
        );
        expect(field(c, i), `row ${i} column ${k}`).toEqual(want);
        pos += p.length;
      });
    }
    own.xorRows(keys, keyOfRow, nonces, cols);
    cols.forEach((c, k) => {
      expect(same(c.data, (plain[k] as BinaryColumn).data), `column ${k}`).toBe(true);
    });
  });

  it('refuses a bad batch and changes nothing, and the key bytes do not stay in WASM memory', () => {
    const keys = randomBytes(64);
    const nonces = randomBytes(24);
    const c = column([randomBytes(5), randomBytes(5)]);
    const plain = copy(c);
    expect(() => cipher.xorRows(keys, Uint32Array.of(0, 2), nonces, [c])).toThrow(/past the end of keys/);
    expect(() => cipher.xorRows(keys.subarray(1), Uint32Array.of(0, 1), nonces, [c])).toThrow(/32-byte keys/);
    expect(() => cipher.xorRows(keys, Uint32Array.of(0, 1), nonces.subarray(1), [c])).toThrow(/12 bytes/);
    const decreasing = { offsets: Int32Array.of(0, 6, 5), data: c.data };
    expect(() => cipher.xorRows(keys, Uint32Array.of(0, 1), nonces, [decreasing])).toThrow(/offsets/);
    expect(() =>
      cipher.xorRows(keys, Uint32Array.of(0, 1), nonces, [{ ...c, offsets: Int32Array.of(0, 5, 99) }]),
    ).toThrow(/past its data/);
    const many = Array.from({ length: cipher.maxColumns + 1 }, () =>
      column([new Uint8Array(1), new Uint8Array(1)]),
    );
    expect(() => cipher.xorRows(keys, Uint32Array.of(0, 1), nonces, many)).toThrow(/columns/);
    expect(c).toEqual(plain);
    cipher.xorRows(keys, Uint32Array.of(0, 1), nonces, [c]);
    const mem = Buffer.from(cipher.memory.buffer);
    expect(mem.indexOf(keys.subarray(0, 32))).toBe(-1);
    expect(mem.indexOf(keys.subarray(32))).toBe(-1);
  });
});

describe('xorStream', () => {
  it('continues one stream across calls at any offset, mid-block included', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const whole = randomBytes(300);
    const once = xorStream(key, nonce, 0, whole);
    for (const cut of [1, 63, 64, 65, 128, 200]) {
      const parts = [
        xorStream(key, nonce, 0, whole.subarray(0, cut)),
        xorStream(key, nonce, cut, whole.subarray(cut)),
      ];
      expect(Buffer.concat(parts)).toEqual(Buffer.from(once));
    }
  });

  it('refuses wrong key and nonce lengths and offsets past the 32-bit counter', () => {
    const b = new Uint8Array(4);
    expect(() => xorStream(new Uint8Array(31), new Uint8Array(12), 0, b)).toThrow(/key/);
    expect(() => xorStream(new Uint8Array(32), new Uint8Array(8), 0, b)).toThrow(/nonce/);
    expect(() => xorStream(new Uint8Array(32), new Uint8Array(12), -1, b)).toThrow(/offset/);
    expect(() => xorStream(new Uint8Array(32), new Uint8Array(12), 2 ** 38, b)).toThrow(/offset/);
  });
});
