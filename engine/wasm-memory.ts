/**
 * Owns one instance of the kernel module and its linear memory. Everything above `__heap_base` is
 * a bump region that the caller resets once per batch: no allocator runs inside WASM, and memory
 * grows only when a batch is larger than any before it (fresh pages are costly on these VMs).
 */
import { readFileSync } from 'node:fs';
import { SluiceError } from './errors.ts';

export interface KernelExports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  modulus_load(vPtr: number, vLen: number, sPtr: number, sLen: number): number;
  registry_load(ptr: number, len: number): number;
  iban_check_column(desc: number, n: number, outCodes: number, outCountry: number): void;
  modulus_check_column(desc: number, n: number, outCodes: number): void;
  validate_batch(desc: number, n: number, nowMs: number, maxFutureMs: number): number;
  batch_desc_words(): number;
  field_count(): number;
}

type TypedArray =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Int32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** A typed array's constructor, as `copyOut` and `copyIn` use it. */
interface TypedArrayType<T> {
  new (length: number): T;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

const isTypedArray = (v: ArrayBufferView): v is TypedArray => !(v instanceof DataView);

export const DEFAULT_WASM_PATH = new URL('../wasm/pkg/sluice_kernels.wasm', import.meta.url);

const PAGE = 65536;

let compiled: WebAssembly.Module | undefined;

function compile(path: URL | string): WebAssembly.Module {
  // Compiled once per thread: each worker instantiates its own memory from the same module.
  if (!compiled || path !== DEFAULT_WASM_PATH) {
    try {
      compiled = new WebAssembly.Module(readFileSync(path));
    } catch (e) {
      throw new SluiceError('WASM_FAILURE', `cannot load the kernel module: ${(e as Error).message}`);
    }
  }
  return compiled;
}

export class WasmMemory {
  readonly exports: KernelExports;
  private base: number;
  private top: number;

  constructor(path: URL | string = DEFAULT_WASM_PATH) {
    const instance = new WebAssembly.Instance(compile(path), {});
    this.exports = instance.exports as unknown as KernelExports;
    this.base = align(Number(this.exports.__heap_base.value), 8);
    this.top = this.base;
  }

  get buffer(): ArrayBuffer {
    return this.exports.memory.buffer;
  }

  /** Bytes of linear memory in use by the instance, for metrics. */
  get byteLength(): number {
    return this.exports.memory.buffer.byteLength;
  }

  /** Forgets every allocation. The loaded tables live in the module's statics, not here. */
  reset(): void {
    this.top = this.base;
  }

  /**
   * Reserves `bytes` for the life of the instance (state that outlives a batch, such as an AML
   * shard's arena): the bump region then starts above it. Only between batches. With `boundary`
   * (a power of two), the reservation starts on it and ends on it.
   */
  reserve(bytes: number, boundary = 8): number {
    if (this.top !== this.base) throw new SluiceError('WASM_FAILURE', 'reserve() while a batch holds memory');
    this.top = align(this.top, boundary);
    const ptr = this.alloc(align(bytes, boundary));
    this.base = align(this.top, 8);
    this.top = this.base;
    return ptr;
  }

  /** Reserves `bytes` at an 8-byte aligned address, growing memory when needed. */
  alloc(bytes: number): number {
    const ptr = align(this.top, 8);
    const end = ptr + bytes;
    const have = this.exports.memory.buffer.byteLength;
    if (end > have) this.exports.memory.grow(Math.ceil((end - have) / PAGE));
    this.top = end;
    return ptr;
  }

  /** Copies a typed array in; returns its address. */
  copyIn(src: ArrayBufferView): number {
    const ptr = this.alloc(src.byteLength);
    if (isTypedArray(src)) {
      // Element to element: reading `src.buffer` would move a small array's bytes off V8's heap.
      // (A Buffer is copied as the Uint8Array it is: its own constructor is the deprecated one.)
      const Type = (src instanceof Uint8Array ? Uint8Array : src.constructor) as TypedArrayType<typeof src>;
      new Type(this.buffer, ptr, src.length).set(src as never);
    } else {
      new Uint8Array(this.buffer, ptr, src.byteLength).set(
        new Uint8Array(src.buffer, src.byteOffset, src.byteLength),
      );
    }
    return ptr;
  }

  /**
   * Copies `bytes` bytes out of memory into a new `Type` array the caller owns (memory is reused).
   * A new array rather than a slice of the memory's buffer: V8 keeps an array of up to 64 bytes on
   * its own heap, where a slice is always a fresh backing store, which every scavenge must sweep.
   * A single-row validate request made about twenty such copies.
   */
  copyOut<T extends TypedArray>(Type: TypedArrayType<T>, ptr: number, bytes: number): T {
    const length = bytes / Type.BYTES_PER_ELEMENT;
    const out = new Type(length);
    out.set(new Type(this.buffer, ptr, length) as never);
    return out;
  }

  u32(ptr: number, length: number): Uint32Array {
    return new Uint32Array(this.buffer, ptr, length);
  }
}

function align(n: number, to: number): number {
  return (n + to - 1) & ~(to - 1);
}
