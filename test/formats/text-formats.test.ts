import type { RecordBatch } from 'apache-arrow';
import { encode } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { columnsOf } from '../../engine/columns.ts';
import { SluiceError } from '../../engine/errors.ts';
import { CsvScanner, parseCsv } from '../../engine/formats/csv.ts';
import { parseBody, parseColumns } from '../../engine/formats/index.ts';
import { NdjsonScanner, parseJson, parseNdjson } from '../../engine/formats/json.ts';
import { parseMsgpack } from '../../engine/formats/msgpack.ts';
import { recordBatchOf } from '../../engine/formats/text-batch-builder.ts';

const b = (s: string) => Buffer.from(s, 'utf8');

/** Reads a batch back as plain rows, for assertions only. */
function rows(batches: RecordBatch[]): Record<string, string | null>[] {
  const out: Record<string, string | null>[] = [];
  for (const batch of batches) {
    for (let i = 0; i < batch.numRows; i++) {
      const r: Record<string, string | null> = {};
      for (const f of batch.schema.fields) r[f.name] = batch.getChild(f.name)?.get(i) ?? null;
      out.push(r);
    }
  }
  return out;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof SluiceError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('CSV', () => {
  it('maps header names to fields, keeps quoted commas, quotes and newlines, ignores unknown columns', () => {
    const r = rows(
      parseCsv(b('tx_id,amount,extra,reference\r\nT1,"1,234.50",x,"say ""hi""\nthere"\r\nT2,5.00,y,\n')),
    );
    expect(r).toEqual([
      { tx_id: 'T1', amount: '1,234.50', reference: 'say "hi"\nthere' },
      { tx_id: 'T2', amount: '5.00', reference: '' },
    ]);
  });

  it('skips a UTF-8 BOM and blank lines, and reads a last line without a newline', () => {
    const r = rows(parseCsv(b('\ufefftx_id,currency\n\nT1,GBP\n\nT2,EUR')));
    expect(r.map((x) => x.tx_id)).toEqual(['T1', 'T2']);
    expect(r[1]?.currency).toBe('EUR');
  });

  it('gives short rows absent fields instead of dropping them', () => {
    const batches = parseCsv(b('tx_id,currency,channel\nT1,GBP\nT2\n'));
    expect(rows(batches)).toEqual([
      { tx_id: 'T1', currency: 'GBP' },
      { tx_id: 'T2', currency: null },
    ]);
    // a column no row filled is left out of the batch: absent, as if the header lacked it
    expect(batches[0]?.getChild('channel')).toBeNull();
  });

  it('refuses broken quotes with BODY_UNPARSEABLE', () => {
    expect(code(() => parseCsv(b('tx_id,amount\nT1,"12.50\n')))).toBe('BODY_UNPARSEABLE');
    expect(code(() => parseCsv(b('tx_id,amount\nT1,12"50\n')))).toBe('BODY_UNPARSEABLE');
    expect(code(() => parseCsv(b('tx_id,amount\nT1,"12"50\n')))).toBe('BODY_UNPARSEABLE');
  });

  it('gives the same rows however the input is split into chunks', () => {
    const text = b(
      'tx_id,reference,amount\r\nT1,"a ""q"", b",1.00\r\nT2,plain,2.00\r\nT3,"multi\r\nline",3.00\r\n',
    );
    const whole = rows(parseCsv(text));
    for (const size of [1, 2, 3, 7, 13]) {
      const s = new CsvScanner();
      const got: RecordBatch[] = [];
      for (let i = 0; i < text.length; i += size)
        got.push(...s.push(text.subarray(i, i + size)).map(recordBatchOf));
      got.push(...s.end().map(recordBatchOf));
      expect(rows(got)).toEqual(whole);
    }
  });

  it('splits into batches of the configured size', () => {
    const body = `tx_id\n${Array.from({ length: 25 }, (_, i) => `T${i}`).join('\n')}\n`;
    const batches = parseCsv(b(body), { batchRows: 10 });
    expect(batches.map((x) => x.numRows)).toEqual([10, 10, 5]);
  });
});

describe('JSON', () => {
  it('reads {"transactions": [...]} and bare arrays, keeping numbers as their source text', () => {
    const wrapped = rows(
      parseJson(
        b('{"meta":{"a":[1,{"b":2}]},"transactions":[{"tx_id":"T1","amount":1234.50,"ts":1700000000000}]}'),
      ),
    );
    expect(wrapped).toEqual([{ tx_id: 'T1', amount: '1234.50', ts: '1700000000000' }]);
    const bare = rows(parseJson(b('[{"tx_id":"T2","amount":"0.10"},{"tx_id":"T3","amount":1e3}]')));
    expect(bare.map((r) => r.amount)).toEqual(['0.10', '1e3']);
  });

  it('decodes escapes, including surrogate pairs, into UTF-8', () => {
    const r = rows(
      parseJson(b('[{"tx_id":"T1","counterparty_name":"Zo\\u00eb \\ud83d\\ude00 \\"Q\\"\\n"}]')),
    );
    expect(r[0]?.counterparty_name).toBe('Zoë 😀 "Q"\n');
  });

  it('treats null as absent and keeps a nested value of a known field as raw text', () => {
    const r = rows(parseJson(b('[{"tx_id":"T1","iban":null,"amount":{"value":"1.00"}}]')));
    expect(r).toEqual([{ tx_id: 'T1', amount: '{"value":"1.00"}' }]);
  });

  it('refuses malformed JSON with BODY_UNPARSEABLE and the wrong shape with BODY_SHAPE', () => {
    expect(code(() => parseJson(b('[{"tx_id":"T1",}]')))).toBe('BODY_UNPARSEABLE');
    expect(code(() => parseJson(b('[{"tx_id":"T1"}')))).toBe('BODY_UNPARSEABLE');
    expect(code(() => parseJson(b('[{"tx_id":"T1"}] x')))).toBe('BODY_UNPARSEABLE');
    expect(code(() => parseJson(b('{"rows":[]}')))).toBe('BODY_SHAPE');
    expect(code(() => parseJson(b('[1,2]')))).toBe('BODY_SHAPE');
    expect(code(() => parseJson(b('"x"')))).toBe('BODY_SHAPE');
  });

  it('bounds nesting depth inside skipped values', () => {
    const deep = `[{"x":${'['.repeat(100)}${']'.repeat(100)}}]`;
    expect(code(() => parseJson(b(deep)))).toBe('BODY_UNPARSEABLE');
    const ok = `[{"x":${'['.repeat(10)}${']'.repeat(10)},"tx_id":"T"}]`;
    expect(rows(parseJson(b(ok)))).toEqual([{ tx_id: 'T' }]);
  });
});

describe('NDJSON', () => {
  it('reads one record per line across chunk boundaries, skipping blank lines', () => {
    const text = b('{"tx_id":"T1","amount":"1.00"}\n\n{"tx_id":"T2","amount":2.5}\r\n{"tx_id":"T3"}');
    const s = new NdjsonScanner();
    const got: RecordBatch[] = [];
    for (let i = 0; i < text.length; i += 5) got.push(...s.push(text.subarray(i, i + 5)).map(recordBatchOf));
    got.push(...s.end().map(recordBatchOf));
    expect(rows(got).map((r) => r.tx_id)).toEqual(['T1', 'T2', 'T3']);
    expect(rows(parseNdjson(text))[1]?.amount).toBe('2.5');
  });

  it('refuses a line that is not a JSON object', () => {
    expect(code(() => parseNdjson(b('{"tx_id":"T1"}\n[1]\n')))).toBe('BODY_SHAPE');
    expect(code(() => parseNdjson(b('{"tx_id":"T1"\n')))).toBe('BODY_UNPARSEABLE');
  });
});

describe('MessagePack', () => {
  it('reads an array of maps; integers, floats and booleans become text; nil is absent', () => {
    const body = encode([
      { tx_id: 'T1', amount: '12.50', ts: 1700000000000, iban: null, extra: { deep: [1, 2] } },
      { tx_id: 'T2', amount: 0.1, direction: true },
    ]);
    expect(rows(parseMsgpack(body))).toEqual([
      { tx_id: 'T1', amount: '12.50', ts: '1700000000000', direction: null },
      { tx_id: 'T2', amount: '0.1', ts: null, direction: 'true' },
    ]);
  });

  it('refuses a length header that claims more than the body holds, without allocating for it', () => {
    const bomb = Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x80]);
    expect(code(() => parseMsgpack(bomb))).toBe('BODY_UNPARSEABLE');
    expect(code(() => parseMsgpack(encode({ tx_id: 'T1' })))).toBe('BODY_SHAPE');
    expect(code(() => parseMsgpack(Buffer.from([0x91, 0xc1])))).toBe('BODY_SHAPE');
  });
});

describe('parseBody', () => {
  it('refuses an empty body with BODY_EMPTY in every format', () => {
    for (const f of ['csv', 'json', 'ndjson', 'msgpack', 'arrow'] as const) {
      expect(code(() => parseBody(f, new Uint8Array(0)))).toBe('BODY_EMPTY');
    }
  });
});

describe('batch building', () => {
  it('keeps every value and null right as buffers grow past many powers of two', () => {
    const n = 5000;
    const lines = Array.from({ length: n }, (_, i) =>
      i % 7 === 0 ? `T${i}` : `T${i},${'x'.repeat(i % 13)}`,
    );
    const got = rows(parseCsv(b(`tx_id,reference\n${lines.join('\n')}\n`)));
    expect(got.length).toBe(n);
    for (let i = 0; i < n; i++) {
      expect(got[i]?.tx_id).toBe(`T${i}`);
      expect(got[i]?.reference).toBe(i % 7 === 0 ? null : 'x'.repeat(i % 13));
    }
  });
});

describe('columns without Arrow objects', () => {
  // The pipeline reads text bodies as columns straight from the builder; the CLI and tests read
  // Arrow batches. Both must hold the same bytes, offsets and null bits, batch for batch.
  const records = Array.from({ length: 23 }, (_, i) => ({
    tx_id: `T${i}`,
    amount: i % 3 === 0 ? null : `${i}.50`,
    counterparty_name: i % 5 === 0 ? undefined : `Zoë ${i}`,
    reference: i % 7 === 0 ? '' : `ref ${i}`,
  }));
  const bodies = {
    json: b(JSON.stringify({ transactions: records })),
    ndjson: b(records.map((r) => JSON.stringify(r)).join('\n')),
    csv: b(
      `tx_id,amount,counterparty_name,reference\n${records
        .map((r) => `${r.tx_id},${r.amount ?? ''},${r.counterparty_name ?? ''},"${r.reference}"`)
        .join('\n')}\n`,
    ),
    msgpack: encode(records),
  } as const;

  for (const [format, body] of Object.entries(bodies)) {
    it(`${format}: the Arrow batches of parseBody read back as the columns of parseColumns, in batches of 10`, () => {
      const direct = parseColumns(format as keyof typeof bodies, body, { batchRows: 10 });
      const viaArrow = parseBody(format as keyof typeof bodies, body, { batchRows: 10 }).map(columnsOf);
      expect(direct.map((c) => c.numRows)).toEqual([10, 10, 3]);
      expect(direct.length).toBe(viaArrow.length);
      direct.forEach((cols, k) => {
        const other = viaArrow[k] as (typeof viaArrow)[number];
        expect(Object.keys(cols.text)).toEqual(Object.keys(other.text));
        for (const [name, col] of Object.entries(cols.text)) {
          const o = other.text[name as keyof typeof other.text];
          expect([...col.offsets], name).toEqual([...(o?.offsets ?? [])]);
          expect(Buffer.from(col.data).toString(), name).toBe(Buffer.from(o?.data ?? []).toString());
          expect(col.validity ? [...col.validity] : null, name).toEqual(o?.validity ? [...o.validity] : null);
        }
      });
      // Nulls are really nulls (CSV has none: an empty field is empty text).
      const amount = recordBatchOf(direct[0] as (typeof direct)[number]).getChild('amount');
      expect(amount?.get(0)).toBe(format === 'csv' ? '' : null);
      expect(amount?.get(1)).toBe('1.50');
    });
  }
});
