/**
 * GBP-equivalents are computed in two places, exactly: in WASM (silver and AML scoring) and in
 * TypeScript with BigInt (`RateTable`). They must agree to the penny, rounding half up included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gbpColumn } from '../../engine/aml/input.ts';
import { loadRules } from '../../engine/aml/rules.ts';
import { utf8Column } from '../../engine/generator.ts';
import { Kernels } from '../../engine/kernels.ts';
import { RateTable } from '../../engine/rates.ts';
import { loadReferenceData } from '../../engine/reference-data.ts';

describe('GBP-equivalents', () => {
  const rules = loadRules();
  const rates = RateTable.fromRules(rules.doc.rates);
  const kernels = new Kernels(loadReferenceData({}));
  const mem = kernels.memory;
  const currencies = [...Object.keys(rules.doc.rates.gbp_per_unit), 'XAU', 'QQQ'];

  it('agree between the WASM kernel and the BigInt rate table for any amount and currency, from codes or validated indexes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 100_000_000_000n }), fc.constantFrom(...currencies)), {
          minLength: 1,
          maxLength: 300,
        }),
        (rows) => {
          const amounts = BigInt64Array.from(rows.map((r) => r[0]));
          const codes = utf8Column(rows.map((r) => r[1]));
          const got = gbpColumn(mem, rules, amounts, codes, rows.length);
          rows.forEach(([a, c], i) => {
            expect(got[i], `${a} ${c}`).toBe(rates.toGbpMinor(a, c) ?? -1n);
          });
          // The same from the currency indexes validation finds (how the pipeline calls it).
          const cols = { numRows: rows.length, text: { currency: codes }, tsMs: null, amountMinor: null };
          const index = kernels.validate(cols, { nowMs: 0, maxFutureMs: 0 }).currency;
          expect(gbpColumn(mem, rules, amounts, { index }, rows.length)).toEqual(got);
        },
      ),
      { numRuns: 200 },
    );
  });
});
