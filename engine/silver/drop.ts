/** Row arithmetic for duplicate rows cut from staged silver parts (shared by roller and worker). */

/** Half-open row ranges [start, end) of `rows` that survive dropping the indices in `drop`. */
export function keptRanges(rows: number, drop: readonly number[] | undefined): [number, number][] {
  if (!drop || drop.length === 0) return rows > 0 ? [[0, rows]] : [];
  const cut = [...new Set(drop)]
    .filter((i) => Number.isInteger(i) && i >= 0 && i < rows)
    .sort((a, b) => a - b);
  const out: [number, number][] = [];
  let start = 0;
  for (const i of cut) {
    if (i > start) out.push([start, i]);
    start = i + 1;
  }
  if (start < rows) out.push([start, rows]);
  return out;
}

/** How many of `rows` survive `drop` (duplicate and out-of-range indices are ignored). */
export function keptCount(rows: number, drop: readonly number[] | undefined): number {
  if (!drop || drop.length === 0) return rows;
  let n = 0;
  for (const [s, e] of keptRanges(rows, drop)) n += e - s;
  return n;
}
