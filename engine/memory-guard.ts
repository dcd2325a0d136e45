/**
 * The memory bound admission control honours (`--max-rss-mb`): above it, new batches and
 * validations are shed with 503 MEMORY_PRESSURE until memory falls back under it.
 *
 * It bounds *anonymous* resident memory (V8 heaps of every thread, Buffers, WASM memories), not
 * total RSS: total RSS also counts the pages of LMDB's data file the process has touched through
 * its memory map. Those grow with the data stored, never shrink while the file is mapped, and are
 * page cache the kernel reclaims under pressure; bounding them would shed for ever once enough
 * data had been written. Anonymous memory is what the OOM killer acts on.
 */
import { readFileSync } from 'node:fs';

const RSS_ANON = /RssAnon:\s+(\d+) kB/;

/** This process's anonymous resident memory in bytes (total RSS where /proc is not there). */
export function anonRssBytes(): number {
  try {
    const m = RSS_ANON.exec(readFileSync('/proc/self/status', 'latin1'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall through
  }
  return process.memoryUsage.rss();
}

export interface MemoryGuardOptions {
  /** Reads the current memory, bytes (tests inject one). */
  sample?: () => number;
  /** Re-reads at most this often: admission asks on every request, /proc costs ~20 µs a read. */
  everyMs?: number;
  now?: () => number;
}

export class MemoryGuard {
  private readonly sample: () => number;
  private readonly everyMs: number;
  private readonly now: () => number;
  private lastAt = Number.NEGATIVE_INFINITY;
  private last = 0;

  constructor(
    readonly maxBytes: number,
    opts: MemoryGuardOptions = {},
  ) {
    this.sample = opts.sample ?? anonRssBytes;
    this.everyMs = opts.everyMs ?? 100;
    this.now = opts.now ?? Date.now;
  }

  /** The memory last read, bytes (re-read if older than `everyMs`). */
  get bytes(): number {
    const t = this.now();
    if (t - this.lastAt >= this.everyMs) {
      this.last = this.sample();
      this.lastAt = t;
    }
    return this.last;
  }

  /** True while memory is above the bound. */
  get over(): boolean {
    return this.bytes > this.maxBytes;
  }
}
