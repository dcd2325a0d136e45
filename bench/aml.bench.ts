/**
 * What AML scoring adds to the validate step, per row: generated transactions as 8,192-row
 * batches, validated alone (the baseline, measured in the same run), then validated and scored
 * (the rules in WASM, state kept across batches), then validated, screened against the sanctions
 * lists and scored.
 *
 *   node --import tsx bench/aml.bench.ts   (BENCH_ROWS, BENCH_ACCOUNTS, BENCH_ROUNDS to change it)
 *
 * The target: scoring adds at most 30 % to the validate step's time per row.
 *
 * The three steps run in rounds, one pass each per round, side by side, and each round's ratio is
 * taken between passes seconds apart. This machine's speed moves by a third from one minute to the
 * next; run one step for its whole measurement and then the next (as before session 12), and the
 * ratio measured that drift as much as the scoring (+36 % to +78 % for the same tree).
 */
import os from 'node:os';
import { Bench } from 'tinybench';
import { AmlEngine, MemorySlotStore } from '../engine/aml/engine.ts';
import { inputFromVerdicts } from '../engine/aml/input.ts';
import { loadRules } from '../engine/aml/rules.ts';
import { DEFAULT_SANCTIONS_PATHS, SanctionsList } from '../engine/aml/sanctions.ts';
import { Kernels } from '../engine/kernels.ts';
import { loadReferenceData } from '../engine/reference-data.ts';
import { Validator } from '../engine/validator.ts';
import { amlBenchBatches } from './aml-rows.ts';
import { median } from './load.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const reference = loadReferenceData();
const kernels = new Kernels(reference);

async function main() {
  const batches = amlBenchBatches(kernels, reference, ROWS, ACCOUNTS);
  const validator = new Validator(kernels);
  const rules = loadRules();
  const capacity = 1 << 17;
  const plain = new AmlEngine(rules, null, capacity);
  let plainStore = new MemorySlotStore();
  const list = SanctionsList.load(DEFAULT_SANCTIONS_PATHS);
  const screened = new AmlEngine(rules, list.screen, capacity);
  let screenedStore = new MemorySlotStore();
  // Each run streams the rows once through an empty state, as a day's traffic would: replaying
  // the same rows into a state that already holds them would pile events onto the same instants.
  const fresh = {
    plain: {
      beforeEach() {
        plain.kernel.reset();
        plainStore = new MemorySlotStore();
      },
    },
    screened: {
      beforeEach() {
        screened.kernel.reset();
        screenedStore = new MemorySlotStore();
      },
    },
  };

  const steps: [string, () => void, (() => void) | undefined][] = [
    [
      'validate step (baseline)',
      () => {
        for (const b of batches) validator.validateColumns(b, null);
      },
      undefined,
    ],
    [
      'validate + AML rules (stateful, WASM)',
      () => {
        for (const b of batches) {
          const v = validator.validateColumns(b, null);
          plain.score(inputFromVerdicts(plain.kernel.memory, b, v, rules, true), null, plainStore, false);
        }
      },
      fresh.plain.beforeEach,
    ],
    [
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
      fresh.screened.beforeEach,
    ],
  ];
  const ns = new Map<string, number[]>(steps.map(([name]) => [name, []]));
  // Round 0 warms the JIT and the WASM tiers up and is not counted.
  for (let round = 0; round <= ROUNDS; round++) {
    const bench = new Bench({ time: 0, iterations: 1, warmup: false });
    // Every other round runs the steps in reverse, so none always follows the same one.
    const order = round % 2 === 0 ? steps : [...steps].reverse();
    for (const [name, fn, beforeEach] of order) bench.add(name, fn, beforeEach ? { beforeEach } : {});
    await bench.run();
    if (round === 0) continue;
    for (const t of bench.tasks) {
      if (t.result.state !== 'completed') throw new Error(`${t.name}: ${t.result.state}`);
      ns.get(t.name)?.push((t.result.latency.p50 * 1e6) / ROWS);
    }
  }
  const base = ns.get('validate step (baseline)') as number[];
  console.log(
    `\n${ROWS.toLocaleString('en-GB')} rows, ${ACCOUNTS.toLocaleString('en-GB')} accounts, ${list.size} list names, ${ROUNDS} rounds; ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}; node ${process.version}\n`,
  );
  console.log(
    '| step | ns/row (median) | rows/s | added to validate (median of rounds) | range over rounds |',
  );
  console.log('|---|---:|---:|---:|---:|');
  const pct = (x: number) => `+${(x * 100).toFixed(0)} %`;
  for (const [name, v] of ns) {
    const m = median(v);
    if (v === base) {
      console.log(`| ${name} | ${m.toFixed(0)} | ${(1e9 / m / 1e6).toFixed(2)} M | — | — |`);
      continue;
    }
    // Each round's ratio against the baseline pass of the same round.
    const added = v.map((x, r) => (x - (base[r] as number)) / (base[r] as number));
    const range = `${pct(Math.min(...added))} … ${pct(Math.max(...added))}`;
    console.log(
      `| ${name} | ${m.toFixed(0)} | ${(1e9 / m / 1e6).toFixed(2)} M | ${pct(median(added))} | ${range} |`,
    );
  }
}

await main();
