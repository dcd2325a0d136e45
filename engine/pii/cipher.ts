/**
 * ChaCha20 (RFC 8439) over personal fields at rest, one key per data subject (crypto-shredding:
 * forget the key and the subject's bytes are noise). Silver keeps those fields in Arrow Binary
 * columns; a stream cipher keeps every value's length, so a column is encrypted in place and its
 * offsets stay valid.
 *
 * The stream of a row: the subject's key, the row's 12-byte nonce, block counter from 0, running
 * across the row's fields in column order (field c starts at the sum of the lengths of fields
 * 0..c-1), so no two fields of a row reuse keystream. XOR is its own inverse: one call encrypts
 * and decrypts.
 *
 * Two ways to the same bytes: `RowCipher.xorRows`, the WASM kernel (wasm/src/cipher.rs) for whole
 * batches, because node:crypto costs one `createCipheriv` per row (about 2.2 µs) when every row has
 * its own key; and `xorStream`, node:crypto for one value off the hot path (decrypting a row for a
 * reply). test/pii/cipher.test.ts holds them to the same bytes.
 */
import { createCipheriv } from 'node:crypto';
import { SluiceError } from '../errors.ts';
import { WasmMemory } from '../wasm-memory.ts';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
/** `keyOfRow` value of a row to leave untouched (no subject, or a shredded key). */
export const SKIP_ROW = 0xffff_ffff;

const BLOCK = 64;
/** The block counter is 32 bits: a stream is at most 2^32 blocks long. */
const MAX_STREAM_BYTES = 2 ** 32 * BLOCK;

/** An Arrow Binary (or Utf8) column: `n + 1` offsets into `data`. */
export interface BinaryColumn {
  offsets: Int32Array;
  data: Uint8Array;
}

interface CipherExports {
  cipher_max_columns(): number;
  cipher_xor_rows(
    keys: number,
    k: number,
    keyOfRow: number,
    nonces: number,
    n: number,
    desc: number,
    m: number,
  ): number;
}

/** The kernel's refusals (wasm/src/cipher.rs `CipherError`, and ffi.rs's column limit). */
const REFUSALS: Record<number, string> = {
  [-1]: 'keys are not a whole number of 32-byte keys',
  [-2]: 'nonces are not 12 bytes per row',
  [-3]: 'a row names a key past the end of keys',
  [-4]: 'a column has decreasing, negative or out-of-range offsets',
  [-5]: 'too many columns',
};

function refuse(message: string): SluiceError {
  return new SluiceError('INTERNAL', `row cipher: ${message}`);
}

/** Batch encryption in a WASM instance (one per thread: pass the thread's, or it makes one). */
export class RowCipher {
  readonly memory: WasmMemory;
  /** Most columns one call takes (the kernel's column views live on its stack). */
  readonly maxColumns: number;
  private readonly x: CipherExports;

  constructor(memory = new WasmMemory()) {
    this.memory = memory;
    this.x = memory.exports as unknown as CipherExports;
    this.maxColumns = this.x.cipher_max_columns();
  }

  /**
   * XORs every row's fields with the row's keystream, in place in each column's `data`: row i uses
   * key `keys[32 keyOfRow[i] ..]` and nonce `nonces[12 i ..]`; rows whose key is `SKIP_ROW` keep
   * their bytes. Nothing changes when the batch is refused (the kernel checks before it writes).
   */
  xorRows(
    keys: Uint8Array,
    keyOfRow: Uint32Array,
    nonces: Uint8Array,
    columns: readonly BinaryColumn[],
  ): void {
    const n = keyOfRow.length;
    if (keys.length % KEY_BYTES !== 0) throw refuse(REFUSALS[-1] as string);
    if (nonces.length !== NONCE_BYTES * n) throw refuse(REFUSALS[-2] as string);
    if (columns.length > this.maxColumns) throw refuse(`more than ${this.maxColumns} columns`);
    const ends = columns.map((c, k) => {
      if (c.offsets.length < n + 1) throw refuse(`column ${k} has fewer than ${n + 1} offsets`);
      const end = c.offsets[n] as number;
      if (end < 0 || end > c.data.length) throw refuse(`column ${k} has offsets past its data`);
      return end;
    });
    const m = this.memory;
    m.reset();
    const keysPtr = m.copyIn(keys);
    const rowsPtr = m.copyIn(keyOfRow);
    const noncesPtr = m.copyIn(nonces);
    // Built locally and copied in last: each allocation may grow (and so detach) the memory.
    const desc = new Uint32Array(2 * columns.length);
    columns.forEach((c, k) => {
      desc[2 * k] = m.copyIn(c.offsets.length === n + 1 ? c.offsets : c.offsets.subarray(0, n + 1));
      desc[2 * k + 1] = m.copyIn(c.data.subarray(0, ends[k]));
    });
    const descPtr = m.copyIn(desc);
    const rc = this.x.cipher_xor_rows(
      keysPtr,
      keys.length / KEY_BYTES,
      rowsPtr,
      noncesPtr,
      n,
      descPtr,
      columns.length,
    );
    // Key material does not outlive the call in the instance's memory, which is reused for
    // other batches and other subjects.
    new Uint8Array(m.buffer, keysPtr, keys.length).fill(0);
    if (rc !== 0) throw refuse(REFUSALS[rc] ?? `cipher_xor_rows returned ${rc}`);
    columns.forEach((c, k) => {
      c.data.set(new Uint8Array(m.buffer, desc[2 * k + 1] as number, ends[k] as number));
    });
    m.reset();
  }
}

/**
 * `bytes` XORed with the keystream of (`key`, `nonce`) from byte `streamOffset` on, by
 * node:crypto: the same bytes `RowCipher.xorRows` gives a field that starts at `streamOffset` in
 * its row's stream. For single values; a new array, `bytes` is not changed.
 */
export function xorStream(
  key: Uint8Array,
  nonce: Uint8Array,
  streamOffset: number,
  bytes: Uint8Array,
): Uint8Array {
  if (key.length !== KEY_BYTES) throw refuse(`a key is ${KEY_BYTES} bytes, not ${key.length}`);
  if (nonce.length !== NONCE_BYTES) throw refuse(`a nonce is ${NONCE_BYTES} bytes, not ${nonce.length}`);
  if (
    !Number.isSafeInteger(streamOffset) ||
    streamOffset < 0 ||
    streamOffset + bytes.length > MAX_STREAM_BYTES
  ) {
    throw refuse(`stream offset ${streamOffset} is outside the 32-bit block counter`);
  }
  // node:crypto's ChaCha20 IV is the RFC 8439 state words 12-15: counter (LE u32) then nonce.
  const iv = Buffer.alloc(16);
  iv.writeUInt32LE(Math.floor(streamOffset / BLOCK), 0);
  iv.set(nonce, 4);
  const cipher = createCipheriv('chacha20', key, iv);
  const skip = streamOffset % BLOCK;
  if (skip > 0) cipher.update(Buffer.alloc(skip));
  // A copy: small Buffers may be views into Node's shared pool.
  return new Uint8Array(cipher.update(bytes));
}
