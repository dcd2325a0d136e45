/**
 * Service configuration, validated once at the edge. Precedence: flags, then SLUICE_*
 * environment variables, then a JSON config file (--config / SLUICE_CONFIG), then defaults.
 * Every setting has a safe default: loopback, bounded bodies and in-flight work.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import { DEFAULT_RULES_PATH } from './aml/rules.ts';
import { DEFAULT_SANCTIONS_PATHS } from './aml/sanctions.ts';
import { MAX_SHARDS } from './aml/store-keys.ts';
import { SluiceError } from './errors.ts';
import type { ReferencePaths } from './reference-data.ts';
import { checkRetention, DEFAULT_RETENTION, type RetentionPolicy } from './retention.ts';

/**
 * A batch's reply waits this long for AML scoring (milliseconds). Scoring takes milliseconds; only
 * a stalled shard (one that cannot write its outputs to a full volume) takes this long.
 */
export const DEFAULT_AML_REPLY_WAIT_MS = 10_000;

export interface ServiceConfig {
  host: string;
  port: number;
  dataDir: string;
  bodyLimitBytes: number;
  workers: number;
  maxInflight: number;
  logLevel: string;
  maxFutureMs: number;
  reference: Partial<ReferencePaths>;
  shutdownDeadlineMs: number;
  /** The AML rules file (reference/aml-rules.json by default). */
  rulesPath: string;
  /** Sanctions list files (OFSI consolidated CSV or OFAC SDN CSV), comma separated on the command line. */
  sanctionsPaths: string[];
  /** AML shards (threads owning account state), and resident accounts per shard. */
  amlShards: number;
  amlCapacity: number;
  /** How often each AML shard checkpoints its state (a crash replays at most this much). */
  amlCheckpointMs: number;
  /** How long a batch's reply waits for AML scoring before it is sent with `aml_pending`. */
  amlReplyWaitMs: number;
  /** How often the rules and sanctions files are checked for changes (hot reload). */
  reloadPollMs: number;
  /** LMDB's starting map size, bytes: the map grows on demand (lmdb-js doubles it when full). */
  lmdbMapSize: number;
  /** Staged silver rows are rolled to Parquet at least this often (and every 262,144 rows). */
  silverRollMs: number;
  /** Rows a silver roll waits for (a roll takes at most twice this): the Parquet file size. */
  silverRollRows: number;
  /** Requests per minute per API key (per client IP without a valid key). */
  rateLimit: number;
  /** Days each layer keeps its data (engine/retention.ts says why each default). */
  retentionBronzeDays: number;
  retentionQuarantineDays: number;
  retentionSilverDays: number;
  retentionAlertsDays: number;
  /** A client must send all its headers within this (slowloris); 408 after. */
  headersTimeoutMs: number;
  /** ...and the whole request, body included, within this. */
  requestTimeoutMs: number;
  /** A connection silent this long is closed (a stalled body, an idle socket). */
  connectionTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Anonymous resident memory (MiB) above which new batches are shed with 503 (engine/memory-guard.ts). */
  maxRssMb: number;
  /** Requests waiting for a pool worker; beyond it, bodies for the pool are shed with 429. */
  maxQueued: number;
}

/**
 * Resident AML accounts across all shards when `--aml-capacity` (per shard) is not given: about
 * 150 MiB of state, and room for a 64k-row record batch's accounts in one pass (a batch with more
 * rows than half a shard's capacity is scored in slices, evicting between them).
 */
export const AML_RESIDENT_TOTAL = 131_072;

export const DEFAULTS: ServiceConfig = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: './data',
  bodyLimitBytes: 64 * 2 ** 20,
  workers: Math.max(1, os.availableParallelism()),
  maxInflight: 64,
  logLevel: 'info',
  maxFutureMs: 5 * 60 * 1000,
  reference: {},
  shutdownDeadlineMs: 10_000,
  rulesPath: DEFAULT_RULES_PATH,
  sanctionsPaths: DEFAULT_SANCTIONS_PATHS,
  // One AML shard per two cores: a shard took a tenth of a core at 240k rows/s, and each shard
  // decodes every staged batch to find its rows, so on two cores a second shard cost more than it
  // spread (docs/decisions.md, "One AML shard per two cores").
  amlShards: Math.max(1, Math.floor(os.availableParallelism() / 2)),
  amlCapacity: AML_RESIDENT_TOTAL / 2,
  amlCheckpointMs: 10_000,
  amlReplyWaitMs: DEFAULT_AML_REPLY_WAIT_MS,
  reloadPollMs: 2000,
  lmdbMapSize: 2 ** 30,
  silverRollMs: 30_000,
  silverRollRows: 262_144,
  // Far above what one client sends (the e2e bench: ~2,000 requests/s on one key); a limit that
  // only stops a runaway or hostile client.
  rateLimit: 300_000,
  retentionBronzeDays: DEFAULT_RETENTION.bronzeDays,
  retentionQuarantineDays: DEFAULT_RETENTION.quarantineDays,
  retentionSilverDays: DEFAULT_RETENTION.silverDays,
  retentionAlertsDays: DEFAULT_RETENTION.alertsDays,
  // A sidecar's client is on the same host and sends its headers in microseconds: 10 s is only
  // ever reached by a stalled or hostile client. A 64 MiB body has a minute.
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  connectionTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxRssMb: defaultMaxRssMb(),
  // Eight per worker: an admitted request waits behind at most ~8 others per core, so its latency
  // under a flood stays near the latency at capacity (bench/overload.ts); more would only queue.
  maxQueued: 16,
};

/**
 * Three quarters of the memory this process may use (its cgroup limit in a container, else the
 * machine's), at most 4 GiB: twice the highest anonymous peak the e2e bench has seen (1.9 GiB,
 * 64k-row batches), and far enough under a container limit to shed before the OOM killer acts.
 */
export function defaultMaxRssMb(): number {
  const total = os.totalmem();
  const limit = process.constrainedMemory?.() ?? 0;
  const usable = limit > 0 && limit < total ? limit : total;
  return Math.min(4096, Math.floor((usable * 0.75) / 2 ** 20));
}

/** The retention policy a configuration sets. */
export function retentionOf(c: ServiceConfig): RetentionPolicy {
  return {
    bronzeDays: c.retentionBronzeDays,
    quarantineDays: c.retentionQuarantineDays,
    silverDays: c.retentionSilverDays,
    alertsDays: c.retentionAlertsDays,
  };
}

type Source = Record<string, string | undefined>;

const KEYS: [keyof ServiceConfig, string, 'string' | 'int' | 'list'][] = [
  ['host', 'host', 'string'],
  ['port', 'port', 'int'],
  ['dataDir', 'data-dir', 'string'],
  ['bodyLimitBytes', 'body-limit', 'int'],
  ['workers', 'workers', 'int'],
  ['maxInflight', 'max-inflight', 'int'],
  ['logLevel', 'log-level', 'string'],
  ['maxFutureMs', 'max-future-ms', 'int'],
  ['shutdownDeadlineMs', 'shutdown-deadline-ms', 'int'],
  ['rulesPath', 'rules', 'string'],
  ['sanctionsPaths', 'sanctions', 'list'],
  ['amlShards', 'aml-shards', 'int'],
  ['amlCapacity', 'aml-capacity', 'int'],
  ['amlCheckpointMs', 'aml-checkpoint-ms', 'int'],
  ['amlReplyWaitMs', 'aml-reply-wait-ms', 'int'],
  ['reloadPollMs', 'reload-poll-ms', 'int'],
  ['lmdbMapSize', 'lmdb-map-size', 'int'],
  ['silverRollMs', 'silver-roll-ms', 'int'],
  ['silverRollRows', 'silver-roll-rows', 'int'],
  ['rateLimit', 'rate-limit', 'int'],
  ['retentionBronzeDays', 'retention-bronze-days', 'int'],
  ['retentionQuarantineDays', 'retention-quarantine-days', 'int'],
  ['retentionSilverDays', 'retention-silver-days', 'int'],
  ['retentionAlertsDays', 'retention-alerts-days', 'int'],
  ['headersTimeoutMs', 'headers-timeout-ms', 'int'],
  ['requestTimeoutMs', 'request-timeout-ms', 'int'],
  ['connectionTimeoutMs', 'connection-timeout-ms', 'int'],
  ['keepAliveTimeoutMs', 'keep-alive-timeout-ms', 'int'],
  ['maxRssMb', 'max-rss-mb', 'int'],
  ['maxQueued', 'max-queued', 'int'],
];

const envName = (flag: string) => `SLUICE_${flag.toUpperCase().replace(/-/g, '_')}`;

/** The flags `sluice serve` accepts (besides --config and the reference-table flags). */
export const SERVE_FLAGS = KEYS.map(([, flag]) => flag);

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

export function resolveConfig(
  flags: Source,
  env: Source = process.env,
  overrides: Partial<ServiceConfig> = {},
): ServiceConfig {
  let file: Record<string, unknown> = {};
  const path = flags.config ?? env.SLUICE_CONFIG;
  if (path) {
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new SluiceError('CONFIG_INVALID', `config file ${path}: ${(e as Error).message}`);
    }
  }
  const cfg: ServiceConfig = { ...DEFAULTS, reference: { ...DEFAULTS.reference } };
  /** Settings given by a flag, a variable, the file or an override (not defaulted). */
  const given = new Set<string>(Object.entries(overrides).flatMap(([k, v]) => (v === undefined ? [] : [k])));
  for (const [key, flag, type] of KEYS) {
    const raw =
      flags[flag] ?? env[envName(flag)] ?? (file[key] === undefined ? undefined : String(file[key]));
    if (raw === undefined) continue;
    given.add(key);
    if (type === 'int') {
      if (!/^\d+$/.test(raw))
        throw new SluiceError('CONFIG_INVALID', `${flag} must be a whole number, not '${raw}'`);
      (cfg as unknown as Record<string, unknown>)[key] = Number(raw);
    } else if (type === 'list') {
      const v =
        Array.isArray(file[key]) && raw === String(file[key]) ? (file[key] as string[]) : raw.split(',');
      (cfg as unknown as Record<string, unknown>)[key] = v.map((p) => p.trim()).filter(Boolean);
    } else {
      (cfg as unknown as Record<string, unknown>)[key] = raw;
    }
  }
  Object.assign(cfg, overrides);
  // Resident accounts are budgeted in total and split across shards, unless set per shard: one
  // shard on two cores holds what two did, so a 64k-row record batch still fits in one pass.
  if (!given.has('amlCapacity'))
    cfg.amlCapacity = Math.max(1024, Math.floor(AML_RESIDENT_TOTAL / cfg.amlShards));
  if (cfg.port > 65535) throw new SluiceError('CONFIG_INVALID', 'port must be 0–65535');
  if (cfg.workers < 1 || cfg.workers > 64) throw new SluiceError('CONFIG_INVALID', 'workers must be 1–64');
  if (cfg.maxInflight < 1) throw new SluiceError('CONFIG_INVALID', 'max-inflight must be at least 1');
  if (cfg.amlShards < 1 || cfg.amlShards > MAX_SHARDS) {
    throw new SluiceError('CONFIG_INVALID', `aml-shards must be 1–${MAX_SHARDS}`);
  }
  if (cfg.amlCapacity < 1024 || cfg.amlCapacity > 4_194_304) {
    throw new SluiceError('CONFIG_INVALID', 'aml-capacity must be 1,024–4,194,304 accounts');
  }
  if (cfg.amlReplyWaitMs < 1 || cfg.amlReplyWaitMs > 600_000) {
    throw new SluiceError('CONFIG_INVALID', 'aml-reply-wait-ms must be 1–600,000');
  }
  if (cfg.bodyLimitBytes < 1024 || cfg.bodyLimitBytes > 2 ** 30) {
    throw new SluiceError('CONFIG_INVALID', 'body-limit must be between 1 KiB and 1 GiB');
  }
  if (cfg.lmdbMapSize < 2 ** 20 || cfg.lmdbMapSize > 2 ** 44) {
    throw new SluiceError('CONFIG_INVALID', 'lmdb-map-size must be between 1 MiB and 16 TiB');
  }
  if (cfg.silverRollMs < 100 || cfg.silverRollMs > 86_400_000) {
    throw new SluiceError('CONFIG_INVALID', 'silver-roll-ms must be 100–86,400,000');
  }
  if (cfg.silverRollRows < 1024 || cfg.silverRollRows > 16_777_216) {
    throw new SluiceError('CONFIG_INVALID', 'silver-roll-rows must be 1,024–16,777,216');
  }
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(cfg.logLevel)) {
    throw new SluiceError('CONFIG_INVALID', `log-level '${cfg.logLevel}' is not a pino level`);
  }
  if (cfg.rateLimit < 1 || cfg.rateLimit > 1_000_000_000) {
    throw new SluiceError('CONFIG_INVALID', 'rate-limit must be 1–1,000,000,000 requests per minute');
  }
  checkRetention(retentionOf(cfg));
  for (const [v, flag] of [
    [cfg.headersTimeoutMs, 'headers-timeout-ms'],
    [cfg.requestTimeoutMs, 'request-timeout-ms'],
    [cfg.connectionTimeoutMs, 'connection-timeout-ms'],
    [cfg.keepAliveTimeoutMs, 'keep-alive-timeout-ms'],
  ] as const) {
    if (v < 100 || v > 3_600_000) throw new SluiceError('CONFIG_INVALID', `${flag} must be 100–3,600,000`);
  }
  // Node refuses a headers timeout beyond the request timeout (the headers are part of the request).
  if (cfg.headersTimeoutMs > cfg.requestTimeoutMs) {
    throw new SluiceError('CONFIG_INVALID', 'headers-timeout-ms must not exceed request-timeout-ms');
  }
  if (cfg.maxQueued < 1) throw new SluiceError('CONFIG_INVALID', 'max-queued must be at least 1');
  if (cfg.maxRssMb < 64 || cfg.maxRssMb > 1_048_576) {
    throw new SluiceError('CONFIG_INVALID', 'max-rss-mb must be 64–1,048,576');
  }
  // A host beyond loopback is allowed only once an API key exists: startService checks the store.
  return cfg;
}
