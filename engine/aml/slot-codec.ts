/**
 * A shard's saved AML slot, packed for LMDB: the header, then only the ring's live rows (oldest
 * first) and the live structuring-band rows. A resident slot is a fixed 1,152 bytes so the kernel
 * can index it; most accounts hold a handful of rows, so a packed slot is a tenth of that, and a
 * checkpoint dirties (and writes, and syncs) a tenth of the pages.
 *
 * The layout mirrors wasm/src/aml.rs (`W_META`, `W_EVENTS`, `RING`, `BAND`); the round-trip test
 * scores through packed slots and must get what the kernel got without them. A packed slot with a
 * full ring and band is exactly the resident layout with the ring starting at 0, so a value of the
 * full size reads the same either way, as do values stored before packing existed.
 */
import { SluiceError } from '../errors.ts';

const W_META = 6;
const W_EVENTS = 8;
const RING = 64;
const BAND = 8;
const W_BAND = W_EVENTS + 2 * RING;
export const SLOT_WORDS = W_BAND + BAND;
const SLOT_BYTES = 8 * SLOT_WORDS;

/** Words of a u64 slot, as u32 pairs (little-endian: low word first). */
function words(bytes: Uint8Array): Uint32Array {
  if (bytes.byteOffset % 4 === 0)
    return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Uint32Array(bytes.slice().buffer);
}

function metaOf(w: Uint32Array): { head: number; len: number; band: number } {
  const m = w[2 * W_META] as number;
  return { head: m & 0xff, len: (m >>> 8) & 0xff, band: (m >>> 16) & 0xff };
}

/** The packed form of a resident slot (`SLOT_BYTES` long). */
export function packSlot(slot: Uint8Array): Uint8Array {
  if (slot.byteLength !== SLOT_BYTES) throw new SluiceError('AML_STATE', 'an AML slot has the wrong size');
  const w = words(slot);
  const { head, len, band } = metaOf(w);
  const out = new Uint32Array(2 * (W_EVENTS + 2 * len + band));
  out.set(w.subarray(0, 2 * W_EVENTS));
  out[2 * W_META] = (w[2 * W_META] as number) & ~0xff; // the ring starts at 0
  for (let j = 0; j < len; j++) {
    const p = (head + j) & (RING - 1);
    out.set(w.subarray(2 * (W_EVENTS + 2 * p), 2 * (W_EVENTS + 2 * p + 2)), 2 * (W_EVENTS + 2 * j));
  }
  out.set(w.subarray(2 * W_BAND, 2 * (W_BAND + band)), 2 * (W_EVENTS + 2 * len));
  return new Uint8Array(out.buffer);
}

/** The resident slot of a stored value, packed or full. */
export function unpackSlot(stored: Uint8Array): Uint8Array {
  if (stored.byteLength === SLOT_BYTES) return stored.slice();
  const w = words(stored);
  if (w.length < 2 * W_EVENTS) throw new SluiceError('AML_STATE', 'a stored AML slot is truncated');
  const { len, band } = metaOf(w);
  if (w.length !== 2 * (W_EVENTS + 2 * len + band) || len > RING || band > BAND) {
    throw new SluiceError('AML_STATE', 'a stored AML slot does not match its own header');
  }
  const out = new Uint32Array(2 * SLOT_WORDS);
  out.set(w.subarray(0, 2 * (W_EVENTS + 2 * len)));
  out.set(w.subarray(2 * (W_EVENTS + 2 * len)), 2 * W_BAND);
  return new Uint8Array(out.buffer);
}
