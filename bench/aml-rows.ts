/**
 * The AML benches' rows: `sluice generate` transactions (seed 5, a 30-day spread over `accounts`
 * accounts) as 8,192-row CSV column batches, the shape a validated request has.
 */
import { FIELDS } from '../engine/codes.ts';
import type { ColumnSet } from '../engine/columns.ts';
import { csvColumns } from '../engine/formats/csv.ts';
import { TransactionGenerator } from '../engine/generator.ts';
import type { Kernels } from '../engine/kernels.ts';
import type { ReferenceData } from '../engine/reference-data.ts';

export function amlBenchBatches(
  kernels: Kernels,
  reference: ReferenceData,
  rows: number,
  accounts: number,
): ColumnSet[] {
  const gen = new TransactionGenerator(kernels, reference, { rows, seed: 5, format: 'csv', accounts });
  let csv = `${FIELDS.join(',')}\n`;
  for (let g = gen.next(); g; g = gen.next()) {
    const row = g.row as unknown as Record<string, unknown>;
    csv += `${FIELDS.map((c) => {
      const v = c === 'ts' ? new Date(g.row.ts).toISOString() : row[c];
      return v === undefined ? '' : `"${String(v).replace(/"/g, '""')}"`;
    }).join(',')}\n`;
  }
  return csvColumns(Buffer.from(csv));
}
