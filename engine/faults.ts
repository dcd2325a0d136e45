/**
 * Crash points: named places in the write paths where the chaos tests make the process die as a
 * power cut or the OOM killer would, to show that recovery handles exactly that moment.
 *
 * `SLUICE_CRASH_AT=name` kills the whole process with SIGKILL the first time any thread reaches the
 * point; `name:n` the n-th time one thread reaches it (each thread counts alone: an AML shard's
 * third checkpoint, say). Unset, a crash point is one comparison.
 */

/** Every crash point, where it sits, and so what a crash there leaves behind. */
export const CRASH_POINTS = {
  /** Silver roller: the Parquet files of a roll are written and renamed; the manifest commit is not done. */
  'silver-roll': 'Parquet written and renamed, manifest not committed',
  /** AML shard: inside the checkpoint's write transaction, state slots put, the checkpoint marker not. */
  'aml-checkpoint': 'state slots written, checkpoint marker not',
  /** Compaction: the merged file is written and renamed; the manifest swap is not committed. */
  compaction: 'merged file written, manifest swap not committed',
  /** Compaction: the manifest swap is committed; the merged-away files are not deleted yet. */
  'compaction-swapped': 'manifest swapped, old files not deleted',
} as const;

export type CrashPointName = keyof typeof CRASH_POINTS;

function parse(spec: string | undefined): { name: string; nth: number } | null {
  if (!spec) return null;
  const m = /^([a-z-]+)(?::(\d+))?$/.exec(spec.trim());
  if (!m?.[1] || !(m[1] in CRASH_POINTS)) {
    throw new Error(`SLUICE_CRASH_AT='${spec}': expected one of ${Object.keys(CRASH_POINTS).join(', ')}[:n]`);
  }
  return { name: m[1], nth: Math.max(1, Number(m[2] ?? 1)) };
}

const armed = parse(process.env.SLUICE_CRASH_AT);
let hits = 0;

/** Dies here (SIGKILL, no cleanup, no flush) if SLUICE_CRASH_AT names this point and its turn has come. */
export function crashPoint(name: CrashPointName): void {
  if (armed === null || armed.name !== name) return;
  if (++hits < armed.nth) return;
  process.kill(process.pid, 'SIGKILL');
  // The signal may land a moment after kill(2) returns: block here so nothing after the point runs.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}
