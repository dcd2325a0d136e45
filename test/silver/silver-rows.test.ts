/**
 * What the pool worker stages for silver, per part: the batch's constant columns are on every row
 * (built by copying the value after itself, engine/silver-rows.ts), and row values and nulls are
 * kept through the gather by accepted row.
 */
import { tableFromIPC } from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';
import { createWork, type WorkResult } from '../../engine/worker.ts';
import { jsonIngest, validRow } from '../support/rows.ts';
import { tempDir } from '../support/service.ts';

const dir = tempDir();
const work = createWork({ dataDir: dir.path });
afterAll(() => dir.remove());

function staged(batchId: string, rows: Record<string, string>[]) {
  const res = work(jsonIngest(rows, batchId)) as WorkResult;
  expect(res.ok).toBe(true);
  return res.silver.map((p) => tableFromIPC(p.ipc));
}

describe('staged silver rows', () => {
  for (const n of [1, 3, 1000]) {
    it(`puts the batch id on each of ${n} accepted rows, and an empty rules column`, () => {
      const rows = Array.from({ length: n }, (_, i) => validRow(`S${n}-${i}`));
      const [t] = staged(`batch-${n}-ü`, rows);
      expect(t?.numRows).toBe(n);
      expect(new Set(t?.getChild('batch_id')?.toArray())).toEqual(new Set([`batch-${n}-ü`]));
      expect(t?.getChild('batch_id')?.nullCount).toBe(0);
      expect(new Set(t?.getChild('aml_rules')?.toArray())).toEqual(new Set(['']));
    });
  }

  it('keeps each accepted row’s optional values and nulls, leaving the quarantined row out', () => {
    const rows = [
      { ...validRow('N1'), reference: 'rent', counterparty_country: 'FR' },
      validRow('N2'), // no reference, no country
      { ...validRow('N3'), amount: 'x' }, // quarantined
      { ...validRow('N4'), reference: 'gift' },
    ];
    const [t] = staged('nulls', rows);
    expect(t?.getChild('tx_id')?.toArray()).toEqual(['N1', 'N2', 'N4']);
    expect(t?.getChild('counterparty_country')?.toArray()).toEqual(['FR', null, null]);
    // Sealed (personal), so bytes; which rows have one survives the gather.
    expect([...(t?.getChild('reference') ?? [])].map((x) => x === null)).toEqual([false, true, false]);
    expect(t?.getChild('batch_row')?.toArray()).toEqual(Int32Array.from([0, 1, 3]));
  });
});
