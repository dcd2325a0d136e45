/**
 * Sealing personal fields at rest, per data subject (DESIGN decision 8).
 *
 * Each row gets a random 96-bit nonce and one ChaCha20 keystream under its subject's key (the
 * subject is `customer_id`, else `account_id`); the row's personal fields, in PII_FIELDS order,
 * take consecutive stretches of that stream. Bytes keep their length, so a silver column stays an
 * Arrow offsets+data column (typed Binary) and is sealed in place, in WASM, with no per-row object.
 * Beside the fields each row stores its key reference and nonce (`pii_key`, `pii_nonce`).
 *
 * Confidentiality only: the stream cipher has no tag. Integrity of the stored bytes is the job of
 * the checksums (each Parquet file's sha-256 in the manifest; LMDB's own page checks).
 */
import { randomFillSync } from 'node:crypto';
import { Binary, type Data, makeData, type Utf8 } from 'apache-arrow';
import { compress as lz4Compress, decompress as lz4Decompress } from 'lz4-wasm-nodejs';
import { utf8Column } from '../columns.ts';
import type { BinaryColumn, RowCipher } from './cipher.ts';
import { xorStream } from './cipher.ts';
import { ERASED, PII_FIELDS, type PiiField } from './fields.ts';
import type { KeyHandle, Keyring } from './keyring.ts';

/** A quarantine record's (or any single record's) sealed personal fields. */
export interface SealedFields {
  /** Key reference (writer × 2^32 + slot). */
  ref: number;
  /** base64 nonce. */
  nonce: string;
  /** base64 ciphertext per present personal field. */
  ct: Partial<Record<PiiField, string>>;
}

/** The subject of a record: its customer id, else its account id (as bytes in a latin1 string). */
export function subjectOfValues(values: Record<string, string | null>, fallback: string): string {
  const id = values.customer_id || values.account_id || fallback;
  return Buffer.from(id, 'utf8').toString('latin1');
}

/**
 * Seals records' personal fields (quarantined rows): returns each record's values with those
 * fields removed (null) and their sealed form (null when it had none). One WASM call for all the
 * records: node:crypto needs a `createCipheriv` per record, and a batch's quarantined rows each
 * have their own subject, so that cost 13 µs a row. A record's stream covers its present fields
 * in PII_FIELDS order, absent ones taking no bytes, which is exactly what `openValues` reads.
 */
export function sealRecords(
  ring: Keyring,
  cipher: RowCipher,
  records: readonly Record<string, string | null>[],
  fallbackSubject: string,
): { values: Record<string, string | null>; sealed: SealedFields | null }[] {
  const present = (v: string | null | undefined): v is string => v !== null && v !== undefined && v !== '';
  // Only records with a personal field get a subject key: a new subject costs the keyring a sync.
  const idx: number[] = [];
  for (let i = 0; i < records.length; i++) {
    const v = records[i] as Record<string, string | null>;
    for (const f of PII_FIELDS) {
      if (present(v[f])) {
        idx.push(i);
        break;
      }
    }
  }
  const m = idx.length;
  const handles = idx.map((i) =>
    ring.subjectKey(subjectOfValues(records[i] as Record<string, string | null>, fallbackSubject)),
  );
  const columns: BinaryColumn[] = PII_FIELDS.map((f) =>
    utf8Column(idx.map((i) => (records[i] as Record<string, string | null>)[f] || '')),
  );
  const { nonces } = sealColumns(cipher, m, (k) => handles[k] as KeyHandle, columns);
  const out = records.map((values) => ({ values, sealed: null as SealedFields | null }));
  idx.forEach((i, k) => {
    const values: Record<string, string | null> = { ...(records[i] as Record<string, string | null>) };
    const sealed: SealedFields = {
      ref: (handles[k] as KeyHandle).ref,
      nonce: Buffer.from(nonces.buffer, nonces.byteOffset + 12 * k, 12).toString('base64'),
      ct: {},
    };
    PII_FIELDS.forEach((f, c) => {
      const col = columns[c] as BinaryColumn;
      const s = col.offsets[k] as number;
      const e = col.offsets[k + 1] as number;
      if (e === s) return;
      sealed.ct[f] = Buffer.from(col.data.buffer, col.data.byteOffset + s, e - s).toString('base64');
      values[f] = null;
    });
    out[i] = { values, sealed };
  });
  return out;
}

/**
 * The record's values with its personal fields opened, or `[erased]` where the subject's key
 * is gone.
 */
export function openValues(
  ring: Keyring,
  values: Record<string, string | null>,
  sealed: SealedFields | null | undefined,
): Record<string, string | null> {
  if (!sealed) return { ...values };
  const out: Record<string, string | null> = { ...values };
  const key = ring.keyOf(sealed.ref);
  const present = PII_FIELDS.filter((f) => sealed.ct[f] !== undefined);
  if (!key) {
    for (const f of present) out[f] = ERASED;
    return out;
  }
  const parts = present.map((f) => Buffer.from(sealed.ct[f] as string, 'base64'));
  const pt = Buffer.from(xorStream(key, Buffer.from(sealed.nonce, 'base64'), 0, Buffer.concat(parts)));
  let at = 0;
  present.forEach((f, k) => {
    const len = (parts[k] as Buffer).length;
    out[f] = pt.toString('utf8', at, at + len);
    at += len;
  });
  return out;
}

/** The per-row key references and nonces of a sealed silver part. */
export interface SealedColumns {
  refs: BigInt64Array;
  nonces: Uint8Array;
}

let sealCalls = 0;

/**
 * Seals personal columns in place. `columns` are freshly gathered (so owned) offsets and bytes,
 * in PII_FIELDS order; `keyAt(k)` gives row k's subject key (from the ring:
 * one handle per subject).
 */
export function sealColumns(
  cipher: RowCipher,
  m: number,
  keyAt: (k: number) => KeyHandle,
  columns: readonly BinaryColumn[],
): SealedColumns {
  const refs = new BigInt64Array(m);
  // Written as (low, high) words: a BigInt per row would cost more than the sealing.
  const refWords = new Uint32Array(refs.buffer);
  const keyOfRow = new Uint32Array(m);
  // Each distinct key gets an index in this call, kept on its handle under the call's stamp: no
  // map lookup per row.
  const stamp = ++sealCalls;
  const keys: Uint8Array[] = [];
  for (let k = 0; k < m; k++) {
    const h = keyAt(k);
    if (h.sealStamp !== stamp) {
      h.sealStamp = stamp;
      h.sealAt = keys.length;
      keys.push(h.key);
    }
    keyOfRow[k] = h.sealAt as number;
    refWords[2 * k] = h.ref % 4294967296;
    refWords[2 * k + 1] = Math.floor(h.ref / 4294967296);
  }
  const keyBytes = new Uint8Array(32 * keys.length);
  keys.forEach((key, i) => {
    keyBytes.set(key, 32 * i);
  });
  const nonces = randomFillSync(new Uint8Array(12 * m));
  cipher.xorRows(keyBytes, keyOfRow, nonces, columns);
  return { refs, nonces };
}

/** The same bytes, typed Binary: sealed text is not UTF-8 and must not claim to be. */
export function asBinary(col: Data<Utf8>): Data<Binary> {
  return makeData({
    type: new Binary(),
    length: col.length,
    nullCount: col.nullCount,
    nullBitmap: col.nullBitmap,
    valueOffsets: col.valueOffsets,
    data: col.values,
  });
}

/** A Binary column of fixed-width values (the nonces). */
export function fixedBinary(bytes: Uint8Array, width: number, m: number): Data<Binary> {
  const offsets = new Int32Array(m + 1);
  for (let k = 0; k <= m; k++) offsets[k] = k * width;
  return makeData({ type: new Binary(), length: m, nullCount: 0, valueOffsets: offsets, data: bytes });
}

/** A body sealed as received. */
const BODY_MAGIC = 0x31424c53; // "SLB1"
/** A body compressed as one LZ4 block, its size in front, and then sealed (session 8 to 10). */
const BODY_MAGIC_LZ4 = 0x32424c53; // "SLB2"
/**
 * A body compressed in LZ4 blocks of at most `LZ4_CHUNK` bytes each, then sealed: each block as
 * its compressed length (u32 LE) and the block (its raw size in front, as in `SLB2`).
 */
const BODY_MAGIC_LZ4_CHUNKS = 0x33424c53; // "SLB3"
/**
 * Raw bytes per LZ4 block. The compressor runs in its own WASM instance, whose memory grows to
 * fit the largest input it has seen and never shrinks: blocks keep that at a few MiB where a
 * 64 MiB body would have left over 128 MiB behind in each pool worker.
 */
const LZ4_CHUNK = 4 * 2 ** 20;

/** The body as `SLB3` blocks, or null when they would not be smaller than the body. */
function lz4Chunks(body: Uint8Array): Uint8Array | null {
  const blocks: Uint8Array[] = [];
  let size = 0;
  for (let at = 0; at < body.byteLength; at += LZ4_CHUNK) {
    const block = lz4Compress(body.subarray(at, Math.min(body.byteLength, at + LZ4_CHUNK)));
    blocks.push(block);
    size += 4 + block.byteLength;
  }
  if (size >= body.byteLength) return null;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let w = 0;
  for (const block of blocks) {
    dv.setUint32(w, block.byteLength, true);
    out.set(block, w + 4);
    w += 4 + block.byteLength;
  }
  return out;
}

/** The raw bytes of `SLB3` blocks (throws on a malformed one). */
function unLz4Chunks(packed: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  let size = 0;
  for (let at = 0; at < packed.byteLength; ) {
    if (at + 4 > packed.byteLength) throw new Error('bronze: a torn LZ4 block header');
    const len = dv.getUint32(at, true);
    if (at + 4 + len > packed.byteLength) throw new Error('bronze: a torn LZ4 block');
    const part = lz4Block(packed.subarray(at + 4, at + 4 + len));
    parts.push(part);
    size += part.byteLength;
    at += 4 + len;
  }
  const out = new Uint8Array(size);
  let w = 0;
  for (const p of parts) {
    out.set(p, w);
    w += p.byteLength;
  }
  return out;
}

/** One LZ4 block with its size in front, decompressed. The library throws strings: made Errors. */
function lz4Block(block: Uint8Array): Uint8Array {
  try {
    return lz4Decompress(block);
  } catch (e) {
    throw e instanceof Error ? e : new Error(`bronze: an LZ4 block does not decompress (${String(e)})`);
  }
}

/**
 * A raw body compressed and sealed under this hour's body key: magic | key ref (f64) | nonce (12)
 * | ciphertext. Compression comes first because ciphertext does not compress. LZ4 (lz4_flex in
 * WASM, `lz4-wasm-nodejs`): an 8k-row Arrow body (1.35 MB) takes 1.8× less room, and sealing it
 * took about 3.3 ms of one core here against 6.2 ms with `lz4-napi` (the same lz4_flex, native,
 * but twice as slow on this machine) and zlib's fastest level 9 ms; a body that LZ4 would not
 * shrink (already compressed) is sealed as it is, under `SLB1`. The key is destroyed
 * when bronze retention ends, which is when the last raw copy of every subject in the body goes.
 */
export function sealBody(ring: Keyring, body: Uint8Array, receivedAt: number): Uint8Array {
  const { ref, key } = ring.bodyKey(receivedAt);
  const nonce = randomFillSync(new Uint8Array(12));
  const packed = lz4Chunks(body);
  const plain = packed ?? body;
  const out = new Uint8Array(24 + plain.byteLength);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, packed ? BODY_MAGIC_LZ4_CHUNKS : BODY_MAGIC, true);
  dv.setFloat64(4, ref, true);
  out.set(nonce, 12);
  out.set(xorStream(key, nonce, 0, plain), 24);
  return out;
}

/** A sealed body's envelope: its key reference and its magic (how the sealed bytes are packed). */
function envelope(sealed: Uint8Array): { ref: number; magic: number } | null {
  if (sealed.byteLength < 24) return null;
  const dv = new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const magic = dv.getUint32(0, true);
  if (magic !== BODY_MAGIC && magic !== BODY_MAGIC_LZ4 && magic !== BODY_MAGIC_LZ4_CHUNKS) return null;
  return { ref: dv.getFloat64(4, true), magic };
}

/** The key reference of a sealed body (to destroy it). */
export function bodyRef(sealed: Uint8Array): number | null {
  return envelope(sealed)?.ref ?? null;
}

/** The raw body, or null once its key is destroyed. */
export function openBody(ring: Keyring, sealed: Uint8Array): Uint8Array | null {
  const env = envelope(sealed);
  if (env === null) return null;
  const key = ring.keyOf(env.ref);
  if (!key) return null;
  const plain = xorStream(key, sealed.subarray(12, 24), 0, sealed.subarray(24));
  if (env.magic === BODY_MAGIC_LZ4_CHUNKS) return unLz4Chunks(plain);
  return env.magic === BODY_MAGIC_LZ4 ? lz4Block(plain) : plain;
}
