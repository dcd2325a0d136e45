/**
 * How AML slots sit in LMDB (`Store.amlState`): packed and plain since session 14, where lmdb-js
 * used to LZ4-compress every value of 1,000 bytes or more. Slots written compressed before must
 * still read, byte for byte.
 */
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';
import { AML_STATE_COMPRESSION, Store } from '../../engine/store.ts';
import { tempDir } from '../support/service.ts';

const dirs: ReturnType<typeof tempDir>[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});

/** A slot-like value: a key word, then mostly small words (as a busy account's ring is). */
function slotLike(bytes: number, firstByte: number): Buffer {
  const v = Buffer.alloc(bytes);
  for (let i = 8; i + 4 <= bytes; i += 16) v.writeUInt32LE(i * 37, i);
  v.writeUInt32LE(0x9e3779b9, 1);
  v[0] = firstByte;
  return v;
}

/** The database as an earlier version opened it, and a handle that reads values as stored. */
function handles(dataDir: string) {
  const env = open({ path: join(dataDir, 'lmdb'), compression: false, mapSize: 2 ** 26, maxDbs: 32 });
  const opts = { name: 'amlState', keyEncoding: 'binary', encoding: 'binary' } as const;
  return {
    env,
    before: env.openDB({ ...opts, compression: true }),
    raw: env.openDB({ ...opts, compression: false }),
  };
}

describe('AML state storage', () => {
  it('reads slots that an earlier version stored compressed, whatever their size and first byte', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const { env, before, raw } = handles(dir.path);
    const values = [slotLike(1152, 7), slotLike(1040, 200), slotLike(320, 251), slotLike(96, 3)];
    for (const [k, v] of values.entries()) await before.put(Buffer.from([k]), v);
    // The large ones (and the one starting with a marker byte) really are compressed on disk.
    expect((raw.get(Buffer.from([0])) as Buffer).length).toBeLessThan(1152);
    expect((raw.get(Buffer.from([2])) as Buffer)[0]).toBeGreaterThanOrEqual(250);
    await env.close();

    const store = new Store({ dataDir: dir.path });
    for (const [k, v] of values.entries()) {
      expect(Buffer.from(store.amlState.get(Buffer.from([k])) as Uint8Array).equals(v)).toBe(true);
    }
    await store.close();
  });

  it('stores a full slot as it is, and still reads back one that starts with the compression marker', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const store = new Store({ dataDir: dir.path });
    const full = slotLike(1152, 7);
    const marked = slotLike(1152, 254);
    await store.amlState.put(Buffer.from('full'), full);
    await store.amlState.put(Buffer.from('marked'), marked);
    expect(Buffer.from(store.amlState.get(Buffer.from('full')) as Uint8Array).equals(full)).toBe(true);
    expect(Buffer.from(store.amlState.get(Buffer.from('marked')) as Uint8Array).equals(marked)).toBe(true);
    await store.close();

    const { env, raw } = handles(dir.path);
    // Plain on disk: the same bytes a reader without compression sees.
    expect((raw.get(Buffer.from('full')) as Buffer).equals(full)).toBe(true);
    // lmdb-js must still compress a value whose first byte is its marker, or it could not tell it apart.
    expect((raw.get(Buffer.from('marked')) as Buffer).equals(marked)).toBe(false);
    await env.close();
    expect(AML_STATE_COMPRESSION.threshold).toBeGreaterThan(1152);
  });
});
