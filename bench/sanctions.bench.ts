/**
 * Sanctions screening benchmark: a 10,000-name synthetic list, 1M distinct-ish counterparty names
 * (mostly ordinary names that match nothing; 5 % share a given name, 1 % a surname and 12 % a
 * company word with the list; 1 % are variants of list names), screened through the WASM index in 8,192-row batches (copy in
 * and out included), on one core. The plain-JS peer, measured in the same run, is the same
 * normalisation and token-wise Jaro-Winkler (engine/aml/name-match.ts, the kernel's rule in plain
 * JS) as a full scan of a 1,000-name slice of the list, scaled to 10,000 names.
 *
 *   node --import tsx bench/sanctions.bench.ts        (about a minute; BENCH_ROWS to change 1M)
 *
 * Prints a Markdown table of names/s and the ratio to the JS scan. The kernel screens each distinct
 * name of a batch once; the share of distinct names is printed with the table.
 */
import os from 'node:os';
import { Bench } from 'tinybench';
import { normaliseName, tokenSimilarity } from '../engine/aml/name-match.ts';
import { type SanctionsEntry, SanctionsScreen } from '../engine/aml/sanctions.ts';
import type { Utf8Column } from '../engine/columns.ts';
import { rng, utf8Column } from '../engine/generator.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const LIST = 10_000;
const BATCH = 8192;
const JS_SLICE = 1000;
const JS_ROWS = 5000;

const r = rng(11);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const SYL = [
  'ka',
  'ra',
  'mo',
  've',
  'li',
  'sha',
  'dov',
  'tin',
  'ba',
  'ze',
  'nu',
  'ro',
  'gar',
  'fel',
  'ish',
  'ov',
  'ak',
  'mir',
  'zan',
  'tek',
  'lo',
  'vi',
  'ha',
  'sen',
  'dra',
  'gul',
  'per',
  'yev',
  'kam',
  'tor',
  'bel',
  'us',
  'in',
  'ren',
  'sol',
  'vak',
  'nik',
  'far',
  'oz',
  'qas',
  'jem',
  'hol',
  'pra',
  'zhu',
  'ling',
  'an',
  'el',
  'et',
];
function word(min: number, max: number, syl: readonly string[] = SYL): string {
  const n = min + Math.floor(r() * (max - min + 1));
  let w = '';
  for (let i = 0; i < n; i++) w += pick(syl);
  return w;
}
/** English-looking syllables for the rows, none shared with the list's. */
const UK_SYL = [
  'ton',
  'ley',
  'son',
  'ford',
  'ham',
  'wood',
  'field',
  'ing',
  'ber',
  'well',
  'by',
  'worth',
  'bridge',
  'cliff',
  'ridge',
  'all',
  'ers',
  'ock',
  'bury',
  'man',
  'wick',
  'ly',
  'har',
  'ash',
  'brook',
  'cot',
  'den',
  'gate',
  'hurst',
  'mond',
  'pen',
  'stead',
  'thw',
  'wyn',
  'cha',
  'rle',
  'fre',
  'dy',
  'ge',
  'mi',
  'chel',
  'ste',
  'phen',
  'jo',
  'ck',
];
const uniq = (n: number, f: () => string) => {
  const s = new Set<string>();
  while (s.size < n) s.add(f());
  return [...s];
};

// The list: persons (given, patronymic, surname) and entities (coined words + common company words).
const listGiven = [
  ...uniq(400, () => cap(word(2, 3))),
  'Mohammed',
  'Ali',
  'Ivan',
  'Sergei',
  'Ahmad',
  'Omar',
  'Viktor',
  'Olga',
  'Hassan',
  'Yusuf',
];
const listSurnames = uniq(6000, () => word(2, 4).toUpperCase());
const companyWords = [
  'TRADING',
  'LLC',
  'LTD',
  'HOLDINGS',
  'SHIPPING',
  'GROUP',
  'COMPANY',
  'EXCHANGE',
  'BANK',
];
const entries: SanctionsEntry[] = [];
for (let i = 0; i < LIST; i++) {
  let name: string;
  if (i % 5 === 4) {
    name = `${word(2, 3).toUpperCase()} ${pick(companyWords)}${r() < 0.5 ? ` ${pick(companyWords)}` : ''}`;
  } else {
    const patronymic = r() < 0.4 ? ` ${cap(word(2, 3))}ovich` : '';
    name = `${pick(listSurnames)}, ${pick(listGiven)}${patronymic}`;
  }
  entries.push({ id: `B:${i}`, name, source: 'OFAC' });
}

// The rows: ordinary names, businesses, some list-given-name collisions, 1 % list variants.
const ukGiven = uniq(300, () => cap(word(2, 3, UK_SYL))).concat([
  'John',
  'Mary',
  'David',
  'Sarah',
  'James',
  'Emma',
]);
const ukSurnames = uniq(20_000, () => cap(word(2, 4, UK_SYL)));
const trades = ['Plumbing', 'Bakery', 'Motors', 'Services', 'Consulting', 'Stores', 'Cafe', 'Builders'];
function variant(name: string): string {
  const t = name.replace(',', '').split(' ');
  const k = Math.floor(r() * t.length);
  const w = t[k] as string;
  const m = Math.max(1, Math.floor(w.length / 2));
  t[k] = `${w.slice(0, m - 1)}${w[m] ?? ''}${w[m - 1] ?? ''}${w.slice(m + 1)}`;
  return (r() < 0.5 ? t.reverse() : t).join(' ').toLowerCase();
}
const rows: string[] = [];
for (let i = 0; i < ROWS; i++) {
  const x = r();
  if (x < 0.01) rows.push(variant(pick(entries).name));
  else if (x < 0.06) rows.push(`${pick(listGiven)} ${pick(ukSurnames)}`);
  else if (x < 0.07) rows.push(`${pick(ukGiven)} ${cap(pick(listSurnames).toLowerCase())}`);
  else if (x < 0.18) rows.push(`${pick(ukSurnames)} ${pick(trades)} ${r() < 0.5 ? 'Ltd' : 'LLC'}`);
  else
    rows.push(
      `${pick(ukGiven)}${r() < 0.3 ? ` ${String.fromCharCode(65 + Math.floor(r() * 26))}.` : ''} ${pick(ukSurnames)}`,
    );
}

function batchesOf(names: string[]): { col: Utf8Column; n: number }[] {
  const out: { col: Utf8Column; n: number }[] = [];
  for (let i = 0; i < names.length; i += BATCH) {
    const part = names.slice(i, i + BATCH);
    out.push({ col: utf8Column(part), n: part.length });
  }
  return out;
}

async function main() {
  const t0 = performance.now();
  const screen = new SanctionsScreen(entries);
  const buildMs = performance.now() - t0;
  const batches = batchesOf(rows);
  const slice = entries.slice(0, JS_SLICE).map((e) => normaliseName(e.name));
  const jsRows = rows.slice(0, JS_ROWS);

  // Each distinct name in a batch is screened once (its rows copy the result), so the rate
  // depends on how often names repeat: these rows repeat little, a payment feed much more.
  const distinct = [];
  for (let i = 0; i < rows.length; i += BATCH) distinct.push(new Set(rows.slice(i, i + BATCH)).size);
  const distinctShare = distinct.reduce((a, b) => a + b, 0) / rows.length;

  // Sanity and match rate.
  let matched = 0;
  for (const b of batches) {
    const res = screen.screen(b.col, b.n, 0.9);
    for (const e of res.entry) if (e >= 0) matched++;
  }

  let sink = 0;
  const bench = new Bench({ time: 4000, warmup: true, iterations: 3 });
  bench
    .add('WASM index screen, 8,192-row batches (copy in and out included)', () => {
      for (const b of batches) sink += screen.screen(b.col, b.n, 0.9).entry[0] as number;
    })
    .add(`plain JS full scan of ${JS_SLICE.toLocaleString('en-GB')} names (${JS_ROWS} rows)`, () => {
      for (const row of jsRows) {
        const toks = normaliseName(row);
        let best = 0;
        for (const l of slice) {
          const s = tokenSimilarity(l, toks);
          if (s > best) best = s;
        }
        sink += best;
      }
    });
  await bench.run();

  const [wasmTask, jsTask] = bench.tasks;
  if (wasmTask?.result.state !== 'completed' || jsTask?.result.state !== 'completed')
    throw new Error('bench failed');
  const wasmRate = ROWS / (wasmTask.result.latency.p50 / 1000);
  // Names/s against the full 10,000-name list: a full scan costs LIST / JS_SLICE times more.
  const jsRate = JS_ROWS / (jsTask.result.latency.p50 / 1000) / (LIST / JS_SLICE);
  const fmt = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} k`);
  console.log(
    `\n${ROWS.toLocaleString('en-GB')} rows against ${LIST.toLocaleString('en-GB')} list names ` +
      `(${screen.stats.distinctTokens} distinct tokens, ${screen.stats.keys} keys, index ${(screen.stats.arenaBytes / 1024).toFixed(0)} KiB, built in ${buildMs.toFixed(0)} ms); ` +
      `${matched.toLocaleString('en-GB')} rows matched at 0.90; ${(distinctShare * 100).toFixed(1)} % of each batch's names distinct; ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}; node ${process.version}; one core\n`,
  );
  console.log('| screen | names/s vs 10k names (median) | vs JS full scan |');
  console.log('|---|---:|---:|');
  console.log(`| WASM index, 8,192-row batches | ${fmt(wasmRate)} | ${(wasmRate / jsRate).toFixed(0)}× |`);
  console.log(`| plain JS, full scan (measured on ${JS_SLICE} names, scaled) | ${fmt(jsRate)} | 1× |`);
  if (sink === Number.MIN_VALUE) console.log(sink);
}

await main();
