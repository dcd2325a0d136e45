/**
 * Background threads (the Parquet roller, the gold fold) run at a lower CPU priority than the
 * threads that answer requests, as a database lowers its compaction threads' priority (RocksDB's
 * `LowerThreadPoolCPUPriority`). On two cores a roll catching up after a burst of ingest
 * otherwise holds the core a validate request's reply is waiting for. A lowered thread still gets
 * every idle cycle, and a share under load: the nice value sets its weight, not a ceiling.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Nice for background threads: a weight of 335 against 1,024 for request threads (CFS). */
export const BACKGROUND_NICE = 5;

/**
 * Lowers the calling thread's priority; false where that cannot be done (not Linux, or refused).
 * On Linux a thread id is a process id to setpriority(2), which then applies to that thread only.
 */
export function lowerThisThread(nice = BACKGROUND_NICE): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
