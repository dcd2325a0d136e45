/**
 * AML scoring for one owner of state: sanctions screening of the rows' counterparty names, then
 * the kernel's stateless and stateful rules, under one set of rules. The CLI holds one engine; the
 * service holds one per shard thread.
 */
import type { Utf8Column } from '../columns.ts';
import { type AmlInput, AmlKernel, type AmlOutput, drain, F_SANCTIONED, type SlotStore } from './kernel.ts';
import type { AmlRules } from './rules.ts';
import { eachPacked } from './slot-codec.ts';

/** What the engine needs from a sanctions list (engine/aml/sanctions.ts). */
export interface NameScreen {
  readonly size: number;
  screen(col: Utf8Column, n: number, threshold: number): { similarity: Uint16Array; entry: Int32Array };
  entryAt(i: number): { id: string; name: string; source: string } | undefined;
}

export interface ScoredRows extends AmlOutput {
  /** Best sanctions similarity × 10,000 and the list entry matched (-1 if none), per row. */
  similarity: Uint16Array;
  entry: Int32Array;
}

/** Gathers rows `idx` of a Utf8 column into a new dense column. */
export function gatherUtf8(col: Utf8Column, idx: Uint32Array): Utf8Column {
  const n = idx.length;
  const offsets = new Int32Array(n + 1);
  let size = 0;
  for (let k = 0; k < n; k++) {
    const i = idx[k] as number;
    const present = !col.validity || ((col.validity[i >> 3] as number) & (1 << (i & 7))) !== 0;
    if (present) size += (col.offsets[i + 1] as number) - (col.offsets[i] as number);
    offsets[k + 1] = size;
  }
  const data = new Uint8Array(size);
  for (let k = 0; k < n; k++) {
    const i = idx[k] as number;
    const len = (offsets[k + 1] as number) - (offsets[k] as number);
    if (len > 0)
      data.set(col.data.subarray(col.offsets[i] as number, (col.offsets[i] as number) + len), offsets[k]);
  }
  return { kind: 'utf8', offsets, data, validity: null };
}

export class AmlEngine {
  readonly kernel: AmlKernel;
  private rulesInForce: AmlRules;
  private names: NameScreen | null;

  constructor(rules: AmlRules, names: NameScreen | null, capacity?: number) {
    this.kernel = new AmlKernel(capacity);
    this.rulesInForce = rules;
    this.kernel.setParams(rules.params);
    this.names = names;
  }

  get rules(): AmlRules {
    return this.rulesInForce;
  }

  get sanctions(): NameScreen | null {
    return this.names;
  }

  setRules(rules: AmlRules): void {
    this.kernel.setParams(rules.params);
    this.rulesInForce = rules;
  }

  /** Scores the rows listed (all when null); see `AmlKernel.score`. */
  score(input: AmlInput, rows: Uint32Array | null, store: SlotStore, dry: boolean): ScoredRows {
    return drain(this.scoreSteps(input, rows, store, dry));
  }

  /** `score` in slices, pausing between them; see `AmlKernel.scoreSteps`. */
  *scoreSteps(
    input: AmlInput,
    rows: Uint32Array | null,
    store: SlotStore,
    dry: boolean,
    sliceRows?: number,
  ): Generator<void, ScoredRows> {
    const n = input.n;
    const similarity = new Uint16Array(n);
    const entry = new Int32Array(n).fill(-1);
    if (this.names && this.names.size > 0 && input.names) {
      const idx = rows ?? Uint32Array.from({ length: n }, (_, i) => i);
      const col = rows ? gatherUtf8(input.names, idx) : input.names;
      const hit = this.names.screen(col, idx.length, this.rulesInForce.sanctionsThreshold);
      for (let k = 0; k < idx.length; k++) {
        const i = idx[k] as number;
        similarity[i] = hit.similarity[k] as number;
        entry[i] = hit.entry[k] as number;
        if ((hit.entry[k] as number) >= 0) input.flags[i] = (input.flags[i] as number) | F_SANCTIONED;
      }
    }
    const out = yield* this.kernel.scoreSteps(input, rows, store, dry, sliceRows);
    return { ...out, similarity, entry };
  }
}

/** A slot store in memory: the CLI's, and tests'. It keeps slots packed, as the kernel gives them. */
export class MemorySlotStore implements SlotStore {
  readonly slots = new Map<bigint, Uint8Array>();
  get(key: bigint): Uint8Array | undefined {
    return this.slots.get(key);
  }
  evicted(slots: Uint8Array, count: number): void {
    eachPacked(slots, count, (key, slot) => this.slots.set(key, slot));
  }
}
