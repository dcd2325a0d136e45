/**
 * The keyring: one random 256-bit key per data subject (and one per bronze body), kept OUTSIDE
 * LMDB so that destroying a key really destroys it (DESIGN decision 8, crypto-shredding).
 *
 * Why not LMDB: it is copy-on-write, so a deleted value lives on in freed pages until they happen
 * to be reused; a "destroyed" key could still be read from `data.mdb`. Here every key sits in a
 * fixed 64-byte slot of a plain file, and destroying it overwrites that slot in place with zeros
 * and syncs. (On a copy-on-write or wear-levelled device the block layer may still keep an old copy:
 * put `keys/` on a volume with encryption at rest, see the README's security section.)
 *
 * Files, under `<data-dir>/keys/`:
 *   pepper          32 random bytes: subject tags are HMAC-SHA256(pepper, subject id), so the ring
 *                   never holds a subject id and a guessed id cannot be confirmed without the pepper
 *   ring-<w>.bin    the slots appended by writer thread w (one writer per file: no locking; a slot's
 *                   reference is w × 2^32 + its index)
 *   epoch           a counter bumped by every destruction: threads drop their cached keys when it moves
 *
 * Slot layout: tag (16) | key (32) | kind (1: subject, 2: bronze body) | 3 reserved | created, unix
 * seconds (u32 LE) | 8 reserved. A destroyed slot is all zeros. A new key is written (not yet
 * synced) when first needed; `sync()` makes the thread's new keys durable and must run before the
 * commit whose ciphertext uses them.
 */
import { createHmac, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { SubjectTable } from './subject-table.ts';

export const SLOT = 64;
const KEY_AT = 16;
const KIND_AT = 48;
const CREATED_AT = 52;
export const KIND_SUBJECT = 1;
export const KIND_BODY = 2;
const WRITER_SPAN = 2 ** 32;
/** Cached subject keys per thread; past this the cache is dropped and refilled from the ring. */
const MAX_CACHED = 200_000;

export interface KeyHandle {
  /** Where the key lives: writer × 2^32 + slot. Stored beside every ciphertext. */
  ref: number;
  key: Uint8Array;
  /** Scratch for one sealing call (engine/pii/seal.ts): the call's stamp and the key's index in it. */
  sealStamp?: number;
  sealAt?: number;
}

const ringName = (writer: number) => `ring-${writer}.bin`;
const writerOf = (name: string) => {
  const m = /^ring-(\d+)\.bin$/.exec(name);
  return m ? Number(m[1]) : -1;
};

export function keysDir(dataDir: string): string {
  return join(dataDir, 'keys');
}

function loadPepper(dir: string): Buffer {
  const path = join(dir, 'pepper');
  if (!existsSync(path)) {
    // Written once, atomically, before any tag exists; every thread then reads the same bytes.
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, randomBytes(32), { mode: 0o600 });
    try {
      if (!existsSync(path)) renameSync(tmp, path);
    } catch {
      // another thread won; use its pepper
    }
  }
  return readFileSync(path);
}

function readEpoch(dir: string): number {
  try {
    return readFileSync(join(dir, 'epoch')).readUInt32LE(0);
  } catch {
    return 0;
  }
}

/** A subject's tag: what the ring stores instead of the subject id. */
export function subjectTag(pepper: Uint8Array, subject: Uint8Array): Buffer {
  return createHmac('sha256', pepper).update(subject).digest().subarray(0, 16);
}

export class Keyring {
  readonly dir: string;
  readonly writer: number;
  private readonly pepper: Buffer;
  private fd: number;
  private slots: number;
  /** New slots not yet written, from slot `pendingFrom` on. */
  private pending: Buffer[] = [];
  private pendingFrom = 0;
  private epoch: number;
  /** subject id → its key in this writer's file. */
  private readonly bySubject = new Map<string, KeyHandle>();
  /** The same handles by the id's bytes and hash, for sealing's column path (`subjectKeyOf`). */
  private readonly byBytes = new SubjectTable<KeyHandle>(MAX_CACHED);
  /** tag (hex) → slot, for this writer's file. */
  private readonly byTag = new Map<string, number>();
  /**
   * writer → slot → key, for keys read from any writer's file (decryption). Nested so that both
   * levels are small-integer keys: a ref (writer × 2^32 + slot) is a heap number, whose lookups in
   * a Map of this size cost several times more.
   */
  private readonly byRef = new Map<number, Map<number, Uint8Array | null>>();
  private cachedRefs = 0;
  private readonly readers = new Map<number, number>();
  private hourKey: { hour: number; handle: KeyHandle } | null = null;

  /** Opens (creating if needed) writer `writer`'s ring file under `<dataDir>/keys`. */
  constructor(dataDir: string, writer: number) {
    this.dir = keysDir(dataDir);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.writer = writer;
    this.pepper = loadPepper(this.dir);
    this.fd = openSync(join(this.dir, ringName(writer)), 'a+', 0o600);
    this.slots = 0;
    this.epoch = readEpoch(this.dir);
    this.indexOwnFile();
  }

  private indexOwnFile(): void {
    this.byTag.clear();
    const size = fstatSync(this.fd).size;
    // A torn slot at the end (a crash mid-append) never backed a commit: it is ignored and overwritten.
    this.slots = Math.floor(size / SLOT);
    const buf = Buffer.alloc(this.slots * SLOT);
    if (buf.length > 0) readSync(this.fd, buf, 0, buf.length, 0);
    for (let s = 0; s < this.slots; s++) {
      if (buf[s * SLOT + KIND_AT] !== KIND_SUBJECT) continue;
      this.byTag.set(buf.toString('hex', s * SLOT, s * SLOT + 16), s);
    }
  }

  /**
   * Drops every cached key if any key was destroyed since this thread last looked (an erasure in
   * another thread). Call once per batch, before the keyring is used for it.
   */
  refresh(): void {
    const e = readEpoch(this.dir);
    if (e === this.epoch) return;
    this.sync(); // slots are numbered from the file's end: write what is pending first
    this.epoch = e;
    this.bySubject.clear();
    this.byBytes.clear();
    this.byRef.clear();
    this.cachedRefs = 0;
    this.hourKey = null;
    this.indexOwnFile();
  }

  /**
   * The subject's key, created (unsynced) on first sight. `subject` is the id's bytes as a latin1
   * string (1:1 with the bytes, and cheaper to make from a column than UTF-8 text).
   */
  subjectKey(subject: string): KeyHandle {
    const hit = this.bySubject.get(subject);
    if (hit) return hit;
    if (this.bySubject.size >= MAX_CACHED) this.bySubject.clear();
    const tag = subjectTag(this.pepper, Buffer.from(subject, 'latin1'));
    const hex = tag.toString('hex');
    const slot = this.byTag.get(hex);
    let h: KeyHandle;
    if (slot !== undefined) {
      const key = this.readSlotKey(this.fd, slot);
      h = key ? { ref: this.writer * WRITER_SPAN + slot, key } : this.append(tag, KIND_SUBJECT);
    } else {
      h = this.append(tag, KIND_SUBJECT);
    }
    this.byTag.set(hex, h.ref % WRITER_SPAN);
    this.bySubject.set(subject, h);
    return h;
  }

  /**
   * `subjectKey` for an id given as the bytes `src[start, end)` and their account key (wasm
   * `account_key`, as low and high words, from the batch's dictionary): no string is made unless
   * this thread has not seen the id since its cache was last dropped.
   */
  subjectKeyOf(lo: number, hi: number, src: Uint8Array, start: number, end: number): KeyHandle {
    const hit = this.byBytes.get(lo, hi, src, start, end);
    if (hit) return hit;
    const h = this.subjectKey(
      Buffer.from(src.buffer, src.byteOffset, src.byteLength).toString('latin1', start, end),
    );
    this.byBytes.add(lo, hi, src, start, end, h);
    return h;
  }

  /**
   * The key for bronze bodies received this hour by this thread. One key per hour, not per body:
   * a new key costs a sync, and retention is counted in days, so an hour's bodies expire together
   * and their key is destroyed once the last of them has (`destroyBodyKeysBefore`).
   */
  bodyKey(now: number = Date.now()): KeyHandle {
    const hour = Math.floor(now / 3_600_000);
    if (this.hourKey && this.hourKey.hour === hour) return this.hourKey.handle;
    const handle = this.append(randomBytes(16), KIND_BODY, now);
    this.hourKey = { hour, handle };
    return handle;
  }

  private append(tag: Uint8Array, kind: number, now: number = Date.now()): KeyHandle {
    const rec = Buffer.alloc(SLOT);
    rec.set(tag, 0);
    const key = randomBytes(32);
    key.copy(rec, KEY_AT);
    rec[KIND_AT] = kind;
    rec.writeUInt32LE(Math.floor(now / 1000), CREATED_AT);
    // Written at `sync()`, in one write with the batch's other new keys (a syscall per key cost
    // more than the sealing), and readable here meanwhile.
    if (this.pending.length === 0) this.pendingFrom = this.slots;
    this.pending.push(rec);
    const handle = { ref: this.writer * WRITER_SPAN + this.slots++, key: new Uint8Array(key) };
    this.cacheRef(this.writer, this.slots - 1, handle.key);
    return handle;
  }

  /** Makes this thread's new keys durable. Call before committing anything encrypted with them. */
  sync(): void {
    if (this.pending.length === 0) return;
    const all = Buffer.concat(this.pending);
    writeSync(this.fd, all, 0, all.length, this.pendingFrom * SLOT);
    fdatasyncSync(this.fd);
    all.fill(0);
    for (const rec of this.pending) rec.fill(0);
    this.pending = [];
  }

  /** The key behind a reference, or null once destroyed (or never written). */
  keyOf(ref: number): Uint8Array | null {
    const writer = Math.floor(ref / WRITER_SPAN);
    const slot = ref % WRITER_SPAN;
    const cached = this.byRef.get(writer)?.get(slot);
    if (cached !== undefined) return cached;
    let fd = writer === this.writer ? this.fd : this.readers.get(writer);
    if (fd === undefined) {
      try {
        fd = openSync(join(this.dir, ringName(writer)), 'r');
      } catch {
        return null;
      }
      this.readers.set(writer, fd);
    }
    const key = this.readSlotKey(fd, slot);
    this.cacheRef(writer, slot, key);
    return key;
  }

  private cacheRef(writer: number, slot: number, key: Uint8Array | null): void {
    if (this.cachedRefs >= MAX_CACHED) {
      this.byRef.clear();
      this.cachedRefs = 0;
    }
    let ofWriter = this.byRef.get(writer);
    if (!ofWriter) {
      ofWriter = new Map();
      this.byRef.set(writer, ofWriter);
    }
    if (!ofWriter.has(slot)) this.cachedRefs++;
    ofWriter.set(slot, key);
  }

  private readSlotKey(fd: number, slot: number): Uint8Array | null {
    const rec = Buffer.alloc(SLOT);
    if (readSync(fd, rec, 0, SLOT, slot * SLOT) < SLOT) return null;
    if (rec[KIND_AT] === 0) return null;
    return new Uint8Array(rec.subarray(KEY_AT, KEY_AT + 32));
  }

  close(): void {
    this.sync();
    closeSync(this.fd);
    for (const fd of this.readers.values()) closeSync(fd);
    this.readers.clear();
  }
}

/** Zeroes the given slots in place, syncs, and bumps the epoch so every thread drops its caches. */
function destroySlots(dir: string, slots: { writer: number; slot: number }[]): void {
  const zeros = Buffer.alloc(SLOT);
  const byWriter = new Map<number, number[]>();
  for (const s of slots) byWriter.set(s.writer, [...(byWriter.get(s.writer) ?? []), s.slot]);
  for (const [writer, list] of byWriter) {
    const fd = openSync(join(dir, ringName(writer)), 'r+');
    try {
      for (const slot of list) writeSync(fd, zeros, 0, SLOT, slot * SLOT);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  const epochPath = join(dir, 'epoch');
  const next = Buffer.alloc(4);
  next.writeUInt32LE((readEpoch(dir) + 1) >>> 0, 0);
  const tmp = `${epochPath}.tmp`;
  writeFileSync(tmp, next);
  renameSync(tmp, epochPath);
}

/** Every slot, in every writer's file, for which `match(file bytes, slot offset)` holds. */
function findSlots(
  dir: string,
  match: (buf: Buffer, at: number) => boolean,
): { writer: number; slot: number }[] {
  const found: { writer: number; slot: number }[] = [];
  for (const name of readdirSync(dir)) {
    const writer = writerOf(name);
    if (writer < 0) continue;
    const buf = readFileSync(join(dir, name));
    for (let s = 0; s + SLOT <= buf.length; s += SLOT)
      if (match(buf, s)) found.push({ writer, slot: s / SLOT });
  }
  return found;
}

/**
 * Destroys every key of a subject, in every writer's file: all ciphertext under them becomes
 * unreadable. Returns how many keys were destroyed and the subject's tag (for the audit).
 */
export function destroySubject(dataDir: string, subject: string): { keys: number; tag: string } {
  const dir = keysDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tag = subjectTag(loadPepper(dir), Buffer.from(subject, 'utf8'));
  const found = findSlots(
    dir,
    (buf, s) => buf[s + KIND_AT] === KIND_SUBJECT && buf.compare(tag, 0, 16, s, s + 16) === 0,
  );
  if (found.length > 0) destroySlots(dir, found);
  return { keys: found.length, tag: tag.toString('hex') };
}

/**
 * Destroys every bronze-body key created before `cutoffMs` minus an hour (so every body sealed
 * under it was received before the cutoff). Returns how many keys were destroyed.
 */
export function destroyBodyKeysBefore(dataDir: string, cutoffMs: number): number {
  const dir = keysDir(dataDir);
  if (!existsSync(dir)) return 0;
  const limit = Math.floor((cutoffMs - 3_600_000) / 1000);
  const found = findSlots(
    dir,
    (buf, s) => buf[s + KIND_AT] === KIND_BODY && buf.readUInt32LE(s + CREATED_AT) < limit,
  );
  if (found.length > 0) destroySlots(dir, found);
  return found.length;
}

const threadRings = new Map<string, Keyring>();

/** This thread's keyring for a data dir (writer id = the thread id, unique within the process). */
export function keyringFor(dataDir: string, writer: number): Keyring {
  let k = threadRings.get(dataDir);
  if (!k) {
    k = new Keyring(dataDir, writer);
    threadRings.set(dataDir, k);
  }
  return k;
}
