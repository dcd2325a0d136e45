/**
 * Subject key handles found by an id's bytes and their 64-bit hash, without making a string.
 *
 * Sealing needs each row's subject key, and a batch of payments from core banking names nearly
 * as many customers as it has rows. Looking each one up in a Map by a latin1 string (made for the
 * lookup, hashed by V8, compared in a large, cache-cold table) cost the pool workers about 0.4 µs
 * a row. Here the hash comes free from the batch's dictionary (wasm `account_key`, computed while
 * the batch's distinct values are found), the table is open addressing over typed arrays, and a
 * hit is confirmed against the id's stored bytes: a 64-bit collision must never seal one
 * subject's data under another's key, or erasing the first would leave that row readable.
 */

/** Slots a table starts with; it doubles whenever it would be more than half full. */
const FIRST_SLOTS = 1024;

export class SubjectTable<T> {
  private mask = FIRST_SLOTS - 1;
  /**
   * Per slot, side by side so a probe reads one cache line: the hash's two words, the entry's
   * index + 1 (0: empty), and where its record starts in `bytes`.
   */
  private slots = new Int32Array(4 * FIRST_SLOTS);
  private readonly values: T[] = [];
  /** Each entry's record: the id's length (two bytes, little-endian), then its bytes. */
  private bytes = new Uint8Array(1 << 16);
  private used = 0;

  /**
   * Holds up to `capacity` entries; `add` past that empties the table first (it is a cache). It
   * grows with its entries rather than starting at full size: a table sized to the subjects in
   * use stays in cache, where one sized for the most it may hold spreads them over megabytes.
   */
  constructor(readonly capacity: number) {}

  get size(): number {
    return this.values.length;
  }

  /** The value stored for the id `src[start, end)` with hash words (`lo`, `hi`), or undefined. */
  get(lo: number, hi: number, src: Uint8Array, start: number, end: number): T | undefined {
    const t = this.slots;
    const mask = this.mask;
    for (let at = lo & mask; ; at = (at + 1) & mask) {
      const e = t[4 * at + 2] as number;
      if (e === 0) return undefined;
      if (
        t[4 * at] === (lo | 0) &&
        t[4 * at + 1] === (hi | 0) &&
        this.sameBytes(t[4 * at + 3] as number, src, start, end)
      )
        return this.values[e - 1];
    }
  }

  /** Stores `value` for the id (not already present: `get` first). Ids up to 65,535 bytes. */
  add(lo: number, hi: number, src: Uint8Array, start: number, end: number, value: T): void {
    const len = end - start;
    if (len > 0xffff) return; // not cached: such an id takes `subjectKey`'s path every time
    if (this.values.length >= this.capacity) this.clear();
    if (this.used + 2 + len > this.bytes.length) {
      const grown = new Uint8Array(Math.max(2 * this.bytes.length, this.used + 2 + len));
      grown.set(this.bytes.subarray(0, this.used));
      this.bytes = grown;
    }
    const rec = this.used;
    this.bytes[rec] = len & 0xff;
    this.bytes[rec + 1] = len >> 8;
    this.bytes.set(src.subarray(start, end), rec + 2);
    this.used += 2 + len;
    this.values.push(value);
    if (2 * this.values.length > this.mask + 1) this.grow();
    this.place(lo, hi, this.values.length, rec);
  }

  clear(): void {
    this.mask = FIRST_SLOTS - 1;
    this.slots = new Int32Array(4 * FIRST_SLOTS);
    this.values.length = 0;
    this.used = 0;
  }

  private place(lo: number, hi: number, entry: number, rec: number): void {
    const t = this.slots;
    const mask = this.mask;
    let at = lo & mask;
    while (t[4 * at + 2] !== 0) at = (at + 1) & mask;
    t[4 * at] = lo;
    t[4 * at + 1] = hi;
    t[4 * at + 2] = entry;
    t[4 * at + 3] = rec;
  }

  private grow(): void {
    const old = this.slots;
    this.mask = 2 * (this.mask + 1) - 1;
    this.slots = new Int32Array(4 * (this.mask + 1));
    for (let at = 0; at < old.length; at += 4) {
      const e = old[at + 2] as number;
      if (e !== 0) this.place(old[at] as number, old[at + 1] as number, e, old[at + 3] as number);
    }
  }

  private sameBytes(rec: number, src: Uint8Array, start: number, end: number): boolean {
    const b = this.bytes;
    const len = end - start;
    if ((b[rec] as number) + ((b[rec + 1] as number) << 8) !== len) return false;
    for (let j = 0; j < len; j++) if (b[rec + 2 + j] !== src[start + j]) return false;
    return true;
  }
}
