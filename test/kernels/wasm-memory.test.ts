import { describe, expect, it } from 'vitest';
import { AmlKernel } from '../../engine/aml/kernel.ts';
import { WasmMemory } from '../../engine/wasm-memory.ts';

describe('WASM memory copies', () => {
  const mem = new WasmMemory();

  it('copies typed arrays, Buffers, offset views and DataViews in byte for byte', () => {
    mem.reset();
    const backing = new Uint8Array([9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const inputs: ArrayBufferView[] = [
      new BigInt64Array([-1n, 2n ** 62n]),
      new Uint16Array([1, 65535, 7]),
      Buffer.from('sort code 08-99-99'),
      backing.subarray(2, 10), // a view that does not start its buffer
      new DataView(backing.buffer, 3, 5),
      new Int32Array(300).fill(-7), // past what V8 keeps on its own heap
    ];
    for (const src of inputs) {
      const ptr = mem.copyIn(src);
      const want = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
      expect(new Uint8Array(mem.buffer, ptr, src.byteLength)).toEqual(want);
    }
  });

  it('copies out into a new array of the asked type that later batches do not touch', () => {
    mem.reset();
    const src = new BigInt64Array([5n, -6n, 7n]);
    const ptr = mem.copyIn(src);
    const out = mem.copyOut(BigInt64Array, ptr, 24);
    expect(out).toBeInstanceOf(BigInt64Array);
    expect([...out]).toEqual([5n, -6n, 7n]);
    const bytes = mem.copyOut(Uint8Array, ptr, 8);
    expect([...bytes]).toEqual([5, 0, 0, 0, 0, 0, 0, 0]);
    // The memory is reused by the next batch; the copies keep their values.
    mem.reset();
    mem.copyIn(new BigInt64Array([0n, 0n, 0n]));
    expect([...out]).toEqual([5n, -6n, 7n]);
    expect(bytes[0]).toBe(5);
    expect(out.buffer.byteLength).toBe(24);
  });
});

describe('WASM memory reservations', () => {
  it('start and end a reservation on the boundary asked for, whatever came before', () => {
    for (const before of [0, 8, 96, 4088]) {
      const mem = new WasmMemory();
      if (before > 0) mem.reserve(before);
      const ptr = mem.reserve(10_000, 4096);
      expect(ptr % 4096).toBe(0);
      // The bump region starts after it, on the boundary too: a batch's buffers sit at the same
      // place relative to the pages whatever the module's static data took.
      expect(mem.alloc(8) % 4096).toBe(0);
      expect(mem.alloc(8) - ptr).toBe(12_288 + 8);
    }
  });

  it('gives an AML shard its arena on a page', () => {
    for (const before of [0, 96]) {
      const mem = new WasmMemory();
      if (before > 0) mem.reserve(before);
      new AmlKernel(1024, mem);
      expect(mem.alloc(8) % 4096).toBe(0);
    }
  });
});
