/**
 * Two builds of the kernel module, side by side in one process: AML scoring time per row for each,
 * alternating round by round (and which goes first), on `bench/aml.bench.ts`'s rows, validated
 * once. Prints each round and the median of the rounds' B/A ratios with their range.
 *
 *   node --import tsx bench/aml-ab.ts A.wasm B.wasm [ROUNDS]
 *     (BENCH_ROWS, BENCH_ACCOUNTS; AB_A_TREE, AB_WITH_VALIDATE below)
 *
 * The way to judge a kernel change on a machine whose speed drifts by a third from one minute to
 * the next: whole runs of the AML bench disagree by ten points, while paired rounds seconds apart
 * resolve a few per cent (session 12). Build a module for each tree with
 * `bash scripts/build-wasm.sh OUT.wasm` (in a worktree of the other ref for A). The JavaScript
 * around the kernel is this tree's for both, so the two modules must share its exports; for a
 * change to that JavaScript too, `AB_A_TREE=DIR` takes A's kernel class (engine/aml/kernel.ts)
 * from the checkout at DIR, in the same process.
 */
import os from 'node:os';
import { MemorySlotStore } from '../engine/aml/engine.ts';
import { inputFromVerdicts } from '../engine/aml/input.ts';
import { AmlKernel } from '../engine/aml/kernel.ts';
import { loadRules } from '../engine/aml/rules.ts';
import { Kernels } from '../engine/kernels.ts';
import { loadReferenceData } from '../engine/reference-data.ts';
import { Validator } from '../engine/validator.ts';
import { WasmMemory } from '../engine/wasm-memory.ts';
import { amlBenchBatches } from './aml-rows.ts';
import { median } from './load.ts';

const [pathA, pathB] = process.argv.slice(2, 4);
if (!pathA || !pathB) {
  console.error('usage: node --import tsx bench/aml-ab.ts A.wasm B.wasm [ROUNDS]');
  process.exit(2);
}
const ROUNDS = Number(process.argv[4] ?? 20);
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 50_000);

const reference = loadReferenceData();
const kernels = new Kernels(reference);
const batches = amlBenchBatches(kernels, reference, ROWS, ACCOUNTS);
const validator = new Validator(kernels);
const verdicts = batches.map((b) => validator.validateColumns(b, null));
const rules = loadRules();

type KernelClass = typeof AmlKernel;
const A_TREE = process.env.AB_A_TREE;
const KernelA: KernelClass = A_TREE
  ? ((await import(`${A_TREE}/engine/aml/kernel.ts`)) as { AmlKernel: KernelClass }).AmlKernel
  : AmlKernel;

function kernelOf(path: string, Kernel: KernelClass): AmlKernel {
  const k = new Kernel(1 << 17, new WasmMemory(path));
  k.setParams(rules.params);
  return k;
}

/**
 * With `AB_WITH_VALIDATE=1` each batch is validated again right before it is scored, as in the
 * AML bench's second step: the pass then times both, and a change to what scoring leaves in the
 * caches shows in the validation after it too.
 */
const WITH_VALIDATE = process.env.AB_WITH_VALIDATE === '1';

/** One pass over every batch through an empty state: ns per row. */
function pass(k: AmlKernel): number {
  k.reset();
  const store = new MemorySlotStore();
  const t0 = performance.now();
  for (let i = 0; i < batches.length; i++) {
    const batch = batches[i] as (typeof batches)[number];
    const input = inputFromVerdicts(
      k.memory,
      batch,
      WITH_VALIDATE ? validator.validateColumns(batch, null) : (verdicts[i] as (typeof verdicts)[number]),
      rules,
      true,
    );
    k.score(input, null, store, false);
  }
  return ((performance.now() - t0) * 1e6) / ROWS;
}

const kernelsAB = { A: kernelOf(pathA, KernelA), B: kernelOf(pathB, AmlKernel) };
const ratios: number[] = [];
const times = { A: [] as number[], B: [] as number[] };
// Round 0 warms the JIT and the WASM tiers up and is not counted.
for (let round = 0; round <= ROUNDS; round++) {
  const order = round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
  const ns = { A: 0, B: 0 };
  for (const name of order) ns[name] = pass(kernelsAB[name]);
  if (round === 0) continue;
  times.A.push(ns.A);
  times.B.push(ns.B);
  ratios.push(ns.B / ns.A);
  console.log(
    `round ${round}: A ${ns.A.toFixed(1)}  B ${ns.B.toFixed(1)} ns/row  B/A ${(ns.B / ns.A).toFixed(3)}`,
  );
}
console.log(
  `\n${ROWS.toLocaleString('en-GB')} rows, ${ACCOUNTS.toLocaleString('en-GB')} accounts, ${ROUNDS} rounds; ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}; node ${process.version}`,
);
console.log(
  `A ${median(times.A).toFixed(1)} ns/row, B ${median(times.B).toFixed(1)} ns/row; B/A median ${median(ratios).toFixed(3)} (range ${Math.min(...ratios).toFixed(3)} … ${Math.max(...ratios).toFixed(3)})`,
);
