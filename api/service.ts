/**
 * Starts and stops the whole service: store, recovery, worker pool, silver roller, HTTP server.
 * Shutdown is graceful: stop accepting, drain in-flight batches, roll staged silver, close.
 */
import { unwatchFile, watchFile } from 'node:fs';
import { resolve } from 'node:path';
import { Piscina } from 'piscina';
import { SanctionsList } from '../engine/aml/sanctions.ts';
import { AmlShards } from '../engine/aml/shards.ts';
import { recordAudit } from '../engine/audit/log.ts';
import { createKey, hasActiveKey, hasAnyKey } from '../engine/auth/keys.ts';
import { isLoopback, resolveConfig, retentionOf, type ServiceConfig } from '../engine/config.ts';
import { SluiceError } from '../engine/errors.ts';
import { foldAll, GOLD_FOLD_MS } from '../engine/gold.ts';
import type { FoldTask } from '../engine/gold-worker.ts';
import { JOBS, JobRunner } from '../engine/jobs.ts';
import { MemoryGuard } from '../engine/memory-guard.ts';
import { Pipeline } from '../engine/pipeline.ts';
import { SilverRoller } from '../engine/silver/roller.ts';
import { Store } from '../engine/store.ts';
import { workerFile } from '../engine/worker-file.ts';
import { type DeclaredRoute, declaredRoutes } from './auth.ts';
import { Metrics } from './metrics.ts';
import { buildServer } from './server.ts';
import { closeConnections, stopAccepting } from './transport.ts';

export interface StartOptions extends Partial<ServiceConfig> {
  quiet?: boolean;
  /**
   * On loopback, when the data dir has never had a key, create one local `admin` key first
   * (`sluice serve`, so that `npm start` is usable at once). It is returned once, as `localKey`.
   */
  localAdminKey?: boolean;
}

export interface RunningService {
  url: string;
  dataDir: string;
  config: ServiceConfig;
  /** The key `localAdminKey` created, if it did: shown once, never stored in clear. */
  localKey?: string;
  /** True when no unrevoked key existed at start: every non-public request is refused. */
  keyless: boolean;
  /** Every route with the role it requires (null: public). */
  routes: readonly DeclaredRoute[];
  close(): Promise<void>;
}

export async function startService(opts: StartOptions = {}): Promise<RunningService> {
  const { quiet, localAdminKey, ...overrides } = opts;
  const config = resolveConfig({}, {}, overrides);
  if (quiet) config.logLevel = 'silent';
  const dataDir = resolve(config.dataDir);
  const store = new Store({ dataDir, mapSize: config.lmdbMapSize });
  let localKey: string | undefined;
  const keyless = !hasActiveKey(store);
  if (isLoopback(config.host)) {
    if (localAdminKey && !hasAnyKey(store)) {
      localKey = (await createKey(store, { roles: ['admin'], label: 'local admin', actor: 'system' })).key;
    }
  } else if (keyless) {
    // Beyond loopback, a service nobody can authenticate to must not even listen.
    await store.close();
    throw new SluiceError(
      'NO_API_KEYS',
      `refusing to listen on ${config.host}: no unrevoked API key in ${dataDir}; ` +
        `create one first: sluice keys create --role ingest --data-dir ${dataDir}`,
    );
  }
  const metrics = new Metrics();
  let log: { info(o: object, m: string): void; error(o: object, m: string): void } = {
    info: () => undefined,
    error: (o, m) => console.error(m, o),
  };
  let amlFailure: string | null = null;
  // Reloads are audited in a transaction of their own; failing to record one is logged, not thrown.
  const auditReload = (
    action: 'rules.reload' | 'sanctions.reload',
    target: string,
    ok: boolean,
    details: Record<string, unknown>,
  ) => {
    recordAudit(store, { actor: 'system', action, target, outcome: ok ? 'ok' : 'failed', details }).catch(
      (err: Error) => log.error({ err, action }, 'audit entry not recorded'),
    );
  };
  // The AML shards replay whatever their checkpoints missed before the service takes traffic.
  const aml = await AmlShards.start({
    dataDir,
    shards: config.amlShards,
    rulesPath: config.rulesPath,
    capacity: config.amlCapacity,
    checkpointMs: config.amlCheckpointMs,
    onFailure: (shard, error) => {
      amlFailure = `AML shard ${shard} failed`;
      log.error({ shard, error }, 'AML shard failed');
    },
    onScored: (m) => metrics.shardScored(m),
  });
  // The sanctions lists in force. Names are screened in the pool workers, before sealing; this
  // copy is the service's judge of a reload (one audit entry and one metric per attempt), and its
  // version travels with each task so the workers follow it.
  const sanctions = SanctionsList.load(config.sanctionsPaths);
  metrics.sanctionsReload(true, sanctions.size, sanctions.version);
  const roller = new SilverRoller(store, {
    amlShards: aml.count,
    maxAgeMs: config.silverRollMs,
    targetRows: config.silverRollRows,
    onRoll: (r) => {
      metrics.silverFiles.inc(r.files.length);
      metrics.silverBytes.inc(r.files.reduce((a, f) => a + f.bytes, 0));
      metrics.silverRows.inc(r.rows);
    },
  });
  await roller.recover();
  const pipeline = new Pipeline(store, {
    workers: config.workers,
    maxInflight: config.maxInflight,
    maxQueued: config.maxQueued,
    maxFutureMs: config.maxFutureMs,
    rulesPath: config.rulesPath,
    sanctionsPaths: config.sanctionsPaths,
    sanctions,
    reference: config.reference,
    aml,
    amlReplyWaitMs: config.amlReplyWaitMs,
    memory: new MemoryGuard(config.maxRssMb * 2 ** 20),
  });
  const app = await buildServer(
    { pipeline, store, metrics },
    {
      bodyLimit: config.bodyLimitBytes,
      logLevel: config.logLevel,
      rateLimitPerMinute: config.rateLimit,
      retention: retentionOf(config),
      transport: config,
      // Parquet falling far behind (a stuck or failing roll) means silver is not being written:
      // stop taking traffic until it catches up rather than pile up staging without bound.
      ready: () =>
        amlFailure ??
        (pipeline.pool.threads.length < config.workers
          ? 'worker pool starting'
          : roller.stagedRows() > 8 * roller.targetRows
            ? 'silver roll backlog'
            : null),
    },
  );
  log = app.log;
  metrics.rulesLoaded(aml.rulesHash);
  // Hot reload: the rules file and the sanctions lists are polled (works on any filesystem and
  // for files replaced by rename); a bad file is refused, logged, counted, and the old one stays.
  const onRules = () => {
    try {
      const r = aml.reloadRules();
      if (r.changed) {
        metrics.rulesLoaded(r.hash);
        app.log.info({ version: r.version, sha256: r.hash }, 'AML rules reloaded');
        auditReload('rules.reload', config.rulesPath, true, { version: r.version, sha256: r.hash });
      }
    } catch (e) {
      metrics.rulesReloadFailed();
      auditReload('rules.reload', config.rulesPath, false, {
        error: String((e as Error).message).slice(0, 500),
      });
      app.log.error({ err: e }, 'AML rules reload refused; the rules in force stay');
    }
  };
  const onSanctions = () => {
    const r = sanctions.reload();
    metrics.sanctionsReload(r.ok, sanctions.size, sanctions.version);
    auditReload(
      'sanctions.reload',
      config.sanctionsPaths.join(','),
      r.ok,
      r.ok ? { version: sanctions.version, size: sanctions.size } : { error: String(r.error).slice(0, 500) },
    );
    if (r.ok) app.log.info({ size: sanctions.size, version: sanctions.version }, 'sanctions list reloaded');
    else app.log.error({ error: r.error }, 'sanctions reload failed; the old list stays in force');
  };
  watchFile(config.rulesPath, { interval: config.reloadPollMs, persistent: false }, onRules);
  for (const p of config.sanctionsPaths) {
    watchFile(p, { interval: config.reloadPollMs, persistent: false }, onSanctions);
  }
  const jobs = new JobRunner({ store, now: Date.now, roller, retention: retentionOf(config) }, JOBS, {
    onRun: (job, outcome, ms, detail) => {
      metrics.jobRun(job, outcome, ms);
      if (outcome === 'ok') app.log.info({ job, ms: Math.round(ms), ...(detail as object) }, 'job done');
      else app.log.error({ job, err: detail }, 'job failed; retrying with backoff');
    },
  });
  jobs.start();
  roller.start();
  await foldAll(store);
  // Account aggregates are folded off the acknowledgement path (engine/gold.ts), every
  // GOLD_FOLD_MS, in a thread of their own (engine/gold-worker.ts): an account seen in many
  // batches of the interval costs one read and one write, so a longer interval folds the same
  // rows with fewer writes, and its merging keeps the HTTP thread free.
  const goldPool = new Piscina({
    ...workerFile('../engine/gold-worker', import.meta.url),
    minThreads: 1,
    maxThreads: 1,
  });
  const foldTask: FoldTask = { dataDir, mapSize: config.lmdbMapSize };
  let folding = Promise.resolve();
  const foldTimer = setInterval(() => {
    folding = folding
      .then(() => goldPool.run(foldTask))
      .catch((e: Error) => {
        app.log.error({ err: e }, 'gold fold failed; partials stay and are folded later');
      });
  }, GOLD_FOLD_MS);
  foldTimer.unref();
  await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    dataDir,
    config,
    ...(localKey ? { localKey } : {}),
    keyless: keyless && !localKey,
    routes: declaredRoutes(app),
    close() {
      closing ??= (async () => {
        // Stop taking connections (the open ones end after their next reply: draining, every
        // reply says `Connection: close`), let in-flight requests finish and commit, close what
        // is left, then flush silver.
        const until = Date.now() + config.shutdownDeadlineMs;
        const closed = stopAccepting(app.server);
        await pipeline.drain(config.shutdownDeadlineMs);
        await closeConnections(app.server, closed, Math.max(0, until - Date.now()));
        await app.close();
        unwatchFile(config.rulesPath, onRules);
        for (const p of config.sanctionsPaths) unwatchFile(p, onSanctions);
        // The shards score and checkpoint everything committed; then silver may roll it all.
        await jobs.stop();
        await aml.stop();
        clearInterval(foldTimer);
        await folding;
        await goldPool.run({ ...foldTask, close: true });
        await goldPool.destroy();
        await foldAll(store);
        await roller.stop();
        await store.close();
      })();
      return closing;
    },
  };
}
