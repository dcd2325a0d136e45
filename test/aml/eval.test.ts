/**
 * `sluice aml-eval` on generated data, as a user runs it: the AML engine must find every planted
 * typology row (recall 1.0 for every rule) while alerting on under 0.5 % of background rows, and
 * the command must fail when a label claims a firing the engine does not make.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AmlEvalReport } from '../../cli/aml-eval.ts';
import { type Label, TransactionGenerator } from '../../engine/generator.ts';
import { csvHeader, csvLine } from '../../engine/generator-formats.ts';
import { Kernels } from '../../engine/kernels.ts';
import { loadReferenceData } from '../../engine/reference-data.ts';
import { sluice } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-aml-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const reference = loadReferenceData();
const kernels = new Kernels(reference);

/** A CSV file and its labels, as `sluice generate` writes them, with a chosen typology share. */
function write(name: string, rows: number, seed: number, typologyShare: number, edit?: (l: Label) => Label) {
  const gen = new TransactionGenerator(kernels, reference, { rows, seed, typologyShare });
  const file = join(dir, `${name}.csv`);
  let csv = csvHeader();
  let labels = '';
  for (let g = gen.next(); g; g = gen.next()) {
    csv += csvLine(g.row);
    labels += `${JSON.stringify(edit ? edit(g.label) : g.label)}\n`;
  }
  writeFileSync(file, csv);
  writeFileSync(`${file}.labels.ndjson`, labels);
  return file;
}

describe('sluice aml-eval', () => {
  it('finds every planted typology row with recall 1.0 per rule, alerting on < 0.5 % of background', async () => {
    // 150k rows, a tenth planted: about 300 instances of each typology, every edge variant many times
    const file = write('eval', 150_000, 17, 0.1);
    const res = await sluice(['aml-eval', file, '--labels', `${file}.labels.ndjson`, '--json']);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as AmlEvalReport;
    console.info(
      `aml-eval: ${report.rows} rows, ${report.instances.found}/${report.instances.planted} instances found, ` +
        `background alert rate ${(100 * report.background.alert_rate).toFixed(3)} %`,
    );
    expect(report.status_mismatches).toBe(0);
    for (const r of report.rules) {
      expect(r.planted, r.rule).toBeGreaterThan(100);
      expect(r.recall, r.rule).toBe(1);
    }
    expect(report.instances.found).toBe(report.instances.planted);
    expect(Object.keys(report.instances.by_typology).length).toBe(9);
    expect(report.background.rows).toBeGreaterThan(100_000);
    expect(report.background.alert_rate).toBeLessThan(0.005);
    expect(report.pass).toBe(true);
  }, 120_000);

  it('prints the per-rule table, and exits 1 when a labelled firing is missed', async () => {
    // claim HIGH_VALUE on a few background rows that are nowhere near £10,000
    let claimed = 0;
    const file = write('tampered', 5000, 3, 0.05, (l) => {
      if (l.typology || l.status !== 'valid' || claimed >= 3) return l;
      claimed++;
      return { ...l, aml: [...l.aml, 'HIGH_VALUE'] };
    });
    const res = await sluice(['aml-eval', file, '--labels', `${file}.labels.ndjson`]);
    expect(res.code, res.stderr).toBe(1);
    expect(res.stdout).toMatch(/^rule\s+planted\s+fired\s+true pos\s+precision\s+recall$/m);
    expect(res.stdout).toMatch(/^HIGH_VALUE\s+\d+\s+\d+\s+\d+\s+[\d.]+%\s+(?!100\.00%)[\d.]+%$/m);
    expect(res.stdout).toContain('FAIL');
  });

  it('exits 2 on bad usage and 1 when labels and file disagree in length', async () => {
    expect((await sluice(['aml-eval'])).code).toBe(2);
    const file = write('short', 500, 5, 0);
    expect((await sluice(['aml-eval', file])).code).toBe(2);
    writeFileSync(`${file}.labels.ndjson`, '');
    const res = await sluice(['aml-eval', file, '--labels', `${file}.labels.ndjson`]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('labels');
  });
});
