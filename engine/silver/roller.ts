/**
 * The silver roller: moves accepted rows from LMDB staging into Parquet files under
 * `<dataDir>/silver/date=YYYY-MM-DD/part-<firstSeq>-<lastSeq>.parquet`, in files of a sensible size.
 *
 * A roll takes the oldest staged entries (at most about 2 × targetRows rows), has a worker thread
 * write one file per event date (temp name, fsync, rename, fsync dir), and only then commits ONE
 * LMDB transaction that adds the manifest entries, records lineage on the batch records and deletes
 * the consumed staging keys. A crash before that commit leaves an orphan file that `recover()`
 * deletes, and the rows are still staged, so they are rolled again: none lost, none written twice.
 *
 * Staging keys are batch sequence numbers, allocated inside the commit transaction, so they become
 * visible in increasing order: the roller reads only keys above the last one it has seen.
 *
 * With AML, a batch rolls once every shard has scored it (its scores go into the file), and its
 * staging entry is deleted once every shard has also checkpointed past it: until then a replay after
 * a crash may need to read it. An entry rolled before that is marked rolled (`rolledKey`) in the
 * roll's transaction and deleted by a later roll. Rolling had waited for the checkpoint, which comes
 * every 10 s: the rolls came in lumps of 10 s of ingest, and the lump after a burst took the cores
 * from requests for seconds.
 */
import { unlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Piscina } from 'piscina';
import { checkpointedThrough, scoredThrough } from '../aml/shards.ts';
import {
  type AmlColumnsOfPart,
  loadPart,
  mergeShardParts,
  type StoredPartScores,
} from '../aml/silver-columns.ts';
import { amlKeys } from '../aml/store-keys.ts';
import { crashPoint } from '../faults.ts';
import { type SilverFile, STAGED_GONE, type StagedHeader, type StagedView, type Store } from '../store.ts';
import { workerFile } from '../worker-file.ts';
import { checkSilverFile, type SilverProblem } from './checksum.ts';
import { keptCount } from './drop.ts';
import { listFiles } from './list-files.ts';
import type { WriteResult, WriteTask } from './parquet-worker.ts';

export interface RollerOptions {
  /** Roll when at least this many rows are staged (default 262144). A roll takes at most twice this. */
  targetRows?: number;
  /** Roll anyway when the oldest staged entry has waited this long (default 30 s). */
  maxAgeMs?: number;
  /** How often the timer started by `start()` checks (default 1 s). */
  intervalMs?: number;
  /** Where errors of timer-driven rolls go (default: console.error). */
  onError?: (err: unknown) => void;
  /** Called after each roll that wrote or consumed something (for metrics and logs). */
  onRoll?: (result: RollResult & { ms: number }) => void;
  /**
   * AML shards scoring the staged batches: a batch is rolled once every shard has scored it, with
   * the shards' scores joined in, and leaves staging once every shard has checkpointed past it.
   */
  amlShards?: number;
}

export interface RollResult {
  files: SilverFile[];
  /** Staged entries (batches) consumed. */
  batches: number;
  /** Rows written to Parquet. */
  rows: number;
}

/** One line of a batch record's `silver_files`: which rows of which file hold the batch's rows. */
export interface BatchSilverFile {
  path: string;
  firstRow: number;
  rows: number;
}

interface Tracked {
  seq: number;
  /** Rows staged (before drops): what a roll has to hold in memory. */
  rows: number;
  /** Rows that will reach Parquet. */
  kept: number;
  firstSeen: number;
}

interface DatePart {
  seq: number;
  batchId: string;
  drop: number[] | undefined;
  kept: number;
  aml?: AmlColumnsOfPart;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

const pad = (seq: number) => String(seq).padStart(8, '0');

/** The `meta` key marking a staged entry as rolled, kept until the AML checkpoints pass it. */
export const rolledKey = (seq: number) => `silver|rolled|${seq}`;

export class SilverRoller {
  readonly targetRows: number;
  readonly maxAgeMs: number;
  readonly intervalMs: number;
  private readonly store: Store;
  private readonly onError: (err: unknown) => void;
  private readonly onRoll: RollerOptions['onRoll'];
  private readonly amlShards: number;

  /** Staged entries seen and not yet rolled, in the order first seen (so the first is the oldest). */
  private readonly tracked = new Map<number, Tracked>();
  /** Staged entries rolled and marked so, until the AML checkpoints pass them (`trim`). */
  private readonly rolledKept = new Set<number>();
  private lastSeq = 0;
  private outOfOrder = false;
  private totalRows = 0;
  private totalKept = 0;

  private chain: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private timer: NodeJS.Timeout | undefined;
  private pool: Piscina | undefined;
  private failures = 0;
  private retryAt = 0;

  constructor(store: Store, opts: RollerOptions = {}) {
    this.store = store;
    this.targetRows = Math.max(1, opts.targetRows ?? 262_144);
    this.maxAgeMs = opts.maxAgeMs ?? 30_000;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.onError = opts.onError ?? ((err) => console.error('[silver roller]', err));
    this.onRoll = opts.onRoll;
    this.amlShards = opts.amlShards ?? 0;
  }

  /** Rows staged but not yet in Parquet (duplicates that will be dropped are not counted). */
  stagedRows(): number {
    this.scan();
    return this.totalKept;
  }

  /**
   * Deletes what a crash mid-roll left under `<dataDir>/silver`: temp files, and Parquet files that
   * are not in the manifest (renamed, but the commit never happened). Call before rolling starts.
   */
  recover(): Promise<string[]> {
    return this.serialize(async () => {
      const root = join(this.store.dataDir, 'silver');
      const removed: string[] = [];
      for (const full of await listFiles(root)) {
        const name = full.slice(full.lastIndexOf(sep) + 1);
        const rel = relative(this.store.dataDir, full).split(sep).join('/');
        const orphan =
          name.endsWith('.tmp') || (name.endsWith('.parquet') && !this.store.silverFiles.doesExist(rel));
        if (orphan) {
          await unlink(full);
          removed.push(rel);
        }
      }
      return removed.sort();
    });
  }

  /**
   * Rolls staged entries into Parquet when at least targetRows rows are staged or the oldest entry
   * is older than maxAgeMs, or whenever `force` is set. One roll at a time: calls queue up.
   */
  rollOnce(force = false): Promise<RollResult> {
    return this.serialize(() => this.roll(force));
  }

  /** Starts the timer that checks the thresholds every intervalMs. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.queued > 0) return; // a roll is running: never two at once, never a backlog of ticks
      if (Date.now() < this.retryAt) return;
      this.rollOnce(false).then(
        () => {
          this.failures = 0;
          this.retryAt = 0;
        },
        (err) => {
          // Back off (1 s, 2 s, 4 s … 60 s) so a roll that keeps failing does not burn a core.
          this.failures++;
          this.retryAt = Date.now() + Math.min(60_000, 1000 * 2 ** (this.failures - 1));
          this.onError(err);
        },
      );
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Releases the writer thread without rolling anything (for one-off use, such as a compaction by hand). */
  async release(): Promise<void> {
    await this.chain;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }

  /** Stops the timer, waits for a roll in flight, then flushes everything staged (forced rolls). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.chain;
    try {
      for (;;) {
        const r = await this.rollOnce(true);
        if (r.batches === 0 || this.tracked.size === 0) break;
      }
    } finally {
      const pool = this.pool;
      this.pool = undefined;
      await pool?.destroy();
    }
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    this.queued++;
    const run = this.chain.then(fn).finally(() => {
      this.queued--;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private workers(): Piscina {
    if (!this.pool) {
      this.pool = new Piscina({
        ...workerFile('./parquet-worker', import.meta.url),
        minThreads: 1,
        maxThreads: 1,
        idleTimeout: 60_000,
      });
      this.pool.on('error', this.onError);
    }
    return this.pool;
  }

  /**
   * Reads staging entries above the last seen key, their headers only: the rows stay in LMDB until
   * the Parquet worker reads them there (engine/silver/parquet-worker.ts).
   */
  private scan(): void {
    for (const { key, value } of this.store.stagingViews.getRange({ start: this.lastSeq + 1 })) {
      this.track(key, value);
      if (key > this.lastSeq) this.lastSeq = key;
    }
  }

  /** Picks up any staging key not seen yet, wherever it is (a safety net run on forced rolls). */
  private reconcile(): void {
    const present = new Set<number>();
    for (const key of this.store.staging.getKeys()) {
      present.add(key);
      if (!this.tracked.has(key) && !this.rolledKept.has(key)) {
        const value = this.store.stagingViews.get(key);
        if (value) {
          this.track(key, value);
          this.outOfOrder = true;
        }
      }
    }
    for (const t of [...this.tracked.values()]) if (!present.has(t.seq)) this.untrack(t);
    for (const seq of this.rolledKept) if (!present.has(seq)) this.rolledKept.delete(seq);
  }

  private track(seq: number, { header }: StagedView): void {
    if (this.tracked.has(seq) || this.rolledKept.has(seq)) return;
    if (this.store.meta.doesExist(rolledKey(seq))) {
      this.rolledKept.add(seq); // rolled before a restart; still waiting for the checkpoints
      return;
    }
    let rows = 0;
    let kept = 0;
    for (const p of header.parts) {
      rows += p.rows;
      kept += keptCount(p.rows, header.drop?.[p.date]);
    }
    this.tracked.set(seq, { seq, rows, kept, firstSeen: Date.now() });
    this.totalRows += rows;
    this.totalKept += kept;
  }

  private untrack(t: Tracked): void {
    if (!this.tracked.delete(t.seq)) return;
    this.totalRows -= t.rows;
    this.totalKept -= t.kept;
    if (this.tracked.size === 0) this.outOfOrder = false;
  }

  private async roll(force: boolean): Promise<RollResult> {
    const started = performance.now();
    const none: RollResult = { files: [], batches: 0, rows: 0 };
    this.scan();
    if (force) this.reconcile();
    await this.trim();
    const oldest = this.tracked.values().next().value;
    if (!oldest) return none;
    const due = force || this.totalRows >= this.targetRows || Date.now() - oldest.firstSeen >= this.maxAgeMs;
    if (!due) return none;

    // The oldest entries, by sequence number, up to about 2 × targetRows rows (at least one entry).
    let order = [...this.tracked.values()];
    if (this.outOfOrder) order.sort((a, b) => a.seq - b.seq);
    if (this.amlShards > 0) {
      const through = scoredThrough(this.store.meta, this.amlShards);
      order = order.filter((t) => t.seq <= through);
      if (order.length === 0) return none;
    }
    const budget = 2 * this.targetRows;
    let taking = 0;
    let n = 0;
    while (n < order.length && (n === 0 || taking + (order[n] as Tracked).rows <= budget)) {
      taking += (order[n] as Tracked).rows;
      n++;
    }
    order = order.slice(0, n);

    // The entries' headers (the rows stay in LMDB for the worker), the parts grouped by event date.
    const byDate = new Map<string, DatePart[]>();
    const taken: Tracked[] = [];
    for (const t of order) {
      const header: StagedHeader | undefined = this.store.stagingViews.get(t.seq)?.header;
      if (!header) {
        this.untrack(t); // gone (removed by someone else): nothing to roll
        continue;
      }
      taken.push(t);
      const dates = new Set<string>();
      for (const p of header.parts) {
        if (!DATE.test(p.date))
          throw new Error(`silver roller: staged seq ${t.seq} has a bad date '${p.date}'`);
        if (dates.has(p.date))
          throw new Error(`silver roller: staged seq ${t.seq} has two parts for ${p.date}`);
        dates.add(p.date);
        const drop = header.drop?.[p.date];
        const kept = keptCount(p.rows, drop);
        if (kept === 0) continue;
        const list = byDate.get(p.date) ?? [];
        const aml = this.amlOf(t.seq, p.date, p.rows);
        list.push({ seq: t.seq, batchId: header.batchId, drop, kept, ...(aml ? { aml } : {}) });
        byDate.set(p.date, list);
      }
    }

    // One file per date, written by the worker thread; nothing is in the manifest yet.
    const dates = [...byDate.keys()].sort();
    const pool = this.workers();
    const written: { rel: string; date: string; parts: DatePart[]; result: WriteResult }[] = [];
    const settled = await Promise.allSettled(
      dates.map(async (date) => {
        const parts = byDate.get(date) as DatePart[];
        const first = (parts[0] as DatePart).seq;
        const last = (parts[parts.length - 1] as DatePart).seq;
        const rel = `silver/date=${date}/part-${pad(first)}-${pad(last)}.parquet`;
        if (this.store.silverFiles.doesExist(rel))
          throw new Error(`silver roller: ${rel} is already in the manifest`);
        const task: WriteTask = {
          path: join(this.store.dataDir, rel),
          dataDir: this.store.dataDir,
          parts: parts.map((p) => ({
            staged: { seq: p.seq, date },
            ...(p.drop?.length ? { drop: p.drop } : {}),
            ...(p.aml ? { aml: p.aml } : {}),
          })),
        };
        const result = (await pool.run(task)) as WriteResult;
        written.push({ rel, date, parts, result });
        parts.forEach((p, i) => {
          if (result.partRows[i] !== p.kept) {
            throw new Error(
              `silver roller: seq ${p.seq} (${p.batchId}) part ${date} says ${p.kept} rows after drops, its IPC has ${result.partRows[i]}`,
            );
          }
        });
      }),
    );
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await this.discard(written.map((w) => w.rel));
      if (String((failed.reason as Error)?.message).includes(STAGED_GONE)) {
        // Another roller took some of these entries first: nothing to roll here. (The service
        // runs one; the files that one wrote are in the manifest.)
        this.reconcile();
        return none;
      }
      // A fresh worker for the next try: a panic inside parquet-wasm can leave its instance unusable.
      this.pool = undefined;
      await pool.destroy().catch(() => undefined);
      throw failed.reason;
    }

    crashPoint('silver-roll');
    // The commit: manifest, lineage on the batch records, staging keys removed; all or nothing.
    const writtenAt = new Date().toISOString();
    const files: SilverFile[] = [];
    const lineage = new Map<string, BatchSilverFile[]>();
    for (const w of written.sort((a, b) => (a.date < b.date ? -1 : 1))) {
      const batches: SilverFile['batches'] = [];
      let firstRow = 0;
      for (const p of w.parts) {
        batches.push({ batchId: p.batchId, firstRow, rows: p.kept });
        const list = lineage.get(p.batchId) ?? [];
        list.push({ path: w.rel, firstRow, rows: p.kept });
        lineage.set(p.batchId, list);
        firstRow += p.kept;
      }
      files.push({
        path: w.rel,
        date: w.date,
        rows: w.result.rows,
        bytes: w.result.bytes,
        sha256: w.result.sha256,
        batches,
        writtenAt,
      });
    }
    const { store } = this;
    // Entries a replay may still read stay staged, marked rolled; the rest go now.
    const checkpointed = checkpointedThrough(store.meta, this.amlShards);
    const kept = new Set(taken.filter((t) => t.seq > checkpointed).map((t) => t.seq));
    try {
      await store.env.transaction(() => {
        for (const f of files) store.silverFiles.put(f.path, f);
        for (const t of taken) {
          if (kept.has(t.seq)) store.meta.put(rolledKey(t.seq), 1);
          else store.staging.remove(t.seq);
        }
        for (const t of taken)
          for (let k = 0; k < this.amlShards; k++) store.amlOut.remove(amlKeys(k).out(t.seq));
        for (const [batchId, entries] of lineage) {
          const rec = store.batches.get(batchId);
          if (!rec || typeof rec !== 'object') continue;
          const prev = (rec as { silver_files?: unknown }).silver_files;
          const silver_files = [...(Array.isArray(prev) ? prev : []), ...entries];
          store.batches.put(batchId, { ...(rec as Record<string, unknown>), silver_files });
        }
      });
    } catch (err) {
      await this.discard(files.map((f) => f.path));
      throw err;
    }
    for (const t of taken) this.untrack(t);
    for (const seq of kept) this.rolledKept.add(seq);
    const result: RollResult = { files, batches: taken.length, rows: files.reduce((a, f) => a + f.rows, 0) };
    this.onRoll?.({ ...result, ms: performance.now() - started });
    return result;
  }

  /**
   * Compaction: in each date partition, merges the files below half the roll size (at least two,
   * at most about 2 × targetRows rows) into one. Crash-safe like a roll: the merged file is
   * written and renamed first, then ONE transaction swaps the manifest entries and moves every
   * batch's lineage to its rows' new place; the old files are deleted after (and `recover()`
   * deletes any a crash left behind, since the manifest no longer names them).
   */
  compact(): Promise<{
    merged: number;
    into: string[];
    corrupt: { path: string; problem: SilverProblem }[];
  }> {
    return this.serialize(async () => {
      const small: SilverFile[] = [];
      for (const { value } of this.store.silverFiles.getRange({})) {
        const f = value as SilverFile;
        if (f.rows < this.targetRows / 2) small.push(f);
      }
      // A file that fails its checksum is left where it is, reported, and never merged: its rows
      // would come out of the merge under a new, valid checksum.
      const byDate = new Map<string, SilverFile[]>();
      const corrupt: { path: string; problem: SilverProblem }[] = [];
      for (const f of small) {
        const problem = await checkSilverFile(this.store.dataDir, f);
        if (problem) {
          corrupt.push({ path: f.path, problem });
          continue;
        }
        const list = byDate.get(f.date) ?? [];
        list.push(f);
        byDate.set(f.date, list);
      }
      let merged = 0;
      const into: string[] = [];
      for (const [date, all] of [...byDate].sort()) {
        all.sort((a, b) => (a.path < b.path ? -1 : 1));
        const files: SilverFile[] = [];
        let rows = 0;
        for (const f of all) {
          if (files.length > 0 && rows + f.rows > 2 * this.targetRows) break;
          files.push(f);
          rows += f.rows;
        }
        if (files.length < 2) continue;
        const range = (f: SilverFile) => /part-(\d+)-(\d+)\.parquet$/.exec(f.path);
        const first = range(files[0] as SilverFile)?.[1];
        const last = range(files[files.length - 1] as SilverFile)?.[2];
        if (!first || !last) continue;
        const rel = `silver/date=${date}/part-${first}-${last}.parquet`;
        if (this.store.silverFiles.doesExist(rel)) continue;
        const task: WriteTask = {
          path: join(this.store.dataDir, rel),
          parts: [],
          sources: files.map((f) => join(this.store.dataDir, f.path)),
        };
        const result = (await this.workers().run(task)) as WriteResult;
        if (result.rows !== rows) {
          await this.discard([rel]);
          throw new Error(`silver compaction: ${rel} has ${result.rows} rows, its sources ${rows}`);
        }
        crashPoint('compaction');
        // Where each old file's rows now start in the new one.
        const offset = new Map<string, number>();
        const batches: SilverFile['batches'] = [];
        let at = 0;
        for (const f of files) {
          offset.set(f.path, at);
          for (const b of f.batches) batches.push({ ...b, firstRow: at + b.firstRow });
          at += f.rows;
        }
        const file: SilverFile = {
          path: rel,
          date,
          rows,
          bytes: result.bytes,
          sha256: result.sha256,
          batches,
          writtenAt: new Date().toISOString(),
        };
        const { store } = this;
        const batchIds = new Set(batches.map((b) => b.batchId));
        try {
          await store.env.transaction(() => {
            store.silverFiles.put(rel, file);
            for (const f of files) store.silverFiles.remove(f.path);
            for (const id of batchIds) {
              const rec = store.batches.get(id) as { silver_files?: BatchSilverFile[] } | undefined;
              if (!rec?.silver_files) continue;
              const silver_files = rec.silver_files.map((e) =>
                offset.has(e.path)
                  ? { path: rel, firstRow: (offset.get(e.path) as number) + e.firstRow, rows: e.rows }
                  : e,
              );
              store.batches.put(id, { ...rec, silver_files });
            }
          });
        } catch (err) {
          await this.discard([rel]);
          throw err;
        }
        crashPoint('compaction-swapped');
        await this.discard(files.map((f) => f.path));
        merged += files.length;
        into.push(rel);
      }
      return { merged, into, corrupt };
    });
  }

  /** Deletes the rolled entries every AML shard has now checkpointed past, with their marks. */
  private async trim(): Promise<void> {
    if (this.rolledKept.size === 0) return;
    const through = checkpointedThrough(this.store.meta, this.amlShards);
    const gone = [...this.rolledKept].filter((seq) => seq <= through);
    if (gone.length === 0) return;
    const { store } = this;
    await store.env.transaction(() => {
      for (const seq of gone) {
        store.staging.remove(seq);
        store.meta.remove(rolledKey(seq));
      }
    });
    for (const seq of gone) this.rolledKept.delete(seq);
  }

  /** The shards' scores of one staged part, merged; undefined without AML. */
  private amlOf(seq: number, date: string, rows: number): AmlColumnsOfPart | undefined {
    if (this.amlShards === 0) return undefined;
    const found: AmlColumnsOfPart[] = [];
    for (let k = 0; k < this.amlShards; k++) {
      const out = this.store.amlOut.get(amlKeys(k).out(seq)) as { parts: StoredPartScores[] } | undefined;
      const part = out?.parts.find((p) => p.date === date);
      if (part) found.push(loadPart(part));
    }
    return found.length ? mergeShardParts(found, rows) : undefined;
  }

  /** Best-effort removal of files written by a roll that did not commit (recover() is the backstop). */
  private async discard(rels: string[]): Promise<void> {
    for (const rel of rels) {
      try {
        await unlink(join(this.store.dataDir, rel));
      } catch {
        // recover() removes it on the next start
      }
    }
  }
}
