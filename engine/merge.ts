/**
 * Merges the results of two shares of one body (contiguous record batches, worked on by two
 * workers at once) into the result one worker would have produced: rows renumbered after the
 * first share, silver parts of the same date concatenated, gold group indices remapped by key.
 * Duplicates across the two shares are not flagged here: the commit's tx-id claims catch them,
 * exactly as they catch a repeat of a stored row.
 */
import { Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { upperMedian } from './median.ts';
import { txIdBytes } from './validator.ts';
import type { WorkResult } from './worker.ts';

function concat<T extends Uint8Array | Uint32Array | Int32Array | BigInt64Array | Float64Array>(
  a: T,
  b: T,
  make: (n: number) => T,
): T {
  const out = make(a.length + b.length);
  out.set(a as never);
  out.set(b as never, a.length);
  return out;
}

function concatIpc(a: Uint8Array, b: Uint8Array): Uint8Array {
  return tableToIPC(new Table([...tableFromIPC(a).batches, ...tableFromIPC(b).batches]), 'stream');
}

/** Index remap of b's keys into a merged key list that starts as a's. */
function mergeKeys(a: string[], b: string[]): { keys: string[]; map: Int32Array } {
  const keys = [...a];
  const at = new Map(keys.map((k, i) => [k, i]));
  const map = new Int32Array(b.length);
  b.forEach((k, i) => {
    let j = at.get(k);
    if (j === undefined) {
      j = keys.length;
      keys.push(k);
      at.set(k, j);
    }
    map[i] = j;
  });
  return { keys, map };
}

export function mergeResults(a: WorkResult, b: WorkResult): WorkResult {
  const off = a.received;
  const n = off + b.received;

  const silver = a.silver.map((p) => ({ ...p }));
  const partOf = new Map(silver.map((p, i) => [p.date, i]));
  const bPart = new Int32Array(b.silver.length);
  const bPosBase = new Int32Array(b.silver.length);
  b.silver.forEach((p, k) => {
    const i = partOf.get(p.date);
    if (i === undefined) {
      partOf.set(p.date, silver.length);
      bPart[k] = silver.length;
      silver.push({ ...p });
    } else {
      const prev = silver[i] as (typeof silver)[number];
      bPart[k] = i;
      bPosBase[k] = prev.rows;
      // Sanctions hits name rows within the part: b's follow a's.
      const hits = [...(prev.hits ?? []), ...(p.hits ?? []).map((h) => ({ ...h, pos: h.pos + prev.rows }))];
      silver[i] = {
        date: p.date,
        rows: prev.rows + p.rows,
        ipc: concatIpc(prev.ipc, p.ipc),
        ...(hits.length ? { hits } : {}),
      };
    }
  });

  const groups = mergeKeys(a.groups, b.groups);
  const accounts = mergeKeys(a.accounts, b.accounts);
  const silverPart = concat(a.silverPart, b.silverPart, (m) => new Int32Array(m));
  const silverPos = concat(a.silverPos, b.silverPos, (m) => new Int32Array(m));
  const rowGroup = concat(a.rowGroup, b.rowGroup, (m) => new Int32Array(m));
  const rowAccount = concat(a.rowAccount, b.rowAccount, (m) => new Int32Array(m));
  for (let i = off; i < n; i++) {
    const p = silverPart[i] as number;
    if (p >= 0) {
      silverPart[i] = bPart[p] as number;
      silverPos[i] = (silverPos[i] as number) + (bPosBase[p] as number);
    }
    const g = rowGroup[i] as number;
    if (g >= 0) rowGroup[i] = groups.map[g] as number;
    const ac = rowAccount[i] as number;
    if (ac >= 0) rowAccount[i] = accounts.map[ac] as number;
  }

  const lateness = concat(a.lateness, b.lateness, (m) => new Float64Array(m));
  const timelinessP50Ms = upperMedian(lateness);
  return {
    ok: true,
    body: a.body,
    sha256: a.sha256,
    received: n,
    mask: concat(a.mask, b.mask, (m) => new Uint32Array(m)),
    txIds: [...a.txIds, ...b.txIds],
    txIdBytes: txIdBytes([a.txIdBytes, b.txIdBytes], [a.received, b.received]),
    claims: concat(a.claims, b.claims, (m) => new Uint8Array(m)),
    silver,
    silverPart,
    silverPos,
    groups: groups.keys,
    rowGroup,
    accounts: accounts.keys,
    rowAccount,
    amount: concat(a.amount, b.amount, (m) => new BigInt64Array(m)),
    credit: concat(a.credit, b.credit, (m) => new Uint8Array(m)),
    quarantine: [...a.quarantine, ...b.quarantine.map((q) => ({ ...q, row: q.row + off }))],
    missingRequired: a.missingRequired + b.missingRequired,
    timelinessP50Ms,
    latenessSumMs: a.latenessSumMs + b.latenessSumMs,
    latenessCount: a.latenessCount + b.latenessCount,
    lateness,
  };
}
