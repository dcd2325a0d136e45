/**
 * `sluice generate` then `sluice validate`, as a user runs them: every verdict must match its
 * label, in every generated format, and a 1M-row file must validate in bounded memory.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sluice } from '../support/cli.ts';

/** Peak RSS allowed for validating the 1M-row file (about 190 MiB of CSV). */
const RSS_BOUND_MB = 320;

const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Verdict {
  tx_id: string | null;
  status: string;
  reasons: string[];
  aml: { score: number; rules: string[] };
}

function compare(verdictText: string, labelsPath: string) {
  const verdicts = verdictText.trimEnd().split('\n');
  const labels = readFileSync(labelsPath, 'utf8').trimEnd().split('\n');
  expect(verdicts.length).toBe(labels.length);
  const mismatches: string[] = [];
  const kinds = new Map<string, number>();
  for (let i = 0; i < labels.length; i++) {
    const l = JSON.parse(labels[i] as string) as {
      tx_id: string | null;
      status: string;
      reasons: string[];
      kind: string;
      aml: string[];
    };
    const v = JSON.parse(verdicts[i] as string) as Verdict;
    kinds.set(l.kind, (kinds.get(l.kind) ?? 0) + 1);
    // A valid row's AML rules are exactly those its label says (planted typologies, and the
    // anomalies the generator knows its background produces).
    const same =
      v.status === l.status &&
      JSON.stringify(v.reasons) === JSON.stringify(l.reasons) &&
      (l.tx_id === null || v.tx_id === l.tx_id) &&
      (l.status !== 'valid' || JSON.stringify(v.aml.rules) === JSON.stringify(l.aml));
    if (!same && mismatches.length < 5)
      mismatches.push(`row ${i}: label ${labels[i]} verdict ${verdicts[i]}`);
  }
  expect(mismatches).toEqual([]);
  return kinds;
}

describe('sluice generate | sluice validate', () => {
  for (const format of ['csv', 'ndjson', 'arrow'] as const) {
    it(`gives every row of a generated ${format} file the verdict its label says`, async () => {
      const file = join(dir, `small.${format}`);
      const g = await sluice([
        'generate',
        '--rows',
        '20000',
        '--seed',
        '11',
        '--format',
        format,
        '--bad-share',
        '0.05',
        '--out',
        file,
      ]);
      expect(g.code, g.stderr).toBe(0);
      const v = await sluice(['validate', file]);
      expect(v.code, v.stderr).toBe(0);
      const kinds = compare(v.stdout, `${file}.labels.ndjson`);
      // every planted kind occurs (Arrow cannot carry the three text-only kinds)
      expect(kinds.size).toBe(format === 'arrow' ? 20 : 23);
    });
  }

  it('validates a 1M-row CSV streaming, in memory far below the file size', async () => {
    const rows = Number(process.env.SLUICE_CLI_ROWS ?? 1_000_000);
    const file = join(dir, 'big.csv');
    const g = await sluice(['generate', '--rows', String(rows), '--seed', '5', '--out', file]);
    expect(g.code, g.stderr).toBe(0);
    const v = await sluice(['validate', file]);
    expect(v.code, v.stderr).toBe(0);
    compare(v.stdout, `${file}.labels.ndjson`);
    // Streaming holds one 1 MiB chunk, one 8,192-row batch and the set of tx ids seen (for
    // DUPLICATE_TX); reading the whole file would hold it all, and its columns, at once.
    const fileMb = statSync(file).size / 2 ** 20;
    const rssMb = v.maxRssKb / 1024;
    console.info(`validate: ${rows} rows, file ${fileMb.toFixed(0)} MiB, peak RSS ${rssMb.toFixed(0)} MiB`);
    expect(rssMb).toBeLessThan(RSS_BOUND_MB);
  }, 300_000);

  it('exits 2 on bad usage and 1 on an unreadable file', async () => {
    expect((await sluice(['validate'])).code).toBe(2);
    expect((await sluice(['generate', '--rows', 'x', '--out', join(dir, 'x.csv')])).code).toBe(2);
    expect((await sluice(['frobnicate'])).code).toBe(2);
    const missing = await sluice(['validate', join(dir, 'nope.csv')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('FILE_UNREADABLE');
  });
});
