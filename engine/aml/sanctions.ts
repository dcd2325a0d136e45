/**
 * SANCTIONS_MATCH (docs/aml.md, "Sanctions names"): the sanctions list files, their parsers, and
 * the screen that runs in WASM (`wasm/src/sanctions.rs`).
 *
 * - Parsers for the two formats Sluice reads: the UK OFSI consolidated list CSV (`ConList.csv`: a
 *   "Last Updated" line, a header, one row per name or alias of a group) and the OFAC SDN CSV
 *   (`SDN.CSV`: no header, 12 columns, `-0-` for empty; aliases taken from the remarks'
 *   `a.k.a. '…'`). The format is detected from the content.
 * - `SanctionsScreen`: one list's names indexed in its own WASM instance; `screen` scores a Utf8
 *   column of counterparty names. Immutable once built.
 * - `SanctionsList`: the files, with `reload()` building a new screen and swapping it in only when
 *   the new files parse and hold names; otherwise the old one stays in force.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { type Utf8Column, utf8Column } from '../columns.ts';
import { SluiceError } from '../errors.ts';
import { DEFAULT_WASM_PATH, WasmMemory } from '../wasm-memory.ts';

export type SanctionsSource = 'OFSI' | 'OFAC';

/** One name on a list. A designated person or group with aliases has one entry per name. */
export interface SanctionsEntry {
  /** The list's own id, prefixed by the list: `OFSI:<Group ID>`, `OFAC:<ent_num>`. */
  id: string;
  name: string;
  source: SanctionsSource;
}

export interface ScreenResult {
  /** Best similarity among the candidates ×10,000 (0 when none, or the row is null/empty). */
  similarity: Uint16Array;
  /** Entry index (see `entryAt`) of the match at the threshold, or -1. */
  entry: Int32Array;
}

export interface ScreenOptions {
  wasmPath?: URL | string;
  /**
   * A token in more list names than this is common: names are filed under pairs of their common
   * tokens instead (0 = the kernel's default, 16). Higher finds more multi-typo near-matches and
   * screens slower.
   */
  commonDf?: number;
}

export interface ScreenStats {
  names: number;
  distinctTokens: number;
  keys: number;
  postings: number;
  pairPostings: number;
  /** Bytes of WASM memory held by the index. */
  arenaBytes: number;
}

/** The sanctions exports of the kernel module (see the end of `wasm/src/ffi.rs`). */
interface SanctionsExports {
  sanctions_plan(desc: number, n: number, out: number): void;
  sanctions_build(
    desc: number,
    n: number,
    words: number,
    wordsLen: number,
    bytes: number,
    bytesLen: number,
    commonDf: number,
    stats: number,
  ): number;
  sanctions_screen(
    words: number,
    wordsLen: number,
    bytes: number,
    bytesLen: number,
    desc: number,
    n: number,
    threshold: number,
    outSim: number,
    outEntry: number,
    scratch: number,
  ): number;
  sanctions_scratch_words(n: number): number;
  sanctions_normalise(ptr: number, len: number, out: number, cap: number): number;
  sanctions_similarity(list: number, listLen: number, row: number, rowLen: number): number;
}

export const DEFAULT_SANCTIONS_THRESHOLD = 0.9;

/** The fictional test lists shipped in `reference/sanctions/` (see reference/SOURCES.md). */
export const DEFAULT_SANCTIONS_PATHS: string[] = [
  fileURLToPath(new URL('../../reference/sanctions/ofsi-test.csv', import.meta.url)),
  fileURLToPath(new URL('../../reference/sanctions/sdn-test.csv', import.meta.url)),
];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function invalid(message: string, detail?: Record<string, unknown>): SluiceError {
  return new SluiceError('SANCTIONS_LIST_INVALID', message, detail);
}

// ---------------------------------------------------------------------------------------------
// Parsers

type Row = string[];

function csvRows(text: string, what: string): Row[] {
  try {
    return parse(text, {
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as Row[];
  } catch (e) {
    throw invalid(`${what}: not valid CSV: ${(e as Error).message}`);
  }
}

const OFSI_NAME_COLUMNS = ['Name 1', 'Name 2', 'Name 3', 'Name 4', 'Name 5', 'Name 6'] as const;

/**
 * The OFSI consolidated list (`ConList.csv`, the 2022 layout): a `Last Updated,<date>` line, then a
 * header naming `Name 6` (surname, or an entity's name), `Name 1`–`Name 5` (given names), `Title`,
 * …, `Group Type`, `Alias Type`, …, `Group ID`; then one row per name or alias of a group. Columns
 * are found by header name, so added or moved columns do not matter. A name is Name 1–5 then
 * Name 6, joined by spaces (order does not matter to the screen). The title is not part of it.
 */
export function parseOfsiCsv(text: string, what = 'OFSI list'): SanctionsEntry[] {
  const rows = csvRows(text, what);
  const h = rows.findIndex(
    (r) => r.some((c) => c.trim() === 'Name 6') && r.some((c) => c.trim() === 'Group ID'),
  );
  if (h < 0 || h > 5) throw invalid(`${what}: no header with "Name 6" and "Group ID" in the first lines`);
  const header = (rows[h] as Row).map((c) => c.trim());
  const nameCols = OFSI_NAME_COLUMNS.map((c) => header.indexOf(c));
  const idCol = header.indexOf('Group ID');
  if (nameCols.some((c) => c < 0))
    throw invalid(`${what}: the header lacks one of ${OFSI_NAME_COLUMNS.join(', ')}`);
  const out: SanctionsEntry[] = [];
  for (let i = h + 1; i < rows.length; i++) {
    const r = rows[i] as Row;
    const id = (r[idCol] ?? '').trim();
    const name = nameCols
      .map((c) => (r[c] ?? '').trim())
      .filter((p) => p !== '')
      .join(' ');
    if (name === '') continue;
    if (id === '') throw invalid(`${what}: row ${i + 1} has a name but no Group ID`);
    out.push({ id: `OFSI:${id}`, name, source: 'OFSI' });
  }
  return out;
}

const SDN_COLUMNS = 12;
/** SDN.CSV ends with a DOS end-of-file character on a line of its own. */
const CTRL_Z = String.fromCharCode(0x1a);
const AKA = /\b[afn]\.k\.a\.,?\s*'([^']+)'/gi;

function sdnField(v: string | undefined): string {
  const t = (v ?? '').trim();
  return t === '-0-' ? '' : t;
}

/** `LAST, First Middle` → `First Middle LAST` (individuals only; anything else as it is). */
function sdnPersonName(name: string): string {
  const parts = name.split(',');
  if (parts.length !== 2) return name;
  const [last, first] = parts.map((p) => p.trim()) as [string, string];
  return first && last ? `${first} ${last}` : name;
}

/**
 * The OFAC SDN list (`SDN.CSV`): no header; `ent_num, SDN_Name, SDN_Type, Program, Title,
 * Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks`; `-0-` means empty;
 * individuals are `LAST, First Middle`. The file's closing Ctrl-Z line is skipped. Aliases are in
 * OFAC's separate ALT.CSV; the ones the remarks spell out (`a.k.a. '…'`, `f.k.a.`, `n.k.a.`) are
 * taken from there, under the same id.
 */
export function parseOfacSdnCsv(text: string, what = 'OFAC SDN list'): SanctionsEntry[] {
  const rows = csvRows(text, what);
  const out: SanctionsEntry[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as Row;
    if (r.length === 1 && (r[0] ?? '').replaceAll(CTRL_Z, '').trim() === '') continue;
    if (r.length < 3)
      throw invalid(`${what}: line ${i + 1} has ${r.length} columns, expected ${SDN_COLUMNS}`);
    const ent = (r[0] ?? '').trim();
    if (!/^\d+$/.test(ent)) throw invalid(`${what}: line ${i + 1} does not start with an entity number`);
    const person = sdnField(r[2]).toLowerCase() === 'individual';
    const name = sdnField(r[1]);
    if (name === '') throw invalid(`${what}: line ${i + 1} has no name`);
    const id = `OFAC:${ent}`;
    out.push({ id, name: person ? sdnPersonName(name) : name, source: 'OFAC' });
    for (const m of sdnField(r[11]).matchAll(AKA)) {
      const alias = (m[1] ?? '').trim();
      if (alias) out.push({ id, name: person ? sdnPersonName(alias) : alias, source: 'OFAC' });
    }
  }
  return out;
}

export type SanctionsFormat = SanctionsSource;

/** Which format a list file is in, from its first line. */
export function detectFormat(text: string): SanctionsFormat | null {
  const first =
    text
      .replace(/^\uFEFF/, '')
      .trimStart()
      .split(/\r?\n/, 1)[0] ?? '';
  if (/^"?Last Updated/i.test(first) || /(^|,)"?Name 6"?,/.test(first)) return 'OFSI';
  if (/^"?\s*\d+\s*"?,/.test(first)) return 'OFAC';
  return null;
}

/** Parses one list file in either format. */
export function parseSanctionsFile(text: string, what = 'sanctions list'): SanctionsEntry[] {
  const format = detectFormat(text);
  if (format === 'OFSI') return parseOfsiCsv(text, what);
  if (format === 'OFAC') return parseOfacSdnCsv(text, what);
  throw invalid(`${what}: neither an OFSI consolidated list nor an OFAC SDN CSV`);
}

// ---------------------------------------------------------------------------------------------
// The screen

/**
 * A list's names, indexed in a WASM instance of their own. Screening does not change the list;
 * a new list is a new `SanctionsScreen`.
 */
export class SanctionsScreen {
  readonly size: number;
  readonly stats: ScreenStats;
  private readonly entries: readonly SanctionsEntry[];
  private readonly memory: WasmMemory;
  private readonly x: SanctionsExports;
  private readonly words: number;
  private readonly wordsLen: number;
  private readonly bytes: number;
  private readonly bytesLen: number;

  constructor(entries: readonly SanctionsEntry[], options: ScreenOptions = {}) {
    const { wasmPath = DEFAULT_WASM_PATH, commonDf = 0 } = options;
    this.entries = entries.slice();
    this.size = entries.length;
    const m = new WasmMemory(wasmPath);
    this.memory = m;
    this.x = m.exports as unknown as SanctionsExports;
    const names = utf8Column(entries.map((e) => e.name));
    const n = entries.length;
    // Size the arenas, reserve them for the life of the instance, then build into them.
    m.reset();
    const plan = m.alloc(8);
    this.x.sanctions_plan(this.putColumn(names, n), n, plan);
    const sizes = m.u32(plan, 2);
    const wordsLen = sizes[0] as number;
    const bytesLen = sizes[1] as number;
    m.reset();
    this.words = m.reserve(wordsLen * 4);
    this.bytes = m.reserve(bytesLen);
    this.wordsLen = wordsLen;
    this.bytesLen = bytesLen;
    const stats = m.alloc(20);
    const desc = this.putColumn(names, n);
    const rc = this.x.sanctions_build(desc, n, this.words, wordsLen, this.bytes, bytesLen, commonDf, stats);
    if (rc < 0) throw new SluiceError('WASM_FAILURE', `sanctions_build returned ${rc}`);
    const s = m.u32(stats, 5);
    this.stats = {
      names: s[0] as number,
      distinctTokens: s[1] as number,
      keys: s[2] as number,
      postings: s[3] as number,
      pairPostings: s[4] as number,
      arenaBytes: wordsLen * 4 + bytesLen,
    };
    m.reset();
  }

  /** Copies a Utf8 column in; returns the address of its 4-word descriptor. */
  private putColumn(col: Utf8Column, n: number): number {
    const m = this.memory;
    if (col.offsets.length < n + 1) throw new SluiceError('BODY_SHAPE', 'a column is shorter than its batch');
    const descPtr = m.alloc(16);
    // A local copy: the allocations below may grow (and detach) memory.
    const desc = new Uint32Array(4);
    desc[0] = m.copyIn(col.offsets.length === n + 1 ? col.offsets : col.offsets.subarray(0, n + 1));
    desc[1] = col.data.length > 0 ? m.copyIn(col.data) : 0;
    desc[2] = col.data.length;
    desc[3] = col.validity ? m.copyIn(col.validity.subarray(0, (n + 7) >> 3)) : 0;
    m.u32(descPtr, 4).set(desc);
    return descPtr;
  }

  /**
   * Screens `n` rows of a Utf8 column (counterparty names): per row the best similarity ×10,000
   * and the entry matched at `threshold` (-1 for none). Null and empty rows match nothing. The
   * similarity is exact from `threshold - 0.1` up; below that it is a lower bound (candidates that
   * cannot get there are not scored to the end).
   */
  screen(col: Utf8Column, n: number, threshold = DEFAULT_SANCTIONS_THRESHOLD): ScreenResult {
    if (!(threshold >= 0 && threshold <= 1)) {
      throw new SluiceError('CONFIG_INVALID', `sanctions threshold ${threshold} is not in [0, 1]`);
    }
    const m = this.memory;
    m.reset();
    const desc = this.putColumn(col, n);
    const outSim = m.alloc(2 * n);
    const outEntry = m.alloc(4 * n);
    // The batch's name dictionary: each distinct name is screened once.
    const scratch = m.alloc(4 * this.x.sanctions_scratch_words(n));
    const rc = this.x.sanctions_screen(
      this.words,
      this.wordsLen,
      this.bytes,
      this.bytesLen,
      desc,
      n,
      threshold,
      outSim,
      outEntry,
      scratch,
    );
    if (rc < 0) throw new SluiceError('WASM_FAILURE', `sanctions_screen returned ${rc}`);
    const out = {
      similarity: m.copyOut(Uint16Array, outSim, 2 * n),
      entry: m.copyOut(Int32Array, outEntry, 4 * n),
    };
    m.reset();
    return out;
  }

  /** The entry an index from `screen` names. */
  entryAt(i: number): SanctionsEntry | undefined {
    return this.entries[i];
  }

  /** A name as the screen sees it: tokens, folded and sorted, joined by spaces. */
  normalise(name: string): string {
    const m = this.memory;
    m.reset();
    const b = encoder.encode(name);
    const p = m.copyIn(b);
    const cap = b.length * 2 + 16;
    const out = m.alloc(cap);
    const len = this.x.sanctions_normalise(p, b.length, out, cap);
    const s = decoder.decode(m.copyOut(Uint8Array, out, len));
    m.reset();
    return s;
  }

  /** The similarity of a list name and a row name, as the screen computes it (0: may not match). */
  similarity(listName: string, rowName: string): number {
    const m = this.memory;
    m.reset();
    const a = encoder.encode(listName);
    const b = encoder.encode(rowName);
    const pa = m.copyIn(a);
    const pb = m.copyIn(b);
    const s = this.x.sanctions_similarity(pa, a.length, pb, b.length);
    m.reset();
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// The list files

export interface SanctionsReloadEvent {
  ok: boolean;
  /** Names in force after the attempt. */
  size: number;
  /** Version in force after the attempt, and the one before it. */
  version: string;
  previousVersion: string;
  /** Why the attempt failed (the old list stays in force). */
  error?: string;
  at: Date;
  durationMs: number;
}

export type ReloadResult = { ok: true; size: number } | { ok: false; error: string };

interface Loaded {
  screen: SanctionsScreen;
  version: string;
  counts: Record<SanctionsSource, number>;
}

function readLists(paths: readonly string[], wasmPath: URL | string): Loaded {
  if (paths.length === 0) throw invalid('no sanctions list files given');
  const hash = createHash('sha256');
  const entries: SanctionsEntry[] = [];
  const counts: Record<SanctionsSource, number> = { OFSI: 0, OFAC: 0 };
  for (const path of paths) {
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch (e) {
      throw invalid(`${path}: cannot be read: ${(e as Error).message}`);
    }
    hash.update(buf);
    const found = parseSanctionsFile(decoder.decode(buf), path);
    if (found.length === 0) throw invalid(`${path}: holds no names`);
    for (const e of found) {
      entries.push(e);
      counts[e.source]++;
    }
  }
  return { screen: new SanctionsScreen(entries, { wasmPath }), version: hash.digest('hex'), counts };
}

/**
 * The sanctions list in force: the files it came from, and the screen built from them. `reload`
 * rereads the files and swaps in a new screen only when all of them parse and hold names; a
 * caller that took `screen` before the swap keeps a working (old) screen.
 */
export class SanctionsList {
  readonly paths: readonly string[];
  /** Called after every reload attempt, successful or not (logs, metrics, audit). */
  onReload: ((event: SanctionsReloadEvent) => void) | undefined;
  private loaded: Loaded;
  private loadedAtValue: Date;
  private lastErrorValue: string | null = null;
  private readonly wasmPath: URL | string;

  private constructor(paths: readonly string[], loaded: Loaded, wasmPath: URL | string) {
    this.paths = paths.slice();
    this.loaded = loaded;
    this.loadedAtValue = new Date();
    this.wasmPath = wasmPath;
  }

  /** Reads and indexes the files; throws `SANCTIONS_LIST_INVALID` when one cannot be used. */
  static load(paths: readonly string[], wasmPath: URL | string = DEFAULT_WASM_PATH): SanctionsList {
    return new SanctionsList(paths, readLists(paths, wasmPath), wasmPath);
  }

  get screen(): SanctionsScreen {
    return this.loaded.screen;
  }

  /** Names (aliases included) in force. */
  get size(): number {
    return this.loaded.screen.size;
  }

  /** Names in force per list. */
  get counts(): Readonly<Record<SanctionsSource, number>> {
    return this.loaded.counts;
  }

  /** When the list in force was loaded. */
  get loadedAt(): Date {
    return this.loadedAtValue;
  }

  /** SHA-256 (hex) of the files in force, in the order given. */
  get version(): string {
    return this.loaded.version;
  }

  /** The error of the last reload attempt, or null when it succeeded (or none was made). */
  get lastError(): string | null {
    return this.lastErrorValue;
  }

  /** Rereads the files; on any failure keeps the list in force and reports why. */
  reload(): ReloadResult {
    const started = Date.now();
    const previousVersion = this.version;
    let result: ReloadResult;
    try {
      this.loaded = readLists(this.paths, this.wasmPath);
      this.loadedAtValue = new Date();
      this.lastErrorValue = null;
      result = { ok: true, size: this.size };
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.lastErrorValue = error;
      result = { ok: false, error };
    }
    this.onReload?.({
      ok: result.ok,
      size: this.size,
      version: this.version,
      previousVersion,
      ...(result.ok ? {} : { error: result.error }),
      at: new Date(),
      durationMs: Date.now() - started,
    });
    return result;
  }
}
