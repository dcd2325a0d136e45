/**
 * The text formats' column builder (engine/formats/text-batch-builder.ts) carves small column
 * buffers from shared slabs: a one-row body makes one allocation, not one per buffer, and a batch
 * already emitted is never written over by the next.
 */
import { describe, expect, it } from 'vitest';
import type { Utf8Column } from '../../engine/columns.ts';
import { fieldIndex, TextBatchBuilder } from '../../engine/formats/text-batch-builder.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

function row(b: TextBatchBuilder, values: Record<string, string>): void {
  for (const [k, v] of Object.entries(values)) {
    const bytes = enc.encode(v);
    b.append(fieldIndex(k), bytes, 0, bytes.length);
  }
  b.endRow();
}

const valuesOf = (c: Utf8Column | undefined, n: number) =>
  Array.from({ length: n }, (_, i) => dec.decode(c?.data.subarray(c.offsets[i], c.offsets[i + 1])));

describe('TextBatchBuilder', () => {
  it('puts a one-row batch’s columns in one allocation', () => {
    const b = new TextBatchBuilder();
    row(b, { tx_id: 'T1', account_id: 'A1', currency: 'GBP', counterparty_name: 'Jane Smith' });
    const cols = b.flush();
    const text = cols?.text ?? {};
    const buffers = new Set(Object.values(text).flatMap((c) => (c ? [c.data.buffer, c.offsets.buffer] : [])));
    expect(Object.keys(text).length).toBe(4);
    expect(buffers.size).toBe(1);
    expect(valuesOf(text.counterparty_name, 1)).toEqual(['Jane Smith']);
  });

  it('never writes a later batch over one already emitted, and grows past the slab', () => {
    const b = new TextBatchBuilder();
    row(b, { tx_id: 'FIRST', account_id: 'A1' });
    const first = b.flush();
    // Enough rows and bytes that the columns outgrow a slab's share and get their own buffers.
    const ids = Array.from({ length: 3000 }, (_, i) => `SECOND-${i}`);
    for (const id of ids) row(b, { tx_id: id, account_id: `ACC-${id}` });
    const second = b.flush();
    expect(valuesOf(first?.text.tx_id, 1)).toEqual(['FIRST']);
    expect(valuesOf(first?.text.account_id, 1)).toEqual(['A1']);
    expect(valuesOf(second?.text.tx_id, 3000)).toEqual(ids);
    expect(valuesOf(second?.text.account_id, 3000)[2999]).toBe('ACC-SECOND-2999');
  });

  it('keeps values of every length byte for byte, from a part of a larger buffer and in pieces', () => {
    const b = new TextBatchBuilder();
    const lengths = [0, 1, 47, 48, 49, 50, 300, 5000];
    const texts = lengths.map((n, k) =>
      Array.from({ length: n }, (_, i) => String.fromCharCode(65 + ((i + k) % 26))).join(''),
    );
    const f = fieldIndex('reference');
    for (const t of texts) {
      // The value sits inside a larger buffer, and arrives in two appends, as a scanner sends an
      // escaped value.
      const buf = enc.encode(`<<${t}>>`);
      const mid = 2 + (t.length >> 1);
      b.append(f, buf, 2, mid);
      b.append(f, buf, mid, 2 + t.length);
      b.endRow();
    }
    expect(valuesOf(b.flush()?.text.reference, texts.length)).toEqual(texts);
  });
});
