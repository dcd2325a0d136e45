/**
 * Kernel benchmarks: each WASM kernel over 1M rows, copy into WASM memory included, set against
 * plain-JS peers measured in the same run (ibantools.isValidIBAN, a tight hand-written MOD-97
 * over the same Arrow bytes), and the whole validate step per 8,192-row batch.
 *
 *   npm run bench            (about a minute on 2 cores)
 *
 * Prints a Markdown table of rows/s and ratios against the baselines; copy it to the README.
 */
import os from 'node:os';
import { isValidIBAN } from 'ibantools';
import { Bench } from 'tinybench';
import { FIELDS } from '../engine/codes.ts';
import type { Utf8Column } from '../engine/columns.ts';
import { csvColumns } from '../engine/formats/csv.ts';
import { ibanCheckDigits, rng, TransactionGenerator, utf8Column } from '../engine/generator.ts';
import { DEFAULT_MAX_FUTURE_MS, Kernels } from '../engine/kernels.ts';
import { loadReferenceData } from '../engine/reference-data.ts';
import { Validator } from '../engine/validator.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const reference = loadReferenceData();
const kernels = new Kernels(reference);

/** 1M IBANs from every registry country, a tenth of them with one digit changed. */
function ibanColumn(n: number): { col: Utf8Column; strings: string[] } {
  const r = rng(7);
  const formats = new TextDecoder()
    .decode(reference.ibanRegistrySpec)
    .trim()
    .split('\n')
    .map((l) => l.split(','));
  const strings: string[] = [];
  for (let i = 0; i < n; i++) {
    const [cc, , fmt] = formats[i % formats.length] as [string, string, string];
    let bban = '';
    for (const m of fmt.matchAll(/(\d+)!?([nac])/g)) {
      for (let k = 0; k < Number(m[1]); k++) {
        bban += m[2] === 'n' ? String(Math.floor(r() * 10)) : String.fromCharCode(65 + Math.floor(r() * 26));
      }
    }
    let iban = `${cc}${ibanCheckDigits(cc, bban)}${bban}`;
    if (i % 10 === 9) iban = `${iban.slice(0, -1)}${(Number(iban.at(-1)) + 1) % 10 || 'X'}`;
    strings.push(iban);
  }
  return { col: utf8Column(strings), strings };
}

/**
 * The peer: only MOD-97, as tight as plain JS gets, over the same Arrow offsets and bytes: the
 * BBAN first, then the four moved characters, with no branch on the position.
 */
function jsMod97(col: Utf8Column, n: number, out: Uint8Array): void {
  const { offsets, data } = col;
  for (let i = 0; i < n; i++) {
    const s = offsets[i] as number;
    const e = offsets[i + 1] as number;
    let rem = 0;
    for (let k = s + 4; k < e; k++) {
      const c = data[k] as number;
      rem = c >= 65 ? (rem * 100 + c - 55) % 97 : (rem * 10 + c - 48) % 97;
    }
    for (let k = s; k < s + 4; k++) {
      const c = data[k] as number;
      rem = c >= 65 ? (rem * 100 + c - 55) % 97 : (rem * 10 + c - 48) % 97;
    }
    out[i] = rem === 1 ? 0 : 21;
  }
}

async function main() {
  const { col: ibans, strings } = ibanColumn(ROWS);
  const toolsSample = strings.slice(0, 100_000);
  const modOut = new Uint8Array(ROWS);

  // Full-row data: generated transactions through the CSV parser, as 8,192-row batches.
  const gen = new TransactionGenerator(kernels, reference, { rows: ROWS, seed: 3, format: 'csv' });
  const cols = FIELDS;
  let csv = `${cols.join(',')}\n`;
  const sorts: string[] = [];
  const accts: string[] = [];
  for (let g = gen.next(); g; g = gen.next()) {
    const row = g.row as unknown as Record<string, unknown>;
    csv += `${cols
      .map((c) => {
        const v = c === 'ts' ? new Date(g.row.ts).toISOString() : row[c];
        return v === undefined ? '' : `"${String(v).replace(/"/g, '""')}"`;
      })
      .join(',')}\n`;
    sorts.push(g.row.sort_code ?? '');
    accts.push(g.row.account_number ?? '');
  }
  const batches = csvColumns(Buffer.from(csv));
  const sortCol = utf8Column(sorts);
  const acctCol = utf8Column(accts);
  const validator = new Validator(kernels);
  const params = { nowMs: Date.now(), maxFutureMs: DEFAULT_MAX_FUTURE_MS };

  const bench = new Bench({ time: 3000, warmup: true, iterations: 3 });
  bench
    .add('IBAN full validation, WASM (copy in included)', () => {
      kernels.ibanColumn(ibans, ROWS);
    })
    .add('MOD-97 only, tight JS loop over Arrow bytes', () => {
      jsMod97(ibans, ROWS, modOut);
    })
    .add('ibantools.isValidIBAN (100k strings)', () => {
      for (const s of toolsSample) isValidIBAN(s);
    })
    .add('UK modulus check, WASM (copy in included)', () => {
      kernels.modulusColumn(sortCol, acctCol, ROWS);
    })
    .add('full-row validate, WASM, 8,192-row batches (copy in and out included)', () => {
      for (const b of batches) kernels.validate(b, params);
    })
    .add('validate step incl. tx-id strings for dedup, 8,192-row batches', () => {
      for (const b of batches) validator.validateColumns(b, null);
    });
  await bench.run();

  const rowsPer: Record<string, number> = {
    'ibantools.isValidIBAN (100k strings)': toolsSample.length,
  };
  const rate = new Map<string, number>();
  for (const t of bench.tasks) {
    const res = t.result;
    if (res.state !== 'completed') throw new Error(`${t.name}: ${res.state}`);
    rate.set(t.name, (rowsPer[t.name] ?? ROWS) / (res.latency.p50 / 1000));
  }
  const tools = rate.get('ibantools.isValidIBAN (100k strings)') as number;
  const mod97 = rate.get('MOD-97 only, tight JS loop over Arrow bytes') as number;
  const fmt = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`);
  console.log(
    `\n${ROWS.toLocaleString('en-GB')} rows; ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}; node ${process.version}\n`,
  );
  console.log('| kernel | rows/s (median) | vs ibantools | vs JS MOD-97 |');
  console.log('|---|---:|---:|---:|');
  for (const [name, r] of rate) {
    console.log(`| ${name} | ${fmt(r)} | ${(r / tools).toFixed(1)}× | ${(r / mod97).toFixed(2)}× |`);
  }
}

await main();
