/**
 * Hostile input against every parser, driven directly (no HTTP): mutations of valid bodies, random
 * bytes, structurally odd but well-formed bodies, Arrow schemas with the wrong types, and a table
 * of hand-made cases with the exact code each must end in. Every case must end in a 4xx body code
 * or in verdicts (see harness.ts); never another exception, a hang, or unbounded memory.
 *
 * The default run is over 100,000 cases and a fixed seed, so CI is repeatable. For a longer run:
 * `SLUICE_FUZZ_CASES=1000000 npx vitest run test/fuzz` (about that many cases in total, a fresh
 * random seed unless SLUICE_FUZZ_SEED is set; a failure prints the seed and the shrunk case).
 */
import {
  Bool,
  type Data,
  DateMillisecond,
  Dictionary,
  Field,
  Float64,
  Int8,
  Int32,
  Int64,
  LargeUtf8,
  List,
  makeData,
  Null,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampSecond,
  tableToIPC,
  Uint64,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIELDS } from '../../engine/codes.ts';
import type { Format } from '../../engine/formats/index.ts';
import {
  FORMAT_LIST,
  type Mutation,
  mutate,
  type Outcome,
  runCase,
  tallies,
  totalCases,
  validBodies,
} from './harness.ts';

const DEFAULT_TOTAL = 100_000;
const requested = Number(process.env.SLUICE_FUZZ_CASES ?? 0);
/** Every property's run count is scaled by this; 1 in the default run. */
const SCALE = requested > DEFAULT_TOTAL ? requested / DEFAULT_TOTAL : 1;
const SEED = process.env.SLUICE_FUZZ_SEED
  ? Number(process.env.SLUICE_FUZZ_SEED)
  : SCALE > 1
    ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0
    : 20261127;
const runs = (n: number) => Math.ceil(n * SCALE);
/** What the properties below plan to run, summed as they are declared (each must reach it). */
let planned = 0;
const plan = (n: number) => {
  const k = runs(n);
  planned += k;
  return k;
};

const startedAt = performance.now();
const b = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const cat = (...parts: (Uint8Array | string)[]) =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))));

function check(prop: fc.IProperty<unknown> | fc.IPropertyWithHooks<unknown>, numRuns: number, salt: number) {
  fc.assert(prop, { numRuns, seed: SEED + salt, endOnFailure: false });
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  op: fc.nat(6),
  at: fc.nat(),
  len: fc.nat(64),
  byte: fc.nat(255),
});

// ---------------------------------------------------------------------------------------------
// Mutations of valid bodies, every format
// ---------------------------------------------------------------------------------------------

const BASES: Record<Format, Uint8Array[]> = Object.fromEntries(
  FORMAT_LIST.map((f, k) => [f, validBodies(f, [1, 3, 8], 900 + k)]),
) as Record<Format, Uint8Array[]>;

describe('mutated valid bodies', () => {
  FORMAT_LIST.forEach((format, k) => {
    const numRuns = plan(16_000);
    it(`${format}: ${numRuns} truncated / flipped / spliced bodies end in a 4xx or verdicts`, () => {
      const bases = BASES[format];
      // the unmutated bases are valid: they parse and validate
      for (const base of bases) expect(runCase(format, base)).toHaveProperty('rows');
      check(
        fc.property(
          fc.nat(bases.length - 1),
          fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
          (i, m) => {
            runCase(format, mutate(bases[i] as Uint8Array, m));
          },
        ),
        numRuns,
        k,
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Random bytes, every format
// ---------------------------------------------------------------------------------------------

describe('random bytes', () => {
  FORMAT_LIST.forEach((format, k) => {
    const numRuns = plan(3_000);
    it(`${format}: ${numRuns} random byte strings`, () => {
      // biased towards each format's own syntax, so the scanners get past the first byte
      const alphabet: Record<Format, string> = {
        arrow: '',
        json: '{}[]",:\\0123456789.eE-+ tnrufalse',
        ndjson: '{}[]",:\\\n0123456789.eE-+ tnrufalse',
        csv: '",\r\nabc01 ',
        msgpack: '',
      };
      const chars = alphabet[format];
      const arb =
        chars === ''
          ? fc.uint8Array({ maxLength: 256 })
          : fc.oneof(
              fc.uint8Array({ maxLength: 256 }),
              fc.array(fc.constantFrom(...chars), { maxLength: 200 }).map((cs) => b(cs.join(''))),
            );
      check(
        fc.property(arb, (bytes) => {
          runCase(format, bytes);
        }),
        numRuns,
        100 + k,
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile records: well-formed bodies whose values are odd
// ---------------------------------------------------------------------------------------------

const INVALID_UTF8 = [
  Buffer.from([0xff]),
  Buffer.from([0xc0, 0xaf]), // overlong '/'
  Buffer.from([0xed, 0xa0, 0x80]), // a surrogate encoded in UTF-8
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // beyond U+10FFFF
  Buffer.from([0xe2, 0x82]), // truncated sequence
];

/** A value as raw bytes for a text format: may be invalid UTF-8. */
const oddText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('1e400', '-1e400', '-0', '0', 'NaN', 'Infinity', '-Infinity', '1e-400', '00012.50', ''),
  fc.constantFrom('12.345', '٣٤', '１２', '0x10', '1_000', ' 12.00 ', '+5', '9'.repeat(40)),
  fc.constantFrom(
    '2026-02-30T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '0000-01-01',
    'T',
    '2026-11-27T07:00:00+25:00',
  ),
);
const oddBytes = fc.oneof(
  oddText.map((s) => Buffer.from(s, 'utf8')),
  fc
    .tuple(fc.string({ maxLength: 8 }), fc.constantFrom(...INVALID_UTF8), fc.string({ maxLength: 8 }))
    .map(([a, x, z]) => Buffer.concat([Buffer.from(a), x, Buffer.from(z)])),
);
const knownField = fc.constantFrom(...FIELDS, 'amount_minor', 'transactions', '__proto__', 'constructor');
const oddRecord = fc.array(fc.tuple(knownField, oddBytes), { maxLength: 20 });

function jsonString(bytes: Buffer): Buffer {
  // escape quotes, backslashes and controls, keep every other byte (invalid UTF-8 included) raw
  const out: number[] = [0x22];
  for (const c of bytes) {
    if (c === 0x22 || c === 0x5c) out.push(0x5c, c);
    else if (c < 0x20) out.push(...Buffer.from(`\\u${c.toString(16).padStart(4, '0')}`));
    else out.push(c);
  }
  out.push(0x22);
  return Buffer.from(out);
}

/** A JSON value for a field: a string, or a bare literal when the text is one (1e400, -0, true). */
function jsonValue(bytes: Buffer, bare: boolean): Buffer {
  const s = bytes.toString('latin1');
  if (bare && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$|^(true|false|null)$/.test(s)) return bytes;
  return jsonString(bytes);
}

function jsonRecord(rec: [string, Buffer][], bare: boolean[]): Buffer {
  const parts = rec.map(([k, v], i) =>
    Buffer.concat([jsonString(Buffer.from(k)), b(':'), jsonValue(v, !!bare[i])]),
  );
  return Buffer.concat([b('{'), ...parts.flatMap((p, i) => (i ? [b(','), p] : [p])), b('}')]);
}

function csvCell(v: Buffer, quote: boolean): Buffer {
  if (!quote) return v;
  return Buffer.concat([b('"'), Buffer.from(v.toString('latin1').replaceAll('"', '""'), 'latin1'), b('"')]);
}

describe('hostile records in well-formed bodies', () => {
  const recs = fc.array(fc.tuple(oddRecord, fc.array(fc.boolean(), { maxLength: 20 })), {
    minLength: 1,
    maxLength: 6,
  });

  const jsonRuns = plan(4_000);
  it(`json: ${jsonRuns} bodies of odd values, as arrays or {"transactions": …}`, () => {
    check(
      fc.property(recs, fc.boolean(), (rs, wrapped) => {
        const items = rs.map(([r, bare]) => jsonRecord(r, bare));
        const arr = Buffer.concat([b('['), ...items.flatMap((p, i) => (i ? [b(','), p] : [p])), b(']')]);
        runCase('json', wrapped ? cat('{"transactions":', arr, '}') : arr);
      }),
      jsonRuns,
      200,
    );
  });

  const ndRuns = plan(4_000);
  it(`ndjson: ${ndRuns} bodies of odd values, with blank lines and CRLF`, () => {
    check(
      fc.property(recs, fc.constantFrom('\n', '\r\n', '\n\n', '\n \n'), (rs, sep) => {
        runCase('ndjson', cat(...rs.flatMap(([r, bare]) => [jsonRecord(r, bare), sep])));
      }),
      ndRuns,
      201,
    );
  });

  const csvRuns = plan(4_000);
  it(`csv: ${csvRuns} bodies of odd cells, headers and line ends`, () => {
    check(
      fc.property(
        fc.array(knownField, { minLength: 1, maxLength: 20 }),
        fc.array(fc.array(fc.tuple(oddBytes, fc.boolean()), { maxLength: 22 }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.constantFrom('', '\ufeff'),
        (header, lines, eol, bom) => {
          const body = cat(
            bom,
            header.join(','),
            eol,
            ...lines.flatMap((cells) => [
              Buffer.concat(cells.flatMap(([v, q], i) => (i ? [b(','), csvCell(v, q)] : [csvCell(v, q)]))),
              eol,
            ]),
          );
          runCase('csv', body);
        },
      ),
      csvRuns,
      202,
    );
  });

  const mpRuns = plan(4_000);
  it(`msgpack: ${mpRuns} arrays of maps of odd values (numbers, binaries, nesting, ext)`, () => {
    const mpValue = fc.oneof(
      oddText,
      fc.double(),
      fc.integer(),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
      fc.boolean(),
      fc.constant(null),
      fc.uint8Array({ maxLength: 16 }),
      fc.date({ noInvalidDate: true }),
      fc.constantFrom(Number.NaN, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e308),
      fc.anything({ maxDepth: 3, maxKeys: 4 }),
    );
    check(
      fc.property(
        fc.array(fc.dictionary(knownField, mpValue, { maxKeys: 20 }), { minLength: 1, maxLength: 6 }),
        (records) => {
          let body: Uint8Array;
          try {
            body = pack(records);
          } catch {
            return; // msgpackr cannot encode this value (e.g. a bigint out of range): not our case
          }
          runCase('msgpack', body);
        },
      ),
      mpRuns,
      203,
    );
  });

  const anyRuns = plan(3_000);
  it(`json, ndjson, msgpack: ${anyRuns} arbitrary values of any shape`, () => {
    check(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        const text = JSON.stringify(v) ?? 'null';
        runCase('json', b(text));
        runCase('ndjson', b(text));
        runCase('msgpack', pack(v));
      }),
      anyRuns,
      204,
    );
    planned += 2 * anyRuns; // three cases per run
  });
});

// ---------------------------------------------------------------------------------------------
// Arrow: well-formed streams whose schemas have the wrong types, and mutations of them
// ---------------------------------------------------------------------------------------------

type ColumnKind =
  | 'utf8'
  | 'largeUtf8'
  | 'int32'
  | 'int64'
  | 'uint64'
  | 'int8'
  | 'float64'
  | 'bool'
  | 'null'
  | 'tsSec'
  | 'tsMs'
  | 'tsUs'
  | 'date'
  | 'dict'
  | 'list'
  | 'struct';

const KINDS: ColumnKind[] = [
  'utf8',
  'largeUtf8',
  'int32',
  'int64',
  'uint64',
  'int8',
  'float64',
  'bool',
  'null',
  'tsSec',
  'tsMs',
  'tsUs',
  'date',
  'dict',
  'list',
  'struct',
];

function column(kind: ColumnKind, n: number, seed: number) {
  const pick = <T>(xs: T[], i: number) => xs[(i + seed) % xs.length] as T;
  const nums = [0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -1e308, 1e-300, 123456789];
  const ints = [0, -1, 2147483647, -2147483648, 42];
  const bigs = [0n, -1n, 9223372036854775807n, -9223372036854775808n, 123456n];
  const strs = ['', 'GBP', 'T-1', '1e400', '\u0000', '💷'.repeat(50), 'NaN', '-0'];
  const arr = <T>(xs: T[]) => Array.from({ length: n }, (_, i) => (i % 5 === 4 ? null : pick(xs, i)));
  switch (kind) {
    case 'utf8':
      return vectorFromArray(arr(strs), new Utf8());
    case 'largeUtf8':
      return vectorFromArray(arr(strs), new LargeUtf8());
    case 'int32':
      return vectorFromArray(arr(ints), new Int32());
    case 'int8':
      return vectorFromArray(
        arr(ints).map((x) => (x === null ? null : x % 100)),
        new Int8(),
      );
    case 'int64':
      return vectorFromArray(arr(bigs), new Int64());
    case 'uint64':
      return vectorFromArray(
        arr(bigs).map((x) => (x === null ? null : x < 0n ? -x : x)),
        new Uint64(),
      );
    case 'float64':
      return vectorFromArray(arr(nums), new Float64());
    case 'bool':
      return vectorFromArray(arr([true, false]), new Bool());
    case 'null':
      return vectorFromArray(new Array(n).fill(null), new Null());
    case 'tsSec':
      return vectorFromArray(arr([0, 1_700_000_000_000, -1000, 8.64e15]), new TimestampSecond());
    case 'tsMs':
      return vectorFromArray(arr([0, 1_700_000_000_000, -1, 8.64e15]), new TimestampMillisecond());
    case 'tsUs':
      return vectorFromArray(arr([0, 1_700_000_000_000, -1, 8.64e15]), new TimestampMicrosecond());
    case 'date':
      return vectorFromArray(arr([new Date(0), new Date(1_700_000_000_000)]), new DateMillisecond());
    case 'dict':
      return vectorFromArray(arr(strs), new Dictionary(new Utf8(), new Int32()));
    case 'list':
      return vectorFromArray(arr([[1, 2], [], [3]]), new List(new Field('item', new Int32(), true)));
    case 'struct':
      return vectorFromArray(
        arr([{ a: 1, b: 'x' }]),
        new Struct([new Field('a', new Int32(), true), new Field('b', new Utf8(), true)]),
      );
  }
}

/** An Arrow stream with the given field → column-type choices (names may repeat or be unknown). */
function arrowBody(cols: [string, ColumnKind][], n: number, seed: number): Uint8Array {
  const fields: Field[] = [];
  const children: Data[] = [];
  let dicts = 0;
  for (const [name, k] of cols) {
    // apache-arrow's writer cannot give two dictionary fields distinct ids: one per stream
    const kind = k === 'dict' && dicts++ > 0 ? 'utf8' : k;
    const v = column(kind, n, seed);
    fields.push(new Field(name, v.type, true));
    children.push(v.data[0] as Data);
  }
  const struct = makeData({ type: new Struct(fields), length: n, nullCount: 0, children });
  return tableToIPC(new Table([new RecordBatch(new Schema(fields), struct)]), 'stream');
}

describe('Arrow schemas with the wrong types', () => {
  const arrowField = fc.constantFrom(...FIELDS, 'amount_minor', 'amount_minor', 'ts', 'tx_id', 'other');
  const schemaArb = fc.tuple(
    fc.array(fc.tuple(arrowField, fc.constantFrom(...KINDS)), { minLength: 1, maxLength: 8 }),
    fc.nat(20),
    fc.nat(7),
  );

  const typedRuns = plan(3_000);
  it(`arrow: ${typedRuns} streams of random field types`, () => {
    check(
      fc.property(schemaArb, ([cols, n, seed]) => {
        runCase('arrow', arrowBody(cols, n, seed));
      }),
      typedRuns,
      300,
    );
  });

  const typedMutRuns = plan(3_000);
  it(`arrow: ${typedMutRuns} mutated streams of random field types`, () => {
    check(
      fc.property(schemaArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), ([cols, n, seed], m) => {
        runCase('arrow', mutate(arrowBody(cols, n, seed), m));
      }),
      typedMutRuns,
      301,
    );
  });

  const garbageRuns = plan(2_000);
  it(`arrow: ${garbageRuns} valid streams with garbage after the schema or the last batch`, () => {
    const base = BASES.arrow[1] as Uint8Array;
    // the schema message is the first; find its end from the IPC framing (continuation, length)
    const view = new DataView(base.buffer, base.byteOffset, base.byteLength);
    const schemaEnd = 8 + view.getInt32(4, true);
    check(
      fc.property(fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 128 }), (afterSchema, junk) => {
        const at = afterSchema ? schemaEnd : base.length;
        runCase(
          'arrow',
          cat(base.subarray(0, at), junk, afterSchema ? base.subarray(at) : new Uint8Array(0)),
        );
      }),
      garbageRuns,
      302,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Hand-made cases, each with the exact outcome expected
// ---------------------------------------------------------------------------------------------

/**
 * Arrow stream surgery for the regression cases: the metadata of message `m` (0: the schema, 1:
 * the first batch), as a DataView and the position of its header table.
 */
function arrowMessage(body: Uint8Array, m: number): { v: DataView; base: number; header: number } {
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 0;
  for (let k = 0; ; k++) {
    const len = v.getInt32(at + 4, true);
    const base = at + 8;
    const root = base + v.getUint32(base, true);
    const field = (t: number, i: number) => {
      const vt = t - v.getInt32(t, true);
      return 4 + 2 * i < v.getUint16(vt, true) ? v.getUint16(vt + 4 + 2 * i, true) : 0;
    };
    const hp = root + field(root, 2);
    const header = hp + v.getUint32(hp, true);
    const bl = field(root, 3) ? Number(v.getBigInt64(root + field(root, 3), true)) : 0;
    if (k === m) return { v, base, header };
    at = base + len + bl;
  }
}

/** Position of the vector (its length word) in field `i` of the table at `t`. */
function vectorAt(v: DataView, t: number, i: number): number {
  const p = t + v.getUint16(t - v.getInt32(t, true) + 4 + 2 * i, true);
  return p + v.getUint32(p, true);
}

/** A copy of a valid stream with one edit applied to message `m`'s header. */
function patchArrow(m: number, edit: (v: DataView, header: number) => void, base = 1): Uint8Array {
  const body = (BASES.arrow[base] as Uint8Array).slice();
  const { v, header } = arrowMessage(body, m);
  edit(v, header);
  return body;
}

function deep(open: string, close: string, depth: number, inner = ''): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

function arrowWith(cols: [string, ColumnKind][]): Uint8Array {
  return arrowBody(cols, 3, 0);
}

/** msgpack: an array of one map whose single field's value is the given bytes. */
function mpRecord(field: string, value: number[]): Uint8Array {
  return new Uint8Array([0x91, 0x81, 0xa0 | field.length, ...Buffer.from(field), ...value]);
}

const GOOD_ROW = {
  tx_id: 'T-1',
  ts: '2026-11-01T10:00:00Z',
  amount: '12.50',
  currency: 'GBP',
  direction: 'debit',
  channel: 'FPS',
  account_id: 'A1',
};
const MB10 = 10 * 1024 * 1024;

type Expect = string | 'verdicts' | 'quarantined';
const HAND_MADE: [string, Format, () => Uint8Array, Expect][] = [
  // empty bodies, every format
  ...FORMAT_LIST.map((f): [string, Format, () => Uint8Array, Expect] => [
    `${f}: empty body`,
    f,
    () => new Uint8Array(0),
    'BODY_EMPTY',
  ]),
  // JSON
  ['json: whitespace only', 'json', () => b(' \n\t '), 'BODY_UNPARSEABLE'],
  ['json: a bare number', 'json', () => b('42'), 'BODY_SHAPE'],
  ['json: a string', 'json', () => b('"transactions"'), 'BODY_SHAPE'],
  ['json: null', 'json', () => b('null'), 'BODY_SHAPE'],
  ['json: object without transactions', 'json', () => b('{"rows":[]}'), 'BODY_SHAPE'],
  ['json: transactions is an object', 'json', () => b('{"transactions":{}}'), 'BODY_SHAPE'],
  ['json: array of numbers', 'json', () => b('[1,2,3]'), 'BODY_SHAPE'],
  ['json: array of nulls', 'json', () => b(`[${'null,'.repeat(99_999)}null]`), 'BODY_SHAPE'],
  ['json: array of arrays', 'json', () => b('[[{"tx_id":"T"}]]'), 'BODY_SHAPE'],
  ['json: 10,000 nested arrays', 'json', () => b(deep('[', ']', 10_000)), 'BODY_SHAPE'],
  ['json: 10,000 nested objects', 'json', () => b(deep('{"a":', '}', 10_000, '1')), 'BODY_UNPARSEABLE'],
  [
    'json: 10,000 nested arrays in a field',
    'json',
    () => b(`[{"tx_id":${deep('[', ']', 10_000)}}]`),
    'BODY_UNPARSEABLE',
  ],
  [
    'json: 10,000 nested arrays in an unknown field',
    'json',
    () => b(`[{"x":${deep('[', ']', 10_000)}}]`),
    'BODY_UNPARSEABLE',
  ],
  ['json: an unclosed array', 'json', () => b('[{"tx_id":"T"}'), 'BODY_UNPARSEABLE'],
  ['json: trailing garbage', 'json', () => b('[]x'), 'BODY_UNPARSEABLE'],
  ['json: two values', 'json', () => b('[] []'), 'BODY_UNPARSEABLE'],
  ['json: a trailing comma', 'json', () => b('[{"tx_id":"T"},]'), 'BODY_SHAPE'],
  ['json: an unterminated string', 'json', () => b('[{"tx_id":"T'), 'BODY_UNPARSEABLE'],
  ['json: a raw control character in a string', 'json', () => b('[{"tx_id":"T\u0001"}]'), 'BODY_UNPARSEABLE'],
  ['json: a bad escape', 'json', () => b('[{"tx_id":"\\x"}]'), 'BODY_UNPARSEABLE'],
  ['json: a bad escape in a key', 'json', () => b('[{"tx\\x":"T"}]'), 'BODY_UNPARSEABLE'],
  ['json: a bad \\u escape in a key', 'json', () => b('[{"tx\\u12":"T"}]'), 'BODY_UNPARSEABLE'],
  ['json: an escaped key at the end of input', 'json', () => b('[{"tx\\'), 'BODY_UNPARSEABLE'],
  ['json: an escaped key that is a known field', 'json', () => b('[{"tx\\u005fid":"T-1"}]'), 'quarantined'],
  ['json: a bad literal', 'json', () => b('[{"amount":nul}]'), 'BODY_UNPARSEABLE'],
  ['json: NaN as a literal', 'json', () => b('[{"amount":NaN}]'), 'BODY_UNPARSEABLE'],
  ['json: Infinity as a literal', 'json', () => b('[{"amount":Infinity}]'), 'BODY_UNPARSEABLE'],
  [
    'json: 1e400 as an amount',
    'json',
    () => b(JSON.stringify([GOOD_ROW]).replace('"12.50"', '1e400')),
    'quarantined',
  ],
  [
    'json: -0 as an amount',
    'json',
    () => b(JSON.stringify([GOOD_ROW]).replace('"12.50"', '-0')),
    'quarantined',
  ],
  [
    'json: "NaN" as an amount',
    'json',
    () => b(JSON.stringify([{ ...GOOD_ROW, amount: 'NaN' }])),
    'quarantined',
  ],
  ['json: leading zeros', 'json', () => b('[{"amount":012}]'), 'BODY_UNPARSEABLE'],
  ['json: a lone surrogate escape', 'json', () => b('[{"tx_id":"\\ud800"}]'), 'quarantined'],
  [
    'json: invalid UTF-8 inside a string',
    'json',
    () => cat('[{"tx_id":"T', Buffer.from([0xff, 0xc0, 0xaf]), '"}]'),
    'quarantined',
  ],
  ['json: a UTF-8 BOM', 'json', () => cat(Buffer.from([0xef, 0xbb, 0xbf]), '[]'), 'BODY_SHAPE'],
  [
    'json: UTF-16LE with a BOM',
    'json',
    () => cat(Buffer.from([0xff, 0xfe]), Buffer.from('[]', 'utf16le')),
    'BODY_SHAPE',
  ],
  [
    'json: a 10 MB string in a field',
    'json',
    () => b(`[{"reference":"${'x'.repeat(MB10)}"}]`),
    'BODY_UNPARSEABLE',
  ],
  [
    'json: a 10 MB string in an unknown field',
    'json',
    () => b(`[{"x":"${'x'.repeat(MB10)}"}]`),
    'quarantined',
  ],
  [
    'json: 100,000 empty records',
    'json',
    () => b(`{"transactions":[${'{},'.repeat(99_999)}{}]}`),
    'quarantined',
  ],
  ['json: a record with a nested object field', 'json', () => b('[{"amount":{"v":1}}]'), 'quarantined'],
  ['json: repeated keys', 'json', () => b('[{"tx_id":"A","tx_id":"B"}]'), 'quarantined'],
  ['json: __proto__ key', 'json', () => b('[{"__proto__":{"x":1},"tx_id":"T"}]'), 'quarantined'],
  // NDJSON
  ['ndjson: blank lines only', 'ndjson', () => b('\n\n \n'), 'verdicts'],
  ['ndjson: an array line', 'ndjson', () => b('[]\n'), 'BODY_SHAPE'],
  ['ndjson: a number line', 'ndjson', () => b('{"tx_id":"T"}\n1\n'), 'BODY_SHAPE'],
  ['ndjson: two records on a line', 'ndjson', () => b('{"tx_id":"T"} {"tx_id":"U"}\n'), 'BODY_UNPARSEABLE'],
  ['ndjson: a truncated last line', 'ndjson', () => b('{"tx_id":"T"}\n{"tx_id":'), 'BODY_UNPARSEABLE'],
  ['ndjson: CR-only line ends', 'ndjson', () => b('{"tx_id":"T"}\r{"tx_id":"U"}\r'), 'BODY_UNPARSEABLE'],
  ['ndjson: CRLF line ends', 'ndjson', () => b('{"tx_id":"T"}\r\n{"tx_id":"U"}\r\n'), 'quarantined'],
  [
    'ndjson: a UTF-8 BOM',
    'ndjson',
    () => cat(Buffer.from([0xef, 0xbb, 0xbf]), '{"tx_id":"T"}\n'),
    'BODY_SHAPE',
  ],
  ['ndjson: a 10 MB line', 'ndjson', () => b(`{"reference":"${'x'.repeat(MB10)}"}`), 'BODY_UNPARSEABLE'],
  [
    'ndjson: a 10 MB line, newline-ended',
    'ndjson',
    () => b(`{"reference":"${'x'.repeat(MB10)}"}\n`),
    'BODY_UNPARSEABLE',
  ],
  [
    'ndjson: 10,000 nested objects',
    'ndjson',
    () => b(`{"x":${deep('{"a":', '}', 10_000, '1')}}\n`),
    'BODY_UNPARSEABLE',
  ],
  // CSV
  ['csv: header only', 'csv', () => b('tx_id,amount\n'), 'verdicts'],
  [
    'csv: a BOM and header only',
    'csv',
    () => cat(Buffer.from([0xef, 0xbb, 0xbf]), 'tx_id,amount\n'),
    'verdicts',
  ],
  ['csv: an unclosed quote', 'csv', () => b('tx_id,amount\n"T-1,12.50\n'), 'BODY_UNPARSEABLE'],
  ['csv: a quote inside an unquoted field', 'csv', () => b('tx_id,amount\nT"1,12.50\n'), 'BODY_UNPARSEABLE'],
  ['csv: text after a closing quote', 'csv', () => b('tx_id,amount\n"T"1,12.50\n'), 'BODY_UNPARSEABLE'],
  ['csv: an unclosed quote in the header', 'csv', () => b('"tx_id,amount\n'), 'BODY_UNPARSEABLE'],
  ['csv: CR-only line ends', 'csv', () => b('tx_id,amount\rT-1,12.50\rT-2,1e400\r'), 'quarantined'],
  ['csv: 100,000 header columns', 'csv', () => b(`${'c,'.repeat(99_999)}c\nx\n`), 'BODY_UNPARSEABLE'],
  ['csv: 100,000 cells in a row', 'csv', () => b(`tx_id,amount\n${'1,'.repeat(99_999)}1\n`), 'quarantined'],
  ['csv: a 10 MB field', 'csv', () => b(`tx_id,reference\nT,${'x'.repeat(MB10)}\n`), 'BODY_UNPARSEABLE'],
  [
    'csv: a 10 MB quoted field',
    'csv',
    () => b(`tx_id,reference\nT,"${'x'.repeat(MB10)}"\n`),
    'BODY_UNPARSEABLE',
  ],
  [
    'csv: a 10 MB field of escaped quotes',
    'csv',
    () => b(`tx_id,reference\nT,"${'""'.repeat(MB10 / 2)}"\n`),
    'BODY_UNPARSEABLE',
  ],
  ['csv: a 10 MB header cell', 'csv', () => b(`tx_id,${'x'.repeat(MB10)}\nT,1\n`), 'BODY_UNPARSEABLE'],
  ['csv: a 10 MB unknown column value', 'csv', () => b(`tx_id,x\nT,${'x'.repeat(MB10)}\n`), 'quarantined'],
  [
    'csv: invalid UTF-8 in a field',
    'csv',
    () => cat('tx_id,currency\nT,', Buffer.from([0xff, 0xfe]), '\n'),
    'quarantined',
  ],
  [
    'csv: UTF-16LE with a BOM',
    'csv',
    () => cat(Buffer.from([0xff, 0xfe]), Buffer.from('tx_id,amount\nT,1\n', 'utf16le')),
    'quarantined',
  ],
  [
    'csv: 1e400, -0, NaN amounts',
    'csv',
    () => b('tx_id,amount\nA,1e400\nB,-0\nC,NaN\nD,Infinity\n'),
    'quarantined',
  ],
  ['csv: NUL bytes', 'csv', () => b('tx_id,amount\n\0,\0\n'), 'quarantined'],
  // MessagePack
  ['msgpack: a fixint', 'msgpack', () => new Uint8Array([0x01]), 'BODY_SHAPE'],
  ['msgpack: a map at top level', 'msgpack', () => new Uint8Array([0x80]), 'BODY_SHAPE'],
  ['msgpack: an array of ints', 'msgpack', () => new Uint8Array([0x92, 0x01, 0x02]), 'BODY_SHAPE'],
  [
    'msgpack: array32 claiming 4 billion records',
    'msgpack',
    () => new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff, 0x80]),
    'BODY_UNPARSEABLE',
  ],
  [
    'msgpack: map32 claiming 4 billion fields',
    'msgpack',
    () => new Uint8Array([0x91, 0xdf, 0xff, 0xff, 0xff, 0xff]),
    'BODY_UNPARSEABLE',
  ],
  [
    'msgpack: str32 of 4 GB',
    'msgpack',
    () => mpRecord('reference', [0xdb, 0xff, 0xff, 0xff, 0xff, 0x41]),
    'BODY_UNPARSEABLE',
  ],
  [
    'msgpack: bin32 of 4 GB',
    'msgpack',
    () => mpRecord('reference', [0xc6, 0xff, 0xff, 0xff, 0xff]),
    'BODY_UNPARSEABLE',
  ],
  [
    'msgpack: ext32 of 4 GB',
    'msgpack',
    () => mpRecord('reference', [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01]),
    'BODY_UNPARSEABLE',
  ],
  [
    'msgpack: a key of 4 GB',
    'msgpack',
    () => new Uint8Array([0x91, 0x81, 0xdb, 0xff, 0xff, 0xff, 0xff]),
    'BODY_UNPARSEABLE',
  ],
  [
    'msgpack: a non-string key',
    'msgpack',
    () => new Uint8Array([0x91, 0x81, 0x01, 0x01]),
    'BODY_UNPARSEABLE',
  ],
  ['msgpack: the never-used type 0xc1', 'msgpack', () => mpRecord('amount', [0xc1]), 'BODY_UNPARSEABLE'],
  ['msgpack: trailing bytes', 'msgpack', () => new Uint8Array([0x90, 0x00]), 'BODY_UNPARSEABLE'],
  ['msgpack: a truncated float64', 'msgpack', () => mpRecord('amount', [0xcb, 0x00]), 'BODY_UNPARSEABLE'],
  [
    'msgpack: 10,000 nested maps in a field',
    'msgpack',
    () => mpRecord('amount', [...new Array(10_000).fill([0x81, 0xa1, 0x61]).flat(), 0x01]),
    'BODY_UNPARSEABLE',
  ],
  [
    'msgpack: 10,000 nested arrays in an unknown field',
    'msgpack',
    () => mpRecord('x', [...new Array(10_000).fill(0x91), 0x01]),
    'BODY_UNPARSEABLE',
  ],
  [
    'msgpack: NaN, -0 and 1e400 (Infinity) amounts',
    'msgpack',
    () => pack([{ amount: Number.NaN }, { amount: -0 }, { amount: Number.POSITIVE_INFINITY }]),
    'quarantined',
  ],
  ['msgpack: a 2^64-1 amount', 'msgpack', () => pack([{ amount: 2n ** 64n - 1n }]), 'quarantined'],
  ['msgpack: an unknown ext type', 'msgpack', () => mpRecord('ts', [0xd4, 0x05, 0x00]), 'quarantined'],
  [
    'msgpack: a timestamp ext of 12 bytes, extreme',
    'msgpack',
    () =>
      mpRecord(
        'ts',
        [0xc7, 12, 0xff, 0x3b, 0x9a, 0xc9, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      ),
    'quarantined',
  ],
  ['msgpack: invalid UTF-8 in a str', 'msgpack', () => mpRecord('tx_id', [0xa2, 0xff, 0xfe]), 'quarantined'],
  [
    'msgpack: invalid UTF-8 in a key',
    'msgpack',
    () => new Uint8Array([0x91, 0x81, 0xa2, 0xff, 0xfe, 0x01]),
    'quarantined',
  ],
  ['msgpack: a 10 MB string', 'msgpack', () => pack([{ reference: 'x'.repeat(MB10) }]), 'BODY_UNPARSEABLE'],
  [
    'msgpack: a 10 MB string in an unknown field',
    'msgpack',
    () => pack([{ x: 'x'.repeat(MB10) }]),
    'quarantined',
  ],
  // Arrow
  // Arrow regressions: each of these crashed or exhausted the heap before the fix in arrow.ts
  [
    'arrow: a batch claiming 2^31 field nodes (heap exhaustion before the framing check)',
    'arrow',
    () => patchArrow(1, (v, h) => v.setUint32(vectorAt(v, h, 1), 0x7fffffff, true)),
    'BODY_UNPARSEABLE',
  ],
  [
    'arrow: a batch claiming 2^31 buffers',
    'arrow',
    () => patchArrow(1, (v, h) => v.setUint32(vectorAt(v, h, 2), 0x7fffffff, true)),
    'BODY_UNPARSEABLE',
  ],
  [
    'arrow: a schema claiming 2^31 fields',
    'arrow',
    () => patchArrow(0, (v, h) => v.setUint32(vectorAt(v, h, 1), 0x7fffffff, true)),
    'BODY_UNPARSEABLE',
  ],
  [
    'arrow: bytes after the end-of-stream marker (heap exhaustion)',
    'arrow',
    () => {
      const base = BASES.arrow[1] as Uint8Array;
      const schemaEnd = 8 + new DataView(base.buffer, base.byteOffset).getInt32(4, true);
      return cat(base.subarray(0, schemaEnd), new Uint8Array(4), base.subarray(schemaEnd));
    },
    'BODY_UNPARSEABLE',
  ],
  [
    'arrow: a Timestamp column shorter than its batch (TypeError before)',
    'arrow',
    // buffers[1] is the values of the first field, ts: cut it to one value for several rows
    () => patchArrow(1, (v, h) => v.setBigInt64(vectorAt(v, h, 2) + 4 + 16 + 8, 8n, true), 2),
    'BODY_UNPARSEABLE',
  ],
  [
    'arrow: 50 million rows in a few hundred bytes (kernels allocating for them)',
    'arrow',
    () => {
      const body = arrowWith([['other', 'null']]).slice();
      const { v, header } = arrowMessage(body, 1);
      v.setBigInt64(header + v.getUint16(header - v.getInt32(header, true) + 4, true), 50_000_000n, true);
      v.setBigInt64(vectorAt(v, header, 1) + 4, 50_000_000n, true);
      v.setBigInt64(vectorAt(v, header, 1) + 12, 50_000_000n, true);
      return body;
    },
    'BODY_UNPARSEABLE',
  ],
  ['arrow: garbage', 'arrow', () => b('not an arrow stream at all'), 'BODY_UNPARSEABLE'],
  ['arrow: one byte', 'arrow', () => new Uint8Array([0xff]), 'BODY_UNPARSEABLE'],
  [
    'arrow: a continuation marker with a huge length',
    'arrow',
    () => new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
    'BODY_UNPARSEABLE',
  ],
  [
    'arrow: a stream cut in the first batch',
    'arrow',
    () => (BASES.arrow[2] as Uint8Array).subarray(0, (BASES.arrow[2] as Uint8Array).length - 40),
    'BODY_UNPARSEABLE',
  ],
  [
    'arrow: amount_minor as Utf8',
    'arrow',
    () =>
      arrowWith([
        ['tx_id', 'utf8'],
        ['amount_minor', 'utf8'],
      ]),
    'BODY_SHAPE',
  ],
  [
    'arrow: ts as Float64',
    'arrow',
    () =>
      arrowWith([
        ['tx_id', 'utf8'],
        ['ts', 'float64'],
      ]),
    'BODY_SHAPE',
  ],
  ['arrow: tx_id as Int32', 'arrow', () => arrowWith([['tx_id', 'int32']]), 'quarantined'],
  ['arrow: tx_id as a list', 'arrow', () => arrowWith([['tx_id', 'list']]), 'BODY_SHAPE'],
  ['arrow: amount_minor as Uint64', 'arrow', () => arrowWith([['amount_minor', 'uint64']]), 'quarantined'],
  ['arrow: amount_minor as Float64', 'arrow', () => arrowWith([['amount_minor', 'float64']]), 'BODY_SHAPE'],
  ['arrow: ts as Timestamp(s)', 'arrow', () => arrowWith([['ts', 'tsSec']]), 'quarantined'],
  ['arrow: ts as a Date', 'arrow', () => arrowWith([['ts', 'date']]), 'BODY_SHAPE'],
  ['arrow: a schema with no fields', 'arrow', () => arrowWith([]), 'verdicts'],
  [
    'arrow: a schema and no batches',
    'arrow',
    () => tableToIPC(new Table(new Schema([new Field('tx_id', new Utf8())])), 'stream'),
    'verdicts',
  ],
  [
    'arrow: a 10 MB string',
    'arrow',
    () => tableToIPC(new Table({ reference: vectorFromArray(['x'.repeat(MB10)], new Utf8()) }), 'stream'),
    'quarantined',
  ],
];

describe('hand-made cases', () => {
  planned += HAND_MADE.length;
  it.each(HAND_MADE)('%s', (_name, format, body, want) => {
    const out: Outcome = runCase(format, body());
    if (want === 'verdicts') expect(out).toHaveProperty('rows');
    else if (want === 'quarantined') {
      expect(out).toHaveProperty('quarantined');
      expect((out as { quarantined: number }).quarantined).toBeGreaterThan(0);
    } else expect(out).toEqual({ refused: want });
  });
});

// ---------------------------------------------------------------------------------------------
// Memory: the big cases, repeated, must not grow the process without bound
// ---------------------------------------------------------------------------------------------

describe('memory', () => {
  let rss0 = 0;
  beforeAll(() => {
    rss0 = process.memoryUsage().rss;
  });
  const BIG = HAND_MADE.filter(([name]) => /10 MB|100,000|10,000/.test(name));
  const rounds = 3;
  planned += BIG.length * rounds;
  it(`${BIG.length} big cases, ${rounds} rounds each, grow RSS by < 512 MiB`, () => {
    let peak = 0;
    for (let r = 0; r < rounds; r++) {
      for (const [, format, body] of BIG) {
        runCase(format, body());
        peak = Math.max(peak, process.memoryUsage().rss - rss0);
      }
    }
    expect(peak).toBeLessThan(512 * 1024 * 1024);
  });
});

// ---------------------------------------------------------------------------------------------
// The totals
// ---------------------------------------------------------------------------------------------

describe('totals', () => {
  afterAll(() => {
    const secs = ((performance.now() - startedAt) / 1000).toFixed(1);
    const lines = Object.entries(tallies).map(
      ([f, t]) =>
        `${f.padEnd(8)} ${String(t.cases).padStart(7)} cases: ${t.parsed} parsed (${t.rows} rows, ${t.quarantined} quarantined), refused ${JSON.stringify(t.refused)}; slowest ${t.slowestMs.toFixed(0)} ms (${t.slowestBytes} bytes)`,
    );
    console.log(`fuzz seed ${SEED}: ${totalCases()} cases in ${secs} s\n${lines.join('\n')}`);
  });

  it(`ran every planned case, at least ${DEFAULT_TOTAL.toLocaleString('en')} in total`, () => {
    expect(totalCases()).toBeGreaterThanOrEqual(planned);
    expect(totalCases()).toBeGreaterThanOrEqual(DEFAULT_TOTAL);
    for (const f of FORMAT_LIST) expect(tallies[f]?.cases ?? 0).toBeGreaterThan(10_000);
  });

  it('finished well inside a minute, with no single small case near a hang', () => {
    if (SCALE === 1) expect(performance.now() - startedAt).toBeLessThan(60_000);
    // the 10 MB cases take tens of ms; a fuzz case of a few KB taking seconds would be a hang
    for (const t of Object.values(tallies)) expect(t.slowestMs).toBeLessThan(5_000);
  });
});
