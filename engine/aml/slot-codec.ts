/**
 * A shard's saved AML slot, as the kernel writes it (`State::pack`, wasm/src/aml.rs) and LMDB
 * keeps it: the header, then only the ring's live rows (oldest first) and the live
 * structuring-band rows. A resident slot is a fixed 1,152 bytes so the kernel can index it; most
 * accounts hold a handful of rows, so a packed slot is a tenth of that. The kernel packs when it
 * evicts and at checkpoints, and restores packed slots itself, so only packed slots cross into
 * JavaScript.
 *
 * The layout mirrors wasm/src/aml.rs (`W_META`, `W_EVENTS`, `RING`, `BAND`). A packed slot with a
 * full ring and band is exactly the resident layout with the ring starting at 0, and a value of the
 * full size stored before packing existed is restored as the resident slot it is.
 */
import { SluiceError } from '../errors.ts';

const W_META = 6;
const W_EVENTS = 8;
const RING = 64;
const BAND = 8;
const W_BAND = W_EVENTS + 2 * RING;
export const SLOT_WORDS = W_BAND + BAND;
const SLOT_BYTES = 8 * SLOT_WORDS;

/** The words of a packed slot whose header's `W_META` low word is `meta`. */
function packedWords(meta: number): number {
  return W_EVENTS + 2 * ((meta >>> 8) & 0xff) + ((meta >>> 16) & 0xff);
}

/**
 * Calls `fn` with each of `count` packed slots written back to back (a transfer buffer of the
 * kernel's, starting on 8 bytes): its account key and a copy of its bytes. A copy, not a view:
 * every holder keeps slots past the call (a store, a checkpoint's snapshot), and a view would keep
 * the whole transfer buffer alive for as long as one of its slots is.
 */
export function eachPacked(
  stream: Uint8Array,
  count: number,
  fn: (key: bigint, slot: Uint8Array) => void,
): void {
  const low = new Uint32Array(stream.buffer, stream.byteOffset, stream.byteLength >>> 2);
  const key = new BigUint64Array(stream.buffer, stream.byteOffset, stream.byteLength >>> 3);
  let at = 0;
  for (let k = 0; k < count; k++) {
    const words = packedWords(low[2 * (at + W_META)] as number);
    fn(key[at] as bigint, stream.slice(8 * at, 8 * (at + words)));
    at += words;
  }
}

/**
 * A stored value's length in words, checked against its own header before the kernel restores
 * it: packed, or the full size (stored before packing existed). A value that is neither was
 * damaged: it is refused with the reason, not restored as some other account's history.
 */
export function storedSlotWords(stored: Uint8Array): number {
  if (stored.byteLength === SLOT_BYTES) return SLOT_WORDS;
  if (stored.byteLength < 8 * W_EVENTS || stored.byteLength % 8 !== 0) {
    throw new SluiceError('AML_STATE', 'a stored AML slot is truncated');
  }
  // The low word of W_META, little-endian, read byte by byte: no view object per slot.
  const m = 8 * W_META;
  const meta =
    ((stored[m] as number) |
      ((stored[m + 1] as number) << 8) |
      ((stored[m + 2] as number) << 16) |
      ((stored[m + 3] as number) << 24)) >>>
    0;
  const words = packedWords(meta);
  if (((meta >>> 8) & 0xff) > RING || ((meta >>> 16) & 0xff) > BAND || stored.byteLength !== 8 * words) {
    throw new SluiceError('AML_STATE', 'a stored AML slot does not match its own header');
  }
  return words;
}
