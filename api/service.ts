/**
 * Starts and stops the whole service: store, recovery, worker pool, silver roller, HTTP server.
 * Shutdown is graceful: stop accepting, drain in-flight batches, roll staged silver, close.
 */
import { resolve } from 'node:path';
import { resolveConfig, type ServiceConfig } from '../engine/config.ts';
import { foldAccountPartials, foldAll } from '../engine/gold.ts';
import { Pipeline } from '../engine/pipeline.ts';
import { SilverRoller } from '../engine/silver/roller.ts';
import { Store } from '../engine/store.ts';
import { Metrics } from './metrics.ts';
import { buildServer } from './server.ts';

export interface StartOptions extends Partial<ServiceConfig> {
  quiet?: boolean;
}

export interface RunningService {
  url: string;
  dataDir: string;
  config: ServiceConfig;
  close(): Promise<void>;
}

export async function startService(opts: StartOptions = {}): Promise<RunningService> {
  const { quiet, ...overrides } = opts;
  const config = resolveConfig({}, {}, overrides);
  if (quiet) config.logLevel = 'silent';
  const dataDir = resolve(config.dataDir);
  const store = new Store({ dataDir });
  const roller = new SilverRoller(store);
  await roller.recover();
  const pipeline = new Pipeline(store, {
    workers: config.workers,
    maxInflight: config.maxInflight,
    maxFutureMs: config.maxFutureMs,
    ratesPath: config.ratesPath,
    reference: config.reference,
  });
  const metrics = new Metrics();
  const app = await buildServer(
    { pipeline, store, metrics },
    {
      bodyLimit: config.bodyLimitBytes,
      logLevel: config.logLevel,
      // Parquet falling far behind (a stuck or failing roll) means silver is not being written:
      // stop taking traffic until it catches up rather than pile up staging without bound.
      ready: () => (roller.stagedRows() > 8 * roller.targetRows ? 'silver roll backlog' : null),
    },
  );
  roller.start();
  await foldAll(store);
  // Account aggregates are folded off the acknowledgement path (engine/gold.ts).
  let folding = Promise.resolve(0);
  const foldTimer = setInterval(() => {
    folding = folding
      .then(() => foldAccountPartials(store))
      .catch((e: Error) => {
        app.log.error({ err: e }, 'gold fold failed; partials stay and are folded later');
        return 0;
      });
  }, 2000);
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
    close() {
      closing ??= (async () => {
        // Stop taking connections, let in-flight requests finish and commit, then flush silver.
        await Promise.all([app.close(), pipeline.drain(config.shutdownDeadlineMs)]);
        clearInterval(foldTimer);
        await folding;
        await foldAll(store);
        await roller.stop();
        await store.close();
      })();
      return closing;
    },
  };
}
