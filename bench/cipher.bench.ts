/**
 * Row encryption benchmark: one 8,192-row batch of six personal fields (about 90 bytes a row), each
 * row under its own key (8,192 distinct keys, as when every row is a different data subject).
 * The WASM kernel (`RowCipher.xorRows`, copy in and out included) against the baseline measured in
 * the same run: node:crypto with one `createCipheriv('chacha20')` per row and one `update` per
 * field, written back in place (IVs built beforehand, which flatters the baseline).
 *
 *   node --import tsx bench/cipher.bench.ts        (about ten seconds)
 *
 * Prints a Markdown table of ns/row (median) and the ratio to node:crypto.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import os from 'node:os';
import { Bench } from 'tinybench';
import { type BinaryColumn, RowCipher } from '../engine/pii/cipher.ts';

const ROWS = 8192;
/** Typical lengths of the personal fields (name, IBAN, account number, sort code, address, email). */
const LENGTHS = [18, 22, 8, 6, 24, 12];

function column(base: number, n: number, seed: number): BinaryColumn {
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) offsets[i + 1] = (offsets[i] as number) + base + ((i * 7 + seed) % 9) - 4;
  return { offsets, data: randomBytes(offsets[n] as number) };
}

const keys = randomBytes(32 * ROWS);
const keyOfRow = Uint32Array.from({ length: ROWS }, (_, i) => (i * 5) % ROWS);
const nonces = randomBytes(12 * ROWS);
const columns = LENGTHS.map((len, k) => column(len, ROWS, k));
const bytesPerRow = columns.reduce((s, c) => s + c.data.length, 0) / ROWS;
const ivs = Buffer.alloc(16 * ROWS);
for (let i = 0; i < ROWS; i++) ivs.set(nonces.subarray(12 * i, 12 * i + 12), 16 * i + 4);

const cipher = new RowCipher();

function nodeCryptoRows(): void {
  for (let i = 0; i < ROWS; i++) {
    const r = keyOfRow[i] as number;
    const c = createCipheriv(
      'chacha20',
      keys.subarray(32 * r, 32 * r + 32),
      ivs.subarray(16 * i, 16 * i + 16),
    );
    for (const col of columns) {
      const s = col.offsets[i] as number;
      const e = col.offsets[i + 1] as number;
      col.data.set(c.update(col.data.subarray(s, e)), s);
    }
  }
}

const WASM = 'WASM RowCipher.xorRows (copy in and out included)';
const NODE = 'node:crypto, createCipheriv per row (baseline)';

const bench = new Bench({ time: 3000, warmup: true, iterations: 10 });
bench
  .add(WASM, () => {
    cipher.xorRows(keys, keyOfRow, nonces, columns);
  })
  .add(NODE, nodeCryptoRows);
await bench.run();

const nsPerRow = new Map<string, number>();
for (const t of bench.tasks) {
  const res = t.result;
  if (res.state !== 'completed') throw new Error(`${t.name}: ${res.state}`);
  nsPerRow.set(t.name, (res.latency.p50 * 1e6) / ROWS);
}
const base = nsPerRow.get(NODE) as number;
console.log(
  `\n${ROWS.toLocaleString('en-GB')} rows × ${LENGTHS.length} fields, ${bytesPerRow.toFixed(1)} bytes/row, ` +
    `${ROWS.toLocaleString('en-GB')} keys; ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}; node ${process.version}\n`,
);
console.log('| per 8,192-row batch | ns/row (median) | MB/s | vs node:crypto |');
console.log('|---|---:|---:|---:|');
for (const [name, ns] of nsPerRow) {
  console.log(
    `| ${name} | ${ns.toFixed(0)} | ${((bytesPerRow / ns) * 1e3).toFixed(0)} | ${(base / ns).toFixed(1)}× |`,
  );
}
