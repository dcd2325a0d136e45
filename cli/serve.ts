/** `sluice serve`: runs the service until SIGINT/SIGTERM, then shuts down gracefully. */

import { startService } from '../api/service.ts';
import { resolveConfig, SERVE_FLAGS } from '../engine/config.ts';
import { isSluiceError } from '../engine/errors.ts';
import { type Options, parse } from './args.ts';
import { REFERENCE_OPTIONS, referencePaths } from './reference-flags.ts';

export const SERVE_USAGE =
  'usage: sluice serve [--host 127.0.0.1] [--port 8080] [--data-dir ./data] [--config FILE] [--rate-limit N]';

export async function serveCommand(argv: string[]): Promise<number> {
  const options: Options = { ...REFERENCE_OPTIONS, config: { type: 'string' } };
  for (const f of SERVE_FLAGS) options[f] = { type: 'string' };
  const { values } = parse(argv, options, false);
  const config = resolveConfig(values as Record<string, string | undefined>);
  config.reference = referencePaths(values);
  let svc: Awaited<ReturnType<typeof startService>>;
  try {
    // Only for a person at a terminal (`npm start`): a container's or a service manager's stdout is
    // a log stream, and an admin key must never end up in shipped logs.
    svc = await startService({ ...config, localAdminKey: process.stdout.isTTY === true });
  } catch (e) {
    // Listening beyond loopback with no key is a setup mistake, as bad usage is: exit 2.
    if (isSluiceError(e) && e.code === 'NO_API_KEYS') {
      process.stderr.write(`sluice serve: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  // Signals are handled before anything says the service is up, so a stop that follows at once
  // still drains.
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  if (svc.localKey) {
    // The only time this key is ever shown: the store keeps its hash alone.
    process.stdout.write(
      `Created a local admin key (shown once): ${svc.localKey}\n` +
        `  use it as: curl -H 'Authorization: Bearer ${svc.localKey}' ${svc.url}/v1/alerts\n` +
        '  more keys: sluice keys create --role ingest|analyst|auditor|admin|pii [--label L]\n',
    );
  }
  process.stderr.write(`sluice: serving on ${svc.url} (data in ${svc.dataDir})\n`);
  if (svc.keyless) {
    process.stderr.write(
      'sluice: no API key exists yet, so every route but /healthz, /readyz, /metrics and /docs/json ' +
        `answers 401; create one: sluice keys create --role ingest --data-dir ${svc.dataDir}\n`,
    );
  }
  process.stderr.write(`sluice: ${await stopped}: draining and shutting down\n`);
  await svc.close();
  return 0;
}
