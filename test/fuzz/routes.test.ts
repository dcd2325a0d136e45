/**
 * Every HTTP route fuzzed over a real service on loopback, through a bare socket (test/fuzz/raw-http.ts)
 * so that nothing a client library would refuse to send is out of reach: random methods, paths and
 * path parameters, query strings, headers (content types, API keys good, bad and absent, huge
 * headers, odd bytes), and bodies (mutated valid bodies of each format, random bytes, hostile JSON,
 * chunked with odd chunk sizes), then a table of hand-made cases with the exact answer each must get.
 *
 * The contract every reply is held to (`assertContract`): a reply arrives and the connection ends;
 * never a 5xx, except 503 with Retry-After; every 4xx is `{"error": {"code", "message"}}` with a
 * code from engine/errors.ts whose registered status is the status sent; a request without a
 * valid key to anything but a public route is 401 UNAUTHENTICATED (unless HTTP itself refused it
 * first); a request with the all-roles key is never 401 or 403. After it all, /healthz answers and
 * the process's memory has not run away.
 *
 * `SLUICE_FUZZ_CASES` scales the random cases with the parser fuzz (the default runs 10,000 here);
 * `SLUICE_FUZZ_SEED` replays a seed.
 */
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../engine/errors.ts';
import { FORMATS, type Format } from '../../engine/formats/index.ts';
import { get, service, type TestService, tempDir } from '../support/service.ts';
import { FORMAT_LIST, type Mutation, mutate, validBodies } from './harness.ts';
import { type RawReply, type RawRequest, rawRequest } from './raw-http.ts';

const BODY_LIMIT = 12 * 2 ** 20;
const requested = Number(process.env.SLUICE_FUZZ_CASES ?? 0);
const RANDOM_CASES = Math.max(10_000, Math.ceil((requested / 100_000) * 10_000));
const SEED = process.env.SLUICE_FUZZ_SEED ? Number(process.env.SLUICE_FUZZ_SEED) : 20261128;

/** Codes HTTP itself answers with, before any route or key is looked at. */
const TRANSPORT_CODES = new Set([
  'BAD_REQUEST',
  'HEADERS_TOO_LARGE',
  'URI_TOO_LONG',
  'EXPECTATION_FAILED',
  'REQUEST_TIMEOUT',
  'RATE_LIMITED',
]);
const TRANSPORT_STATUSES = new Set([400, 408, 414, 417, 429, 431]);
const PUBLIC_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/docs/json']);

const dir = tempDir('sluice-routes-fuzz-');
let svc: TestService;
let port = 0;
let routes: { method: string; url: string }[] = [];

beforeAll(async () => {
  svc = await service(dir.path, {
    bodyLimitBytes: BODY_LIMIT,
    headersTimeoutMs: 5_000,
    requestTimeoutMs: 20_000,
    connectionTimeoutMs: 10_000,
  });
  port = Number(new URL(svc.url).port);
  routes = svc.routes.map((r) => ({ method: r.method, url: r.url }));
});
afterAll(async () => {
  await svc?.close();
  dir.remove();
});

interface Case extends RawRequest {
  /** What the request authenticates as: the all-roles key, nothing, or a wrong credential. */
  auth: 'key' | 'none' | 'bad';
}

const tally: Record<string, number> = {};

function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/** Throws (failing the property, with the case) when a reply breaks the contract. */
function assertContract(c: Case, rep: RawReply): void {
  const what = () =>
    `${c.method} ${c.target.slice(0, 200)} (auth ${c.auth}): ${rep.status} ${rep.raw.subarray(0, 300).toString('latin1')}`;
  if (rep.ended === 'deadline') throw new Error(`no end to the exchange: ${what()}`);
  if (rep.status === 0) throw new Error(`no reply: ${what()}`);
  const key = `${rep.status}`;
  tally[key] = (tally[key] ?? 0) + 1;
  if (rep.status >= 500 && !(rep.status === 503 && rep.headers['retry-after'])) {
    throw new Error(`server error: ${what()}`);
  }
  let code: string | undefined;
  if (rep.status >= 400 && c.method !== 'HEAD') {
    let json: { error?: { code?: unknown; message?: unknown } };
    try {
      json = JSON.parse(rep.body.toString('utf8'));
    } catch {
      throw new Error(`error reply is not JSON: ${what()}`);
    }
    code = json.error?.code as string | undefined;
    if (typeof code !== 'string' || !(code in ERRORS) || typeof json.error?.message !== 'string') {
      throw new Error(`error reply is not {"error": {"code", "message"}} with a registered code: ${what()}`);
    }
    if (ERRORS[code as keyof typeof ERRORS].status !== rep.status) {
      throw new Error(
        `code ${code} is registered as ${ERRORS[code as keyof typeof ERRORS].status}: ${what()}`,
      );
    }
    tally[code] = (tally[code] ?? 0) + 1;
  }
  if ((rep.status === 429 || rep.status === 503) && !rep.headers['retry-after']) {
    throw new Error(`shed without Retry-After: ${what()}`);
  }
  const path = pathOf(c.target);
  if (c.auth !== 'key' && !PUBLIC_PATHS.has(path)) {
    // a HEAD reply has no body to name its code: its status says enough
    const byHttp = code ? TRANSPORT_CODES.has(code) : TRANSPORT_STATUSES.has(rep.status);
    if (rep.status !== 401 && !byHttp) {
      throw new Error(`unauthenticated request not refused with 401: ${what()}`);
    }
  }
  if (c.auth === 'key' && (rep.status === 401 || rep.status === 403)) {
    throw new Error(`the all-roles key was refused: ${what()}`);
  }
}

async function run(c: Case): Promise<RawReply> {
  const rep = await rawRequest(port, c, { deadlineMs: 30_000 });
  assertContract(c, rep);
  return rep;
}

function authHeader(c: Case['auth'], badKind: number): [string, string | Uint8Array][] {
  if (c === 'none') return [];
  if (c === 'key') return [['Authorization', `Bearer ${svc.key}`]];
  const bad: (string | Uint8Array)[] = [
    'Bearer',
    'Bearer ',
    'Bearer x',
    `Bearer ${svc.key}x`,
    `Bearer ${svc.key.slice(0, -1)}`,
    `Basic ${Buffer.from(`user:${svc.key}`).toString('base64')}`,
    svc.key,
    `Bearer ${'A'.repeat(8000)}`,
    `Bearer ${svc.key} ${svc.key}`,
    Buffer.from([0x42, 0x65, 0x61, 0x72, 0x65, 0x72, 0x20, 0xe9, 0xff, 0xfe]),
    'Bearer \u00e9t\u00e9',
    'Token abc',
  ];
  return [['Authorization', bad[badKind % bad.length] as string | Uint8Array]];
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const METHODS = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'];
const ODD_METHODS = ['TRACE', 'CONNECT', 'FOO', 'get', 'M-SEARCH', 'PROPFIND', 'PURGE', 'QUERY'];

const segment = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }).map(encodeURIComponent) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '%',
      '%zz',
      '%00',
      '%ff',
      '%c0%af',
      '%ed%a0%80',
      '..',
      '.',
      '%2F..%2F',
      '%2e%2e',
      'a'.repeat(101),
      'a'.repeat(4000),
      '\u00e9',
      '%F0%9F%92%B7',
      '__proto__',
      'constructor',
      '-0',
      '1e400',
      'NaN',
    ),
  },
);

/** A path: a declared route with its parameters filled in (mostly), or something near one. */
const pathArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('/v1/batches', '/v1/validate') },
  {
    weight: 8,
    arbitrary: fc.tuple(fc.nat(), fc.array(segment, { minLength: 3, maxLength: 3 })).map(([i, segs]) => {
      const r = routes[i % routes.length] as { url: string };
      let k = 0;
      return r.url.replace(/:[a-z_]+/g, () => segs[k++ % segs.length] as string);
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(segment, { minLength: 0, maxLength: 5 })
      .map((segs) => `/${['v1', ...segs].join('/')}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '/',
      '//v1//alerts',
      '/v1/alerts/',
      '/V1/ALERTS',
      '/v1/batches/',
      '/v1/../healthz',
      '/healthz?',
      '/v1/alerts#x',
      '*',
      'http://127.0.0.1/v1/alerts',
      '/v1/reports/',
      '/v1/audit/verify/x',
    ),
  },
);

const QUERY_KEYS = [
  'from',
  'to',
  'min_score',
  'rule',
  'account_id',
  'batch_id',
  'limit',
  'cursor',
  'format',
  'status',
  'reason',
  'tx_id',
  'action',
  'actor',
  'target',
  'x',
  '__proto__',
  'constructor[prototype][x]',
  '',
];
const queryValue = fc.oneof(
  fc.constantFrom(
    '1e400',
    '-0',
    'NaN',
    'Infinity',
    '',
    '-1',
    '0',
    '100',
    '1001',
    '99999999999999999999',
    '2026-11-27T00:00:00Z',
    '2026-02-30',
    '9999-12-31T23:59:59+25:00',
    'csv',
    'json',
    'open',
    'STRUCTURING',
    'IBAN_CHECKSUM',
    '%zz',
    '%00',
    'a'.repeat(5000),
  ),
  fc.string({ maxLength: 30 }).map(encodeURIComponent),
  fc.integer().map(String),
);
const queryArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.tuple(fc.constantFrom(...QUERY_KEYS), queryValue), { maxLength: 6 })
      .map((kv) => (kv.length ? `?${kv.map(([k, v]) => `${k}=${v}`).join('&')}` : '')),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('?', '?&&', '?=', '?a', '?a=1&a=2&a=3', `?${'x=1&'.repeat(2000)}`),
  },
);

const CONTENT_TYPES = [
  ...Object.values(FORMATS),
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=iso-8859-1',
  'text/csv; header=present',
  'application/vnd.apache.arrow.stream; foo=bar',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  ';;;',
  'application/',
  'application/json, text/csv',
];

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  op: fc.nat(6),
  at: fc.nat(),
  len: fc.nat(64),
  byte: fc.nat(255),
});

const bases = Object.fromEntries(FORMAT_LIST.map((f, k) => [f, validBodies(f, [1, 4], 700 + k)])) as Record<
  Format,
  Uint8Array[]
>;

const resolveBody = fc
  .record(
    {
      action: fc.oneof(fc.constantFrom('release', 'reject', 'correct'), fc.string({ maxLength: 10 })),
      note: fc.oneof(fc.string({ maxLength: 50 }), fc.constant(''), fc.constant('n'.repeat(3000))),
      batch_id: fc.string({ maxLength: 70 }),
      fields: fc.dictionary(
        fc.constantFrom('iban', 'amount', 'currency', 'ts', 'x', '__proto__'),
        fc.oneof(fc.string({ maxLength: 20 }), fc.constant(null), fc.integer()),
      ),
    },
    { requiredKeys: [] },
  )
  .map((o) => JSON.stringify(o));

/** A body, and the format it was made in (its content type, most of the time). */
type Body = { bytes: Uint8Array | string; format?: Format };
const as =
  (format?: Format) =>
  (bytes: Uint8Array | string): Body => ({ bytes, format });

const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Body>({ bytes: '' }) },
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 512 }).map(as()) },
  {
    weight: 8,
    arbitrary: fc
      .tuple(fc.constantFrom(...FORMAT_LIST), fc.nat(), fc.array(mutationArb, { maxLength: 3 }))
      .map(([f, i, m]) => {
        const bs = bases[f];
        // half of them unmutated: they reach the commit
        return {
          bytes: i % 2 ? (bs[i % bs.length] as Uint8Array) : mutate(bs[i % bs.length] as Uint8Array, m),
          format: f,
        };
      }),
  },
  {
    weight: 2,
    arbitrary: fc
      .jsonValue({ maxDepth: 4 })
      .map((v) => JSON.stringify(v) ?? 'null')
      .map(as('json')),
  },
  {
    weight: 1,
    arbitrary: fc
      .jsonValue({ maxDepth: 3 })
      .map((v) => pack(v))
      .map(as('msgpack')),
  },
  { weight: 2, arbitrary: resolveBody.map(as('json')) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        '['.repeat(5000),
        `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`,
        '{"transactions": 1e400}',
        '[{"amount": 1e400, "ts": -0, "currency": NaN}]',
        '\ufeff[]',
        '"\\ud800"',
        '{"__proto__": {"x": 1}}',
      )
      .map(as('json')),
  },
);

/** `arb` one time in `n`, else undefined. */
const sometimes = <T>(arb: fc.Arbitrary<T>, n: number) =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    method: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...METHODS) }, fc.constantFrom(...ODD_METHODS)),
    /** Mostly a route's own method, so the cases reach the handlers. */
    ownMethod: fc.nat(9),
    path: pathArb,
    query: queryArb,
    auth: fc.constantFrom<Case['auth']>('key', 'key', 'key', 'key', 'key', 'none', 'bad'),
    badKind: fc.nat(),
    /** The body's own content type (most of the time), another, or none. */
    ownType: fc.nat(9),
    contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
    accept: sometimes(fc.constantFrom('text/csv', '*/*', 'application/json', 'x/y;q=0', ''), 3),
    idem: sometimes(fc.oneof(fc.string({ maxLength: 20 }), fc.constant('k'.repeat(300))), 4),
    requestId: sometimes(fc.oneof(fc.string({ maxLength: 20 }), fc.constant('r'.repeat(2000))), 4),
    odd: sometimes(
      fc.constantFrom<[string, string | Uint8Array]>(
        ['X-Big', 'x'.repeat(20_000)],
        ['X-Bytes', Buffer.from([0xc0, 0xaf, 0xff, 0x7f])],
        ['Content-Encoding', 'gzip'],
        ['Expect', '100-continue'],
        ['Expect', 'teapot'],
        ['Transfer-Encoding', 'identity'],
        ['Host', ''],
        ['X-Forwarded-For', '::1, 999.1.1.1'],
      ),
      8,
    ),
    body: bodyArb,
    chunked: sometimes(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), 6),
  })
  .map((r) => {
    const path = r.path.includes('?') ? r.path : `${r.path}${r.query}`;
    const method = r.ownMethod > 1 ? guessMethod(path) : r.method;
    const headers: [string, string | Uint8Array][] = [...authHeader(r.auth, r.badKind)];
    const type = r.ownType > 2 && r.body.format ? FORMATS[r.body.format] : r.contentType;
    if (type !== undefined) headers.push(['Content-Type', type]);
    if (r.accept !== undefined) headers.push(['Accept', r.accept]);
    if (r.idem !== undefined) headers.push(['Idempotency-Key', r.idem.replace(/[\r\n]/g, '')]);
    if (r.requestId !== undefined) headers.push(['X-Request-Id', r.requestId.replace(/[\r\n]/g, '')]);
    if (r.odd) headers.push(r.odd);
    const hasBody = method !== 'GET' && method !== 'HEAD';
    return {
      method,
      target: path,
      headers,
      body: hasBody ? r.body.bytes : undefined,
      chunked: hasBody ? r.chunked : undefined,
      auth: r.auth,
    };
  });

/** The method the route at this path declares (POST for the two ingest routes and resolve). */
function guessMethod(path: string): string {
  const p = pathOf(path);
  if (p === '/v1/batches' || p === '/v1/validate' || p.endsWith('/resolve')) return 'POST';
  if (p.startsWith('/v1/subjects/')) return 'DELETE';
  return 'GET';
}

// ---------------------------------------------------------------------------------------------

describe('every route, fuzzed over HTTP', () => {
  it('the fuzz reaches every declared route', () => {
    // so that a new route is fuzzed as soon as it exists (and this list says which were)
    expect(routes.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining([
        'POST /v1/batches',
        'POST /v1/validate',
        'GET /v1/batches/:batch_id',
        'GET /v1/alerts',
        'GET /v1/reports/:name',
        'GET /v1/quarantine',
        'POST /v1/quarantine/:tx_id/resolve',
        'GET /v1/audit',
        'GET /v1/audit/verify',
        'DELETE /v1/subjects/:customer_id',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
      ]),
    );
  });

  it(`${RANDOM_CASES} random requests: never a 5xx, every 4xx a registered code in the contract shape, 401 without a key`, async () => {
    const rss0 = process.memoryUsage().rss;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        await run(c);
        if (++n % 500 === 0) expect((await get(`${svc.url}/healthz`)).status).toBe(200);
      }),
      { numRuns: RANDOM_CASES, seed: SEED, endOnFailure: true },
    );
    console.info(`routes fuzz: ${JSON.stringify(tally)}`);
    expect((await get(`${svc.url}/healthz`)).status).toBe(200);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(512 * 2 ** 20);
    // the cases did reach the handlers, not only the edges
    expect(tally['200'] ?? 0).toBeGreaterThan(RANDOM_CASES / 20);
    expect(tally['201'] ?? 0).toBeGreaterThan(0);
    expect(tally.BODY_UNPARSEABLE ?? 0).toBeGreaterThan(0);
    expect(tally.UNAUTHENTICATED ?? 0).toBeGreaterThan(RANDOM_CASES / 20);
  }, 600_000);
});

// ---------------------------------------------------------------------------------------------
// Hand-made cases: what each must get

const json = (rows: Record<string, unknown>[]) => JSON.stringify({ transactions: rows });
const ROW = {
  tx_id: 'H-1',
  ts: '2026-11-26T10:00:00Z',
  amount: '12.50',
  currency: 'GBP',
  direction: 'debit',
  channel: 'FPS',
  account_id: 'ACC-H-1',
};
const TEN_MB = 'x'.repeat(10 * 2 ** 20);

function auth(): [string, string] {
  return ['Authorization', `Bearer ${svc.key}`];
}
function post(path: string, type: string, body: Uint8Array | string, extra: Partial<RawRequest> = {}): Case {
  return {
    method: 'POST',
    target: path,
    headers: [auth(), ['Content-Type', type]],
    body,
    auth: 'key',
    ...extra,
  };
}

/** [name, request, expected status, expected code (errors) or a check of the reply]. */
type Hand = [string, () => Case, number, string | ((rep: RawReply) => void) | null];

const HAND: Hand[] = [
  // sizes
  [
    'a body one byte over the limit',
    () => post('/v1/batches', FORMATS.json, ' '.repeat(BODY_LIMIT + 1)),
    413,
    'BODY_TOO_LARGE',
  ],
  [
    'a chunked body over the limit',
    () => post('/v1/batches', FORMATS.json, ' '.repeat(BODY_LIMIT + 1), { chunked: [1 << 20] }),
    413,
    'BODY_TOO_LARGE',
  ],
  [
    'a Content-Length of 10^15',
    () => post('/v1/batches', FORMATS.json, '', { contentLength: '1000000000000000' }),
    413,
    'BODY_TOO_LARGE',
  ],
  [
    'a valid body padded to exactly the limit',
    () => {
      const b = json([ROW]);
      return post('/v1/validate', FORMATS.json, b + ' '.repeat(BODY_LIMIT - b.length));
    },
    200,
    (r) => expect(JSON.parse(r.body.toString()).results).toHaveLength(1),
  ],
  [
    'a 10 MB reference in JSON',
    () => post('/v1/validate', FORMATS.json, json([{ ...ROW, reference: TEN_MB }])),
    400,
    'BODY_UNPARSEABLE',
  ],
  [
    'a 10 MB tx_id in NDJSON',
    () => post('/v1/batches', FORMATS.ndjson, JSON.stringify({ ...ROW, tx_id: TEN_MB })),
    400,
    'BODY_UNPARSEABLE',
  ],
  [
    'a 10 MB quoted cell in CSV',
    () => post('/v1/batches', FORMATS.csv, `tx_id,reference\nT1,"${TEN_MB}"\n`),
    400,
    'BODY_UNPARSEABLE',
  ],
  [
    'a 10 MB string in msgpack',
    () => post('/v1/validate', FORMATS.msgpack, pack([{ ...ROW, counterparty_name: TEN_MB }])),
    400,
    'BODY_UNPARSEABLE',
  ],
  [
    'a CSV header of a million columns',
    () => post('/v1/batches', FORMATS.csv, `${'a,'.repeat(999_999)}a\n${'1,'.repeat(999_999)}1\n`),
    400,
    null,
  ],
  // numbers, encodings
  [
    'amounts 1e400, -0 and NaN are row verdicts, not errors',
    () =>
      post(
        '/v1/validate',
        FORMATS.json,
        '[' +
          ['1e400', '-0', '"NaN"', '"-0"', '"1e400"']
            .map((a, i) => JSON.stringify({ ...ROW, tx_id: `N-${i}` }).replace('"12.50"', a))
            .join(',') +
          ']',
      ),
    200,
    (r) => {
      const results = JSON.parse(r.body.toString()).results as { status: string; reasons: string[] }[];
      expect(results).toHaveLength(5);
      for (const v of results) expect(v.status).toBe('invalid');
    },
  ],
  [
    'a CSV with a UTF-8 BOM parses',
    () =>
      post(
        '/v1/validate',
        FORMATS.csv,
        `\ufeff${Object.keys(ROW).join(',')}\n${Object.values(ROW).join(',')}\n`,
      ),
    200,
    (r) => expect(JSON.parse(r.body.toString()).results[0].status).toBe('valid'),
  ],
  [
    'a UTF-16 CSV is stored and every row quarantined (its header names no known field)',
    () =>
      post(
        '/v1/batches',
        FORMATS.csv,
        Buffer.concat([
          Buffer.from([0xff, 0xfe]),
          Buffer.from(`${Object.keys(ROW).join(',')}\n${Object.values(ROW).join(',')}\n`, 'utf16le'),
        ]),
      ),
    201,
    (r) => {
      const reply = JSON.parse(r.body.toString());
      expect(reply.accepted).toBe(0);
      expect(reply.quarantined).toBe(reply.received);
    },
  ],
  [
    'invalid UTF-8 inside a JSON string is a row verdict',
    () =>
      post(
        '/v1/validate',
        FORMATS.json,
        Buffer.concat([Buffer.from('[{"tx_id":"'), Buffer.from([0xc0, 0xaf, 0xff]), Buffer.from('"}]')]),
      ),
    200,
    (r) => expect(JSON.parse(r.body.toString()).results[0].status).toBe('invalid'),
  ],
  // nesting and bombs
  [
    'JSON nested 100,000 deep',
    () => post('/v1/batches', FORMATS.json, '['.repeat(100_000)),
    400,
    'BODY_SHAPE',
  ],
  [
    'JSON nested 100,000 deep to the resolve route',
    () =>
      post('/v1/quarantine/T1/resolve', FORMATS.json, `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`),
    400,
    null,
  ],
  [
    'a msgpack array header claiming 4 billion elements',
    () => post('/v1/batches', FORMATS.msgpack, Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x80])),
    400,
    'BODY_UNPARSEABLE',
  ],
  [
    'a msgpack str32 claiming 4 GiB',
    () =>
      post(
        '/v1/validate',
        FORMATS.msgpack,
        Buffer.from([0x91, 0x81, 0xa1, 0x61, 0xdb, 0xff, 0xff, 0xff, 0xff]),
      ),
    400,
    'BODY_UNPARSEABLE',
  ],
  [
    'an Arrow stream cut after its schema',
    () => post('/v1/batches', FORMATS.arrow, (bases.arrow[1] as Uint8Array).subarray(0, 200)),
    400,
    null,
  ],
  // HTTP itself
  [
    'headers of 20 KB',
    () => ({
      method: 'GET',
      target: '/v1/alerts',
      headers: [auth(), ['X-Big', 'x'.repeat(20_000)]],
      auth: 'key',
    }),
    431,
    'HEADERS_TOO_LARGE',
  ],
  [
    '1,000 headers',
    () => ({
      method: 'GET',
      target: '/healthz',
      headers: Array.from({ length: 1000 }, (_, i): [string, string] => [`X-H${i}`, 'v']),
      auth: 'none',
    }),
    200,
    null,
  ],
  [
    'a control byte in a header value',
    () => ({
      method: 'GET',
      target: '/healthz',
      headers: [['X-A', Buffer.from([0x01, 0x7f])]],
      auth: 'none',
    }),
    400,
    'BAD_REQUEST',
  ],
  [
    'Content-Length and Transfer-Encoding both (smuggling)',
    () => post('/v1/batches', FORMATS.json, '[]', { chunked: [1], contentLength: 2 }),
    400,
    'BAD_REQUEST',
  ],
  [
    'a malformed chunk size',
    () => ({
      method: 'POST',
      target: '/v1/validate',
      headers: [auth(), ['Content-Type', FORMATS.json], ['Transfer-Encoding', 'chunked']],
      body: 'zz\r\n[]\r\n0\r\n\r\n',
      contentLength: null,
      auth: 'key',
    }),
    400,
    'BAD_REQUEST',
  ],
  [
    'a method Node does not know',
    () => ({ method: 'FOO', target: '/v1/alerts', headers: [auth()], auth: 'key' }),
    400,
    'BAD_REQUEST',
  ],
  [
    'malformed percent-encoding in the path',
    () => ({ method: 'GET', target: '/v1/batches/%zz', headers: [auth()], auth: 'key' }),
    400,
    'BAD_REQUEST',
  ],
  [
    'a 300-character path parameter',
    () => ({ method: 'GET', target: `/v1/batches/${'b'.repeat(300)}`, headers: [auth()], auth: 'key' }),
    414,
    'URI_TOO_LONG',
  ],
  [
    'an Expect the server cannot meet',
    () =>
      post('/v1/validate', FORMATS.json, '[]', {
        headers: [auth(), ['Content-Type', FORMATS.json], ['Expect', 'x']],
      }),
    417,
    'EXPECTATION_FAILED',
  ],
  [
    'an unknown route',
    () => ({ method: 'GET', target: '/v2/alerts', headers: [auth()], auth: 'key' }),
    404,
    'NOT_FOUND',
  ],
  [
    'a known path, wrong method',
    () => ({ method: 'PUT', target: '/v1/batches', headers: [auth()], auth: 'key' }),
    404,
    'NOT_FOUND',
  ],
  // keys
  ['no key', () => ({ method: 'GET', target: '/v1/alerts', auth: 'none' }), 401, 'UNAUTHENTICATED'],
  ['no key, unknown route', () => ({ method: 'GET', target: '/v2/x', auth: 'none' }), 401, 'UNAUTHENTICATED'],
  [
    'no key, a body for ingest (refused before it is read)',
    () => ({
      ...post('/v1/batches', FORMATS.json, json([ROW])),
      headers: [['Content-Type', FORMATS.json]],
      auth: 'none',
    }),
    401,
    'UNAUTHENTICATED',
  ],
  [
    'Basic auth with the key as password',
    () => ({
      method: 'GET',
      target: '/v1/audit',
      headers: [['Authorization', `Basic ${Buffer.from(`u:${svc.key}`).toString('base64')}`]],
      auth: 'bad',
    }),
    401,
    'UNAUTHENTICATED',
  ],
  ['public routes need no key', () => ({ method: 'GET', target: '/readyz', auth: 'none' }), 200, null],
];

describe('hand-made hostile requests', () => {
  for (const [name, make, status, expectation] of HAND) {
    it(`${name}: ${status}${typeof expectation === 'string' ? ` ${expectation}` : ''}`, async () => {
      const c = make();
      const rep = await run(c);
      expect(rep.status).toBe(status);
      if (typeof expectation === 'string')
        expect(JSON.parse(rep.body.toString()).error.code).toBe(expectation);
      else if (expectation) expectation(rep);
    }, 60_000);
  }

  it('the service still answers /healthz after all of it', async () => {
    expect((await get(`${svc.url}/healthz`)).status).toBe(200);
  });
});
