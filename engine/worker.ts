/**
 * The pool worker: parse a body into Arrow batches, run the kernels, and shape everything the
 * commit needs as columns and a few small lists. One WASM instance per worker thread, created
 * once. Bodies arrive transferred and go back transferred (bronze keeps them), never copied.
 */
import { createHash } from 'node:crypto';
import { threadId, workerData } from 'node:worker_threads';
import { type RecordBatch, Table, tableToIPC } from 'apache-arrow';
import { concatInputs, gbpColumn, inputFromVerdicts } from './aml/input.ts';
import { type AmlInput, F_SANCTIONED } from './aml/kernel.ts';
import { type AmlRules, DEFAULT_RULES_PATH, loadRules } from './aml/rules.ts';
import { SanctionsList, type ScreenResult } from './aml/sanctions.ts';
import { batchDict } from './batch-dict.ts';
import { FIELDS, REASON, REQUIRED_FIELDS, reasonsOf } from './codes.ts';
import type { ColumnSet, Utf8Column } from './columns.ts';
import { type CommitMeta, commitDurably, type IngestOutcome } from './commit.ts';
import { type ErrorCode, isSluiceError, SluiceError } from './errors.ts';
import { type Format, parseColumns } from './formats/index.ts';
import { words, wordsValue } from './int64-sums.ts';
import { Kernels } from './kernels.ts';
import { upperMedian } from './median.ts';
import { RowCipher } from './pii/cipher.ts';
import { type Keyring, keyringFor } from './pii/keyring.ts';
import { type SealedFields, sealRecords } from './pii/seal.ts';
import { RateTable } from './rates.ts';
import { loadReferenceData, type ReferencePaths } from './reference-data.ts';
import { releaseRows } from './review/release.ts';
import { dayString, SILVER_SCHEMA, silverParts } from './silver-rows.ts';
import { isStorageFull } from './storage-faults.ts';
import { type StagedHit, Store } from './store.ts';
import { type BatchVerdicts, type TxIdBytes, txIdBytes, txIdText, Validator } from './validator.ts';

export interface WorkerSettings {
  /** The data dir: a pool worker commits its batches to the store there. */
  dataDir?: string;
  reference?: Partial<ReferencePaths>;
  /** A rates CSV instead of the rules file's rate table (tests). */
  ratesPath?: string;
  /** The AML rules file: rates, the high-risk list and the round-amount step. */
  rulesPath?: string;
  /**
   * Sanctions lists: counterparty names are screened here, while they are still in clear (before
   * sealing), and the matches travel with the rows. Without them nothing is screened.
   */
  sanctionsPaths?: string[];
  maxFutureMs?: number;
  maxRows?: number;
}

export interface WorkTask {
  kind: 'ingest' | 'validate' | 'commit';
  body: ArrayBuffer;
  format: Format;
  batchId: string;
  receivedAt: number;
  /** Set for pool ingest tasks: commit the result here and return only the outcome. */
  commit?: CommitMeta;
  /** Work on one contiguous share of the body's record batches (a large body split across workers). */
  part?: { index: number; of: number };
  /** For `commit` tasks: the merged result of a split body. */
  result?: WorkResult;
  /** The rules file's hash in force: a worker holding another reloads the file first. */
  rulesHash?: string;
  /** The sanctions lists' version in force (`SanctionsList.version`): likewise. */
  sanctionsVersion?: string;
  /**
   * A reviewer's release or correction (engine/review/): with `release`, rows whose faults a
   * release may overrule are accepted as sent; `silverFlags` are OR-ed into their silver `flags`.
   */
  review?: { release: boolean; silverFlags: number };
}

export interface Committed {
  ok: true;
  outcome: IngestOutcome;
}

export interface QuarantineRow {
  row: number;
  tx_id: string | null;
  reasons: string[];
  fields: { code: string; field: string }[];
  /** The original values as sent; personal fields are null here and held in `sealed`. */
  values: Record<string, string | null>;
  sealed: SealedFields | null;
}

export interface WorkFailure {
  ok: false;
  code: ErrorCode;
  message: string;
}

export interface WorkResult {
  ok: true;
  body: ArrayBuffer;
  sha256: string;
  received: number;
  /** Reason bits per request row (a validate task's also DUPLICATE_TX for repeats within the request). */
  mask: Uint32Array;
  /** tx ids as sent, null where missing: validate tasks only (their verdicts name them). */
  txIds: (string | null)[];
  /** Every row's tx id as bytes: what the commit claims. */
  txIdBytes: TxIdBytes;
  /**
   * 1 where the row's tx id is well formed (and, in a validate task, first in the request): the
   * row claims the id. An ingest task leaves repeats within the request to the commit.
   */
  claims: Uint8Array;
  silver: { date: string; rows: number; ipc: Uint8Array; hits?: StagedHit[] }[];
  /** Per request row: index into `silver` (-1 if not accepted) and position within that part. */
  silverPart: Int32Array;
  silverPos: Int32Array;
  /** Gold inputs for accepted rows: group indices into `groups`/`accounts`, or -1. */
  groups: string[];
  rowGroup: Int32Array;
  accounts: string[];
  rowAccount: Int32Array;
  amount: BigInt64Array;
  credit: Uint8Array;
  quarantine: QuarantineRow[];
  missingRequired: number;
  timelinessP50Ms: number | null;
  latenessSumMs: number;
  latenessCount: number;
  /**
   * Lateness (received − event time) of every row with a usable time, in no particular order:
   * shares of a split body merge their values, so the merged median is exact.
   */
  lateness: Float64Array;
  /** For validate tasks: the rows' AML scoring inputs (scored by the shards, dry). */
  aml?: AmlInput;
  stages?: StageTimings;
}

/** What a batch's work cost, per stage, and the WASM memory of the thread that did it. */
export interface StageTimings {
  parseMs: number;
  validateMs: number;
  /** Shaping silver, quarantine and gold inputs. */
  buildMs: number;
  persistMs?: number;
  wasmBytes: number;
  thread: number;
}

interface Engine {
  settings: WorkerSettings;
  validator: Validator;
  rules: AmlRules;
  rates: RateTable;
  sanctions: SanctionsList | null;
  /** The last sanctions version a task announced (see `refreshSanctions`). */
  sanctionsAsked?: string;
  /** Seals personal fields for ingest (absent without a data dir: validate-only use). */
  seal: { ring: Keyring; cipher: RowCipher } | null;
}

function engineFor(settings: WorkerSettings): Engine {
  const kernels = new Kernels(loadReferenceData(settings.reference ?? {}));
  const rules = loadRules(settings.rulesPath ?? DEFAULT_RULES_PATH);
  return {
    settings,
    validator: new Validator(kernels, { maxFutureMs: settings.maxFutureMs }),
    rules,
    rates: settings.ratesPath ? RateTable.load(settings.ratesPath) : RateTable.fromRules(rules.doc.rates),
    sanctions: settings.sanctionsPaths?.length ? SanctionsList.load(settings.sanctionsPaths) : null,
    // Its own WASM instance: the cipher resets its memory per call, which must not touch the
    // validator's verdict columns.
    seal: settings.dataDir ? { ring: keyringFor(settings.dataDir, threadId), cipher: new RowCipher() } : null,
  };
}

/** Picks up a rules file the service has reloaded (rates and lists may have changed). */
function refreshRules(engine: Engine, hash: string | undefined): void {
  if (!hash || hash === engine.rules.hash) return;
  engine.rules = loadRules(engine.settings.rulesPath ?? DEFAULT_RULES_PATH);
  if (!engine.settings.ratesPath) engine.rates = RateTable.fromRules(engine.rules.doc.rates);
}

/**
 * Picks up sanctions lists the service has reloaded, once per version it announces. A reload that
 * fails here (the files changed again, badly, since the service read them) keeps the list in
 * force, as the service's own does; the next announced version tries again. Not retrying per task
 * keeps a bad file from being reparsed for every batch.
 */
function refreshSanctions(engine: Engine, version: string | undefined): void {
  if (!version || !engine.sanctions || version === engine.sanctionsAsked) return;
  engine.sanctionsAsked = version;
  if (version !== engine.sanctions.version) engine.sanctions.reload();
}

/** Screens a batch's counterparty names (all rows); null without lists or names. */
function screenNames(engine: Engine, col: Utf8Column | undefined, n: number): ScreenResult | null {
  if (!engine.sanctions || !col || n === 0) return null;
  return engine.sanctions.screen.screen(col, n, engine.rules.sanctionsThreshold);
}

/**
 * The same work on the calling thread, with its own WASM instance: the pipeline runs small bodies
 * inline, where a round trip to the pool would cost more than the work.
 */
export function createWork(settings: WorkerSettings): (task: WorkTask) => WorkResult | WorkFailure {
  const engine = engineFor(settings);
  return (task) => guarded(engine, task);
}

// In a pool thread the engine is built once, from the pool's workerData; never on import elsewhere.
let poolEngine: Engine | undefined;
const dec = new TextDecoder();
const REQUIRED_SLOTS = REQUIRED_FIELDS.map((f) => FIELDS.indexOf(f));
const DUP = 1 << REASON.DUPLICATE_TX;
const MISSING = REASON.MISSING_FIELD;

let poolStore: Store | undefined;

export default async function work(task: WorkTask): Promise<WorkResult | WorkFailure | Committed> {
  poolEngine ??= engineFor((workerData ?? {}) as WorkerSettings);
  const res = task.kind === 'commit' && task.result ? task.result : guarded(poolEngine, task);
  if (!res.ok || !task.commit) return res;
  const dataDir = poolEngine.settings.dataDir;
  if (!dataDir) return { ok: false, code: 'INTERNAL', message: 'pool worker has no data dir to commit to' };
  // The same LMDB environment as the main thread's: LMDB serialises writers across threads.
  poolStore ??= new Store({ dataDir });
  const tc = performance.now();
  let outcome: IngestOutcome;
  try {
    outcome = await commitDurably(poolStore, task.commit, res);
  } catch (e) {
    // A refusal (a full volume: 507) crosses the thread boundary as data, as parse errors do.
    const refused = isSluiceError(e) ? e : isStorageFull(e) ? new SluiceError('INSUFFICIENT_STORAGE') : null;
    if (refused) return { ok: false, code: refused.code, message: refused.message };
    throw e;
  }
  if (res.stages) outcome.stages = { ...res.stages, persistMs: performance.now() - tc };
  return { ok: true, outcome };
}

function guarded(engine: Engine, task: WorkTask): WorkResult | WorkFailure {
  try {
    refreshRules(engine, task.rulesHash);
    refreshSanctions(engine, task.sanctionsVersion);
    return run(engine, task);
  } catch (e) {
    // Errors cross the thread boundary as plain data: a cloned Error loses its code.
    if (isSluiceError(e)) return { ok: false, code: e.code, message: e.message };
    return { ok: false, code: 'BODY_UNPARSEABLE', message: (e as Error).message };
  }
}

function text(
  col: { offsets: Int32Array; data: Uint8Array; validity: Uint8Array | null } | undefined,
  i: number,
) {
  if (!col) return null;
  if (col.validity && !(((col.validity[i >> 3] as number) >> (i & 7)) & 1)) return null;
  return dec.decode(col.data.subarray(col.offsets[i] as number, col.offsets[i + 1] as number));
}

type Col = { offsets: Int32Array; data: Uint8Array; validity: Uint8Array | null } | undefined;

/** True when a latin1 string of bytes is plain ASCII, so it reads the same as UTF-8 text. */
function isAscii(s: string): boolean {
  for (let k = 0; k < s.length; k++) if (s.charCodeAt(k) > 0x7f) return false;
  return true;
}

function byteAt(col: Col, i: number, k: number): number {
  return col ? (col.data[(col.offsets[i] as number) + k] as number) : 0;
}

/** A Buffer view of a column's bytes, made once per batch (a view per row would cost more). */
function bufferOf(col: Col): Buffer | null {
  return col ? Buffer.from(col.data.buffer, col.data.byteOffset, col.data.byteLength) : null;
}

/** A small id per channel, from bytes (the row is valid, so the channel is one of the seven). */
// First letter and length tell the seven apart but for CARD/CASH; the third letter's low bit
// (R/S) settles those. Fits in 10 bits.
function channelId(col: Col, i: number): number {
  if (!col) return 0;
  const s = col.offsets[i] as number;
  const len = (col.offsets[i + 1] as number) - s;
  return (((((col.data[s] as number) & 31) << 4) | (len & 15)) << 1) | ((col.data[s + 2] as number) & 1);
}

function run(engine: Engine, task: WorkTask): WorkResult {
  const { settings, validator, rates, rules, seal } = engine;
  const bytes = new Uint8Array(task.body);
  if (task.kind === 'ingest') {
    if (!seal) throw new SluiceError('INTERNAL', 'ingest needs a data dir for the keyring');
    // A subject erased since the last batch must not be sealed under its destroyed key.
    seal.ring.refresh();
  }
  // A split body is hashed once, by its first share; a validate body is not kept, so not hashed.
  const sha256 =
    task.kind === 'validate' || (task.part && task.part.index > 0)
      ? ''
      : createHash('sha256').update(bytes).digest('hex');
  const t0 = performance.now();
  const all: ColumnSet[] = parseColumns(task.format, bytes);
  const parseMs = performance.now() - t0;
  let validateMs = 0;
  const bodyRows = all.reduce((s, b) => s + b.numRows, 0);
  let batches = all;
  if (task.part) {
    const per = Math.ceil(all.length / task.part.of);
    batches = all.slice(task.part.index * per, (task.part.index + 1) * per);
  }
  const total = batches.reduce((s, b) => s + b.numRows, 0);
  if (settings.maxRows && bodyRows > settings.maxRows) {
    throw new SluiceError(
      'TOO_MANY_ROWS',
      `the body holds ${bodyRows} rows; at most ${settings.maxRows} per request`,
    );
  }
  const mask = new Uint32Array(total);
  // A validate request answers with each row's tx id and finds repeats within it here; ingest
  // claims ids from their bytes at commit, which finds those repeats in row order (commit.ts).
  const verdictsOnly = task.kind === 'validate';
  const released = task.review?.release === true;
  const txIds: (string | null)[] = verdictsOnly ? new Array(total) : [];
  const idCols: (Utf8Column | undefined)[] = [];
  const idRows: number[] = [];
  const claims = new Uint8Array(total);
  const silverPart = new Int32Array(total).fill(-1);
  const silverPos = new Int32Array(total).fill(-1);
  const rowGroup = new Int32Array(total).fill(-1);
  const rowAccount = new Int32Array(total).fill(-1);
  const amount = new BigInt64Array(total);
  const credit = new Uint8Array(total);
  const groups: string[] = [];
  /** Per event day: small-integer group key (currency, channel, direction) → index into `groups`. */
  const groupIndex = new Map<number, Map<number, number>>();
  const accounts: string[] = [];
  /** Per event day: account id (its bytes as latin1) → index into `accounts`. */
  const accountIndex = new Map<number, Map<string, number>>();
  // The day's two maps, looked up again only when a row's day differs from the row before.
  let mapsDay = Number.NaN;
  let dayGroups = new Map<number, number>();
  let dayAccounts = new Map<string, number>();
  const quarantine: QuarantineRow[] = [];
  const silverByDate = new Map<string, RecordBatch[]>();
  const hitsByDate = new Map<string, StagedHit[]>();
  const partIndexOf = new Map<string, number>();
  const silverCount = new Map<string, number>();
  const lateness = new Float64Array(total);
  let latenessCount = 0;
  let latenessSum = 0;
  let missingRequired = 0;
  const seen = verdictsOnly ? new Set<string>() : null;
  const amlParts: AmlInput[] = [];
  let offset = 0;
  for (const cols of batches) {
    const tv = performance.now();
    const v = verdictsOnly ? validator.validateColumns(cols, seen) : validator.validateRows(cols);
    idCols.push(cols.text.tx_id);
    idRows.push(cols.numRows);
    if (task.review?.release) releaseRows(v);
    validateMs += performance.now() - tv;
    // Screened here, in clear: the AML shards then never need to open a sealed name.
    const screened = screenNames(engine, cols.text.counterparty_name, cols.numRows);
    if (task.kind === 'validate') {
      const input = inputFromVerdicts(validator.kernels.memory, cols, v, rules, true);
      if (screened) {
        for (let i = 0; i < input.n; i++) {
          if ((screened.entry[i] as number) >= 0) input.flags[i] = (input.flags[i] as number) | F_SANCTIONED;
        }
      }
      input.names = null;
      amlParts.push(input);
    }
    const n = cols.numRows;
    const t = cols.text;
    const accountBytes = bufferOf(t.account_id);
    // Ingest makes a tx-id string only for a quarantined row's record.
    const idBytes = verdictsOnly ? null : bufferOf(t.tx_id);
    // The batch's accounts as a dictionary: each distinct (account, day) finds its `accounts`
    // index by string once, and its other rows by id. The string map stays, across the body's
    // record batches.
    const accountIds = batchDict(validator.kernels.memory, t.account_id, n);
    const idAccount = new Int32Array(accountIds.count).fill(-1);
    const idDay = new Float64Array(accountIds.count);
    // Event times as (low, high) words: a BigInt read per row cost more than the rest of the loop.
    const tsWords = words(v.tsMs, n);
    // Gold reads amounts of accepted rows only; copying the column whole beats a BigInt per row.
    amount.set(v.amountMinor.subarray(0, n), offset);
    for (let i = 0; i < n; i++) {
      const r = offset + i;
      const m = v.mask[i] as number;
      mask[r] = m;
      if (verdictsOnly) txIds[r] = (v as BatchVerdicts).txIds[i] ?? null;
      if (v.fieldCodes[i] === 0 && !(m & DUP)) claims[r] = 1;
      // A row with no reason has no code in any field (a review's release clears the reasons only).
      if (m !== 0 || released)
        for (const slot of REQUIRED_SLOTS) if (v.fieldCodes[slot * n + i] === MISSING) missingRequired++;
      const tsCode = v.fieldCodes[1 * n + i];
      const tsMs = wordsValue(tsWords, i);
      if (tsCode === 0 || tsCode === REASON.TIMESTAMP_FUTURE) {
        const late = task.receivedAt - tsMs;
        lateness[latenessCount++] = late;
        latenessSum += late;
      }
      if (m === 0) {
        // Group keys are small integers built from bytes, so V8 keeps them unboxed (a day in the
        // same key made it a heap number per row); a key's text is decoded once per distinct key.
        const dayNo = Math.floor(tsMs / 86_400_000);
        if (dayNo !== mapsDay) {
          mapsDay = dayNo;
          dayGroups = groupIndex.get(dayNo) ?? new Map();
          groupIndex.set(dayNo, dayGroups);
          dayAccounts = accountIndex.get(dayNo) ?? new Map();
          accountIndex.set(dayNo, dayAccounts);
        }
        const dirCredit = byteAt(t.direction, i, 0) === 0x63; // 'c'redit; the row is valid
        const gk = (((v.currency[i] as number) * 1024 + channelId(t.channel, i)) << 1) | (dirCredit ? 1 : 0);
        let g = dayGroups.get(gk);
        if (g === undefined) {
          g = groups.length;
          dayGroups.set(gk, g);
          groups.push(
            `${dayString(dayNo)}|${text(t.currency, i)}|${text(t.channel, i)}|${text(t.direction, i)}`,
          );
        }
        rowGroup[r] = g;
        const id = accountIds.ids[i] as number;
        let a = id >= 0 && idDay[id] === dayNo ? (idAccount[id] as number) : -1;
        if (a < 0) {
          // latin1 maps bytes 1:1 to a string: exact and reversible, and cheaper than UTF-8 decoding.
          const ak = accountBytes
            ? accountBytes.toString('latin1', t.account_id?.offsets[i], t.account_id?.offsets[i + 1])
            : '';
          a = dayAccounts.get(ak) ?? -1;
          if (a < 0) {
            a = accounts.length;
            dayAccounts.set(ak, a);
            accounts.push(`${dayString(dayNo)}|${isAscii(ak) ? ak : text(t.account_id, i)}`);
          }
          if (id >= 0) {
            idAccount[id] = a;
            idDay[id] = dayNo;
          }
        }
        rowAccount[r] = a;
        credit[r] = dirCredit ? 1 : 0;
      } else if (m !== DUP) {
        const fields: { code: string; field: string }[] = [];
        for (let f = 0; f < FIELDS.length; f++) {
          const c = v.fieldCodes[f * n + i] as number;
          if (c !== 0) fields.push({ code: reasonsOf(1 << c)[0] as string, field: FIELDS[f] as string });
        }
        const raw: Record<string, string | null> = {};
        for (const f of FIELDS) raw[f] = text(t[f], i);
        if (!t.ts && cols.tsMs) raw.ts = String(cols.tsMs.values[i]);
        if (!t.amount && cols.amountMinor) raw.amount_minor = String(cols.amountMinor.values[i]);
        // Sealed below, all of the batch's records in one call.
        quarantine.push({
          row: r,
          tx_id: verdictsOnly
            ? (txIds[r] ?? null)
            : idBytes && t.tx_id
              ? txIdText(idBytes, t.tx_id, i, v.fieldCodes[i] as number)
              : null,
          reasons: reasonsOf(m).filter((c) => c !== 'DUPLICATE_TX'),
          fields,
          values: raw,
          sealed: null,
        });
      }
    }
    if (task.kind === 'ingest') {
      const { byDate } = silverParts(cols, v, {
        batchId: task.batchId,
        receivedAt: task.receivedAt,
        rowOffset: offset,
        rates,
        flags: task.review?.silverFlags,
        seal: seal as NonNullable<typeof seal>,
        customers: batchDict(validator.kernels.memory, cols.text.customer_id, n),
        // The rules file's rates, applied in WASM (a rates CSV in tests goes the BigInt way).
        gbp: settings.ratesPath
          ? undefined
          : gbpColumn(validator.kernels.memory, rules, v.amountMinor, { index: v.currency }, n),
      });
      for (const [date, part] of byDate) {
        let list = silverByDate.get(date);
        if (!list) {
          list = [];
          silverByDate.set(date, list); // insertion order = index in `silver`
          partIndexOf.set(date, partIndexOf.size);
        }
        const partIndex = partIndexOf.get(date) as number;
        const base = silverCount.get(date) ?? 0;
        list.push(part.batch);
        silverCount.set(date, base + part.rows.length);
        part.rows.forEach((i, k) => {
          silverPart[offset + i] = partIndex;
          silverPos[offset + i] = base + k;
          const at = screened ? (screened.entry[i] as number) : -1;
          const entry = at >= 0 ? engine.sanctions?.screen.entryAt(at) : undefined;
          if (entry) {
            const hits = hitsByDate.get(date) ?? [];
            hits.push({ pos: base + k, similarity: screened?.similarity[i] as number, entry });
            hitsByDate.set(date, hits);
          }
        });
      }
    }
    offset += n;
  }
  const silver: WorkResult['silver'] = [];
  for (const [date, list] of silverByDate) {
    const hits = hitsByDate.get(date);
    silver.push({
      date,
      rows: silverCount.get(date) as number,
      ipc: tableToIPC(new Table(SILVER_SCHEMA, list), 'stream'),
      ...(hits ? { hits } : {}),
    });
  }
  // Only ingest persists the records; a subject-less row is sealed under its batch's pseudo-subject.
  if (task.kind === 'ingest' && seal && quarantine.length > 0) {
    const raw = quarantine.map((q) => q.values);
    sealRecords(seal.ring, seal.cipher, raw, `batch:${task.batchId}`).forEach((x, k) => {
      const q = quarantine[k] as QuarantineRow;
      q.values = x.values;
      q.sealed = x.sealed;
    });
  }
  const late = lateness.slice(0, latenessCount);
  const timelinessP50Ms = upperMedian(late);
  // Subject keys made for this work are durable before any commit stores ciphertext under them
  // (the commit may run in another thread, for a split body).
  if (task.kind === 'ingest') seal?.ring.sync();
  return {
    ok: true,
    body: task.body,
    sha256,
    received: total,
    mask,
    txIds,
    txIdBytes: txIdBytes(idCols, idRows),
    claims,
    silver,
    silverPart,
    silverPos,
    groups,
    rowGroup,
    accounts,
    rowAccount,
    amount,
    credit,
    quarantine,
    missingRequired,
    timelinessP50Ms,
    latenessSumMs: latenessSum,
    latenessCount,
    lateness: late,
    aml: task.kind === 'validate' ? concatInputs(amlParts) : undefined,
    // Stage timings and this thread's WASM memory, for the main thread's metrics.
    stages: {
      parseMs,
      validateMs,
      buildMs: performance.now() - t0 - parseMs - validateMs,
      wasmBytes: validator.kernels.memory.byteLength,
      thread: threadId,
    },
  };
}
