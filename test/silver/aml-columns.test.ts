/**
 * The roller fills a staged part's AML columns by swapping their buffers in the part's IPC bytes
 * (engine/silver/ipc-buffers.ts), not by decoding and encoding the part: every other column must
 * come out as staged, and the result must read the same as the general path's.
 */
import {
  Field,
  Int16,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromIPC,
  tableToIPC,
} from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { rulesOf } from '../../engine/aml/rule-names.ts';
import {
  type AmlColumnsOfPart,
  decodedAmlColumns,
  swappedAmlColumns,
  withAmlColumns,
} from '../../engine/aml/silver-columns.ts';
import { replaceBuffers } from '../../engine/silver/ipc-buffers.ts';
import { createWork, type WorkResult } from '../../engine/worker.ts';
import { jsonIngest, validRow } from '../support/rows.ts';
import { tempDir } from '../support/service.ts';
import { SILVER_SCHEMA, silverIpc } from './fixtures.ts';

/** A staged part of several record batches (the pool worker writes one per body batch). */
function stagedPart(sizes: number[], stagedAml = true): Uint8Array {
  const batches = sizes.flatMap(
    (rows, k) => tableFromIPC(silverIpc({ batchId: `B${k}`, date: '2026-11-27', rows, stagedAml })).batches,
  );
  return tableToIPC(new Table(batches), 'stream');
}

function amlOf(n: number): AmlColumnsOfPart {
  const score = new Uint8Array(n);
  const rules = new Uint16Array(n);
  const flags = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (i % 7 === 3) {
      score[i] = 30 + (i % 70);
      rules[i] = (i * 37) & 0x1ff;
    }
    flags[i] = i % 11 === 0 ? 1 : 0;
  }
  return { score, rules, flags };
}

/** Every column's values, by name (bytes as hex, 64-bit integers as text). */
function valuesOf(ipc: Uint8Array): Record<string, unknown[]> {
  const t = tableFromIPC(ipc);
  const out: Record<string, unknown[]> = {};
  for (const f of t.schema.fields) {
    out[f.name] = [...(t.getChild(f.name) ?? [])].map((v) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? v.toString() : v,
    );
  }
  return out;
}

describe('AML columns of a staged part', () => {
  it('are swapped into the bytes: scores, rule names and flags per row, every other column as staged', () => {
    const sizes = [5, 300, 1];
    const ipc = stagedPart(sizes);
    const aml = amlOf(306);
    const out = swappedAmlColumns(ipc, aml);
    expect(out).not.toBeNull();
    const got = valuesOf(out as Uint8Array);
    const staged = valuesOf(ipc);
    expect(got.aml_score).toEqual([...aml.score]);
    expect(got.aml_rules).toEqual([...aml.rules].map((m) => rulesOf(m).join(',')));
    // Bits staged with the rows (here 4 on every 17th of each batch) are kept.
    expect(got.flags).toEqual([...aml.flags].map((f, i) => f | (staged.flags?.[i] as number)));
    expect(staged.flags).toContain(4);
    for (const f of SILVER_SCHEMA.fields) {
      if (!['flags', 'aml_score', 'aml_rules'].includes(f.name)) expect(got[f.name]).toEqual(staged[f.name]);
    }
    expect(tableFromIPC(out as Uint8Array).batches.map((b) => b.numRows)).toEqual(sizes);
  });

  it('read exactly as the general path (decode, replace, encode) writes them', () => {
    const ipc = stagedPart([64, 64]);
    const aml = amlOf(128);
    expect(valuesOf(withAmlColumns(ipc, aml))).toEqual(valuesOf(decodedAmlColumns(ipc, aml)));
  });

  it('are swapped, not re-encoded, in a part the pool worker stages (the silver schema)', () => {
    const dir = tempDir();
    try {
      const rows = Array.from({ length: 40 }, (_, i) => validRow(`T${100 + i}`));
      const res = createWork({ dataDir: dir.path })(jsonIngest(rows, 'b1')) as WorkResult;
      const part = res.silver[0] as { rows: number; ipc: Uint8Array };
      expect(part.rows).toBe(40);
      const aml = amlOf(40);
      const swapped = swappedAmlColumns(part.ipc, aml);
      expect(swapped).not.toBeNull();
      expect(valuesOf(swapped as Uint8Array)).toEqual(valuesOf(decodedAmlColumns(part.ipc, aml)));
    } finally {
      dir.remove();
    }
  });

  it('are not swapped into a part whose AML column has another type than Int32', () => {
    const staged = tableFromIPC(stagedPart([6])).batches[0] as RecordBatch;
    const fields = staged.schema.fields.map((f) =>
      f.name === 'aml_score' ? new Field(f.name, new Int16(), true) : f,
    );
    const schema = new Schema(fields);
    const children = staged.data.children.map((c, i) =>
      fields[i]?.name === 'aml_score'
        ? makeData({ type: new Int16(), length: 6, nullCount: 0, data: new Int16Array(6) })
        : c,
    );
    const part = tableToIPC(
      new Table(schema, [
        new RecordBatch(schema, makeData({ type: new Struct(fields), length: 6, nullCount: 0, children })),
      ]),
      'stream',
    );
    expect(swappedAmlColumns(part, amlOf(6))).toBeNull();
  });

  it('go the general path when a staged AML column has nulls', () => {
    const ipc = stagedPart([30], false); // aml_rules null on most rows
    const aml = amlOf(30);
    expect(swappedAmlColumns(ipc, aml)).toBeNull();
    expect(valuesOf(withAmlColumns(ipc, aml)).aml_rules).toEqual(
      [...aml.rules].map((m) => rulesOf(m).join(',')),
    );
  });
});

describe('replacing IPC buffers', () => {
  it('keeps every buffer 8-byte aligned and the stream readable when a buffer grows', () => {
    const ipc = stagedPart([3]);
    // Buffers 1 and 2 are tx_id's offsets and data ("B0-0B0-1B0-2"): make the first id longer.
    const out = replaceBuffers(
      ipc,
      () =>
        new Map([
          [1, new Uint8Array(Int32Array.of(0, 5, 9, 13).buffer)],
          [2, new TextEncoder().encode('B0-00B0-1B0-2')],
        ]),
    ) as Uint8Array;
    const got = valuesOf(out);
    const staged = valuesOf(ipc);
    expect(got.tx_id).toEqual(['B0-00', 'B0-1', 'B0-2']);
    for (const f of SILVER_SCHEMA.fields) if (f.name !== 'tx_id') expect(got[f.name]).toEqual(staged[f.name]);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    expect(view.getInt32(out.length - 8, true)).toBe(-1); // the end-of-stream marker survives
    expect(view.getInt32(out.length - 4, true)).toBe(0);
  });

  it('writes the same bytes into reused memory as into fresh (the padding is cleared)', () => {
    const ipc = stagedPart([3, 9]);
    const grow = () => new Map([[2, new TextEncoder().encode('B0-00B0-1B0-2')]]);
    const fresh = replaceBuffers(ipc, grow) as Uint8Array;
    const used = replaceBuffers(ipc, grow, (size) => new Uint8Array(size).fill(0xaa)) as Uint8Array;
    expect(Buffer.from(used).equals(Buffer.from(fresh))).toBe(true);
  });

  it('refuses a stream without continuation markers rather than misreading it', () => {
    const legacy = stagedPart([2]).slice(4); // drops the first marker: the first word is now a length
    expect(replaceBuffers(legacy, () => new Map())).toBeNull();
  });
});
