/**
 * The contract every hostile body is held to, shared by the fuzz tests: `parseBody` either refuses
 * the body with a SluiceError of a 4xx body code, or returns record batches the validator turns
 * into verdicts. Anything else (another exception type, another code, a 5xx) is a bug.
 */
import { writeFileSync } from 'node:fs';
import type { RecordBatch } from 'apache-arrow';
import { SluiceError } from '../../engine/errors.ts';
import { type Format, parseBody } from '../../engine/formats/index.ts';
import { type GeneratedRow, TransactionGenerator } from '../../engine/generator.ts';
import { encodeRows } from '../../engine/generator-formats.ts';
import { Kernels } from '../../engine/kernels.ts';
import { loadReferenceData } from '../../engine/reference-data.ts';
import { Validator } from '../../engine/validator.ts';

export const FORMAT_LIST: Format[] = ['arrow', 'json', 'ndjson', 'csv', 'msgpack'];

/** The codes a hostile body may end in: all 4xx, all stable (engine/errors.ts). */
export const ALLOWED_CODES = new Set([
  'BODY_EMPTY',
  'BODY_UNPARSEABLE',
  'BODY_SHAPE',
  'TOO_MANY_ROWS',
  'BODY_TOO_LARGE',
]);

export const reference = loadReferenceData({});
export const kernels = new Kernels(reference);
export const validator = new Validator(kernels);

export interface Tally {
  cases: number;
  refused: Record<string, number>;
  parsed: number;
  rows: number;
  quarantined: number;
  /** Slowest single case, ms, and its size: a case that hangs shows up here (or in the timeout). */
  slowestMs: number;
  slowestBytes: number;
}

export const tallies: Record<string, Tally> = {};

const TRACE = process.env.SLUICE_FUZZ_TRACE;

function tally(format: string): Tally {
  let t = tallies[format];
  if (!t) {
    t = { cases: 0, refused: {}, parsed: 0, rows: 0, quarantined: 0, slowestMs: 0, slowestBytes: 0 };
    tallies[format] = t;
  }
  return t;
}

export function totalCases(): number {
  return Object.values(tallies).reduce((s, t) => s + t.cases, 0);
}

export type Outcome = { refused: string } | { rows: number; quarantined: number };

function preview(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.subarray(0, 96)).toString('hex');
  return `${bytes.length} bytes, starting ${head}${bytes.length > 96 ? '…' : ''}`;
}

function refusal(e: unknown, stage: string, format: Format, bytes: Uint8Array): string {
  if (e instanceof SluiceError && ALLOWED_CODES.has(e.code)) return e.code;
  const what = e instanceof SluiceError ? `SluiceError ${e.code}` : String((e as Error)?.stack ?? e);
  throw new Error(`${format} body (${preview(bytes)}): ${stage} threw ${what}`, { cause: e });
}

/**
 * One case: parse, then validate every batch. Returns how it ended; throws (failing the property)
 * when the contract is broken. Column conversion for the kernels may refuse a batch too (an Arrow
 * field of a type no rule can read is BODY_SHAPE); the service maps that to a 400 the same way.
 */
export function runCase(format: Format, bytes: Uint8Array): Outcome {
  // A case that kills the process (out of heap) cannot be reported by fast-check: with
  // SLUICE_FUZZ_TRACE=path each case is written there first, so the last one is the culprit.
  if (TRACE) writeFileSync(TRACE, Buffer.concat([Buffer.from(`${format}\n`), bytes]));
  const t = tally(format);
  t.cases++;
  const t0 = performance.now();
  let out: Outcome;
  let batches: RecordBatch[] | null = null;
  try {
    batches = parseBody(format, bytes);
  } catch (e) {
    out = { refused: refusal(e, 'parseBody', format, bytes) };
  }
  if (batches) {
    let rows = 0;
    let quarantined = 0;
    let refused: string | null = null;
    for (const b of batches) {
      try {
        const v = validator.validate(b, null);
        if (v.mask.length !== b.numRows) {
          throw new Error(`verdicts for ${v.mask.length} rows, batch has ${b.numRows}`);
        }
        rows += b.numRows;
        for (let i = 0; i < v.mask.length; i++) if (v.mask[i] !== 0) quarantined++;
      } catch (e) {
        refused = refusal(e, 'validate', format, bytes);
        break;
      }
    }
    out = refused ? { refused } : { rows, quarantined };
  }
  const ms = performance.now() - t0;
  if (ms > t.slowestMs) {
    t.slowestMs = ms;
    t.slowestBytes = bytes.length;
  }
  // biome-ignore lint/style/noNonNullAssertion: assigned on both paths above
  const o = out!;
  if ('refused' in o) t.refused[o.refused] = (t.refused[o.refused] ?? 0) + 1;
  else {
    t.parsed++;
    t.rows += o.rows;
    t.quarantined += o.quarantined;
  }
  return o;
}

/** Valid bodies of generated rows (a share of them bad on purpose), built once per format. */
export function validBodies(format: Format, sizes: number[], seed: number): Uint8Array[] {
  return sizes.map((rows, k) => {
    const gen = new TransactionGenerator(kernels, reference, {
      rows,
      seed: seed + k,
      badShare: 0.3,
      format,
    });
    const out: GeneratedRow[] = [];
    for (let g = gen.next(); g; g = gen.next()) out.push(g.row);
    return encodeRows(out, format);
  });
}

/** Bytes that matter to some parser: quotes, separators, brackets, msgpack length headers, bad UTF-8. */
export const INTERESTING = [
  0x22, 0x2c, 0x0a, 0x0d, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x5c, 0x00, 0xff, 0xfe, 0xef, 0xbb, 0xbf, 0xc0, 0xc1,
  0xc7, 0xc9, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x80, 0x90, 0xed, 0xa0, 0xf4, 0x41,
];

export interface Mutation {
  op: number;
  at: number;
  len: number;
  byte: number;
}

function splice(b: Uint8Array, at: number, del: number, ins: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length - del + ins.length);
  out.set(b.subarray(0, at));
  out.set(ins, at);
  out.set(b.subarray(at + del), at + ins.length);
  return out;
}

/** Applies mutations in order: truncate, flip, set, insert, delete, duplicate, big length word. */
export function mutate(base: Uint8Array, muts: Mutation[]): Uint8Array {
  let b = base;
  for (const m of muts) {
    const n = b.length;
    const at = m.at % (n + 1);
    const inside = n === 0 ? 0 : m.at % n;
    switch (m.op) {
      case 0: // truncate
        b = b.subarray(0, at);
        break;
      case 1: // flip one bit
        if (n === 0) break;
        b = b.slice();
        b[inside] = (b[inside] as number) ^ (1 << (m.byte & 7));
        break;
      case 2: // overwrite with an interesting byte
        if (n === 0) break;
        b = b.slice();
        b[inside] = INTERESTING[m.byte % INTERESTING.length] as number;
        break;
      case 3: // insert a run of one byte
        b = splice(b, at, 0, new Uint8Array(1 + (m.len % 8)).fill(m.byte));
        break;
      case 4: // delete a range
        b = splice(b, at, Math.min(m.len, n - at), new Uint8Array(0));
        break;
      case 5: {
        // duplicate a section just after itself
        const len = Math.min(m.len, n - at);
        b = splice(b, at + len, 0, b.slice(at, at + len));
        break;
      }
      default: {
        // overwrite four bytes with a huge or negative length word
        if (n < 4) break;
        b = b.slice();
        const p = inside % (n - 3);
        const word = [0xffffffff, 0x7fffffff, 0x80000000, 0x00ffffff][m.byte & 3] as number;
        new DataView(b.buffer, b.byteOffset).setUint32(p, word, (m.byte & 4) !== 0);
        break;
      }
    }
  }
  return b;
}
