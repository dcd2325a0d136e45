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
  /** How often the rules and sanctions files are checked for changes (hot reload). */
  reloadPollMs: number;
}

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
  amlShards: 2,
  amlCapacity: 65536,
  amlCheckpointMs: 2000,
  reloadPollMs: 2000,
};

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
  ['reloadPollMs', 'reload-poll-ms', 'int'],
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
  for (const [key, flag, type] of KEYS) {
    const raw =
      flags[flag] ?? env[envName(flag)] ?? (file[key] === undefined ? undefined : String(file[key]));
    if (raw === undefined) continue;
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
  if (cfg.port > 65535) throw new SluiceError('CONFIG_INVALID', 'port must be 0–65535');
  if (cfg.workers < 1 || cfg.workers > 64) throw new SluiceError('CONFIG_INVALID', 'workers must be 1–64');
  if (cfg.maxInflight < 1) throw new SluiceError('CONFIG_INVALID', 'max-inflight must be at least 1');
  if (cfg.amlShards < 1 || cfg.amlShards > MAX_SHARDS) {
    throw new SluiceError('CONFIG_INVALID', `aml-shards must be 1–${MAX_SHARDS}`);
  }
  if (cfg.amlCapacity < 1024 || cfg.amlCapacity > 4_194_304) {
    throw new SluiceError('CONFIG_INVALID', 'aml-capacity must be 1,024–4,194,304 accounts');
  }
  if (cfg.bodyLimitBytes < 1024 || cfg.bodyLimitBytes > 2 ** 30) {
    throw new SluiceError('CONFIG_INVALID', 'body-limit must be between 1 KiB and 1 GiB');
  }
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(cfg.logLevel)) {
    throw new SluiceError('CONFIG_INVALID', `log-level '${cfg.logLevel}' is not a pino level`);
  }
  // No API keys exist yet (governance issue): the service is unauthenticated, so it must not be
  // reachable from anywhere but this host.
  if (!isLoopback(cfg.host)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `refusing to bind ${cfg.host}: without API keys Sluice binds loopback only`,
    );
  }
  return cfg;
}
