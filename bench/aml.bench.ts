/**
 * What AML scoring adds to the validate step, per row: generated transactions as 8,192-row
 * batches, validated alone (the baseline, measured in the same run), then validated and scored
 * (the rules in WASM, state kept across batches), then validated, screened against the sanctions
 * lists and scored.
 *
 *   node --import tsx bench/aml.bench.ts      (BENCH_ROWS, BENCH_ACCOUNTS to change the load)
 *
 * The issue's target: scoring adds at most 30 % to the validate step's time per row.
 */
import os from 'node:os';
import { Bench } from 'tinybench';
import { AmlEngine, MemorySlotStore } from '../engine/aml/engine.ts';
import { inputFromVerdicts } from '../engine/aml/input.ts';
import { loadRules } from '../engine/aml/rules.ts';
import { DEFAULT_SANCTIONS_PATHS, SanctionsList } from '../engine/aml/sanctions.ts';
import { FIELDS } from '../engine/codes.ts';
import { csvColumns } from '../engine/formats/csv.ts';
import { TransactionGenerator } from '../engine/generator.ts';
import { Kernels } from '../engine/kernels.ts';
import { loadReferenceData } from '../engine/reference-data.ts';
import { Validator } from '../engine/validator.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 50_000);
const reference = loadReferenceData();
const kernels = new Kernels(reference);

function batchesOf(rows: number) {
  const gen = new TransactionGenerator(kernels, reference, {
    rows,
    seed: 5,
    format: 'csv',
    accounts: ACCOUNTS,
  });
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

async function main() {
  const batches = batchesOf(ROWS);
  const validator = new Validator(kernels);
  const rules = loadRules();
  const capacity = 1 << 17;
  const plain = new AmlEngine(rules, null, capacity);
  let plainStore = new MemorySlotStore(plain.kernel.slotBytes);
  const list = SanctionsList.load(DEFAULT_SANCTIONS_PATHS);
  const screened = new AmlEngine(rules, list.screen, capacity);
  let screenedStore = new MemorySlotStore(screened.kernel.slotBytes);
  // Each run streams the rows once through an empty state, as a day's traffic would: replaying
  // the same rows into a state that already holds them would pile events onto the same instants.
  const fresh = {
    plain: {
      beforeEach() {
        plain.kernel.reset();
        plainStore = new MemorySlotStore(plain.kernel.slotBytes);
      },
    },
    screened: {
      beforeEach() {
        screened.kernel.reset();
        screenedStore = new MemorySlotStore(screened.kernel.slotBytes);
      },
    },
  };

  const bench = new Bench({ time: 4000, warmup: true, iterations: 3 });
  bench
    .add('validate step (baseline)', () => {
      for (const b of batches) validator.validateColumns(b, null);
    })
    .add(
      'validate + AML rules (stateful, WASM)',
      () => {
        for (const b of batches) {
          const v = validator.validateColumns(b, null);
          plain.score(inputFromVerdicts(plain.kernel.memory, b, v, rules, true), null, plainStore, false);
        }
      },
      fresh.plain,
    )
    .add(
      'validate + sanctions screening + AML rules',
      () => {
        for (const b of batches) {
          const v = validator.validateColumns(b, null);
          screened.score(
            inputFromVerdicts(screened.kernel.memory, b, v, rules, true),
            null,
            screenedStore,
            false,
          );
        }
      },
      fresh.screened,
    );
  await bench.run();
  const ns = new Map<string, number>();
  for (const t of bench.tasks) {
    if (t.result.state !== 'completed') throw new Error(`${t.name}: ${t.result.state}`);
    ns.set(t.name, (t.result.latency.p50 * 1e6) / ROWS);
  }
  const base = ns.get('validate step (baseline)') as number;
  console.log(
    `\n${ROWS.toLocaleString('en-GB')} rows, ${ACCOUNTS.toLocaleString('en-GB')} accounts, ${list.size} list names; ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}; node ${process.version}\n`,
  );
  console.log('| step | ns/row (median) | rows/s | added to validate |');
  console.log('|---|---:|---:|---:|');
  for (const [name, v] of ns) {
    const added = name === 'validate step (baseline)' ? '—' : `+${(((v - base) / base) * 100).toFixed(0)} %`;
    console.log(`| ${name} | ${v.toFixed(0)} | ${(1e9 / v / 1e6).toFixed(2)} M | ${added} |`);
  }
}

await main();
