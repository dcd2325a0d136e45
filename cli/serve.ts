/** `sluice serve`: runs the service until SIGINT/SIGTERM, then shuts down gracefully. */

import { startService } from '../api/service.ts';
import { resolveConfig, SERVE_FLAGS } from '../engine/config.ts';
import { type Options, parse } from './args.ts';
import { REFERENCE_OPTIONS, referencePaths } from './reference-flags.ts';

export const SERVE_USAGE =
  'usage: sluice serve [--host 127.0.0.1] [--port 8080] [--data-dir ./data] [--config FILE]';

export async function serveCommand(argv: string[]): Promise<number> {
  const options: Options = { ...REFERENCE_OPTIONS, config: { type: 'string' } };
  for (const f of SERVE_FLAGS) options[f] = { type: 'string' };
  const { values } = parse(argv, options, false);
  const config = resolveConfig(values as Record<string, string | undefined>);
  config.reference = referencePaths(values);
  const svc = await startService(config);
  process.stderr.write(
    `sluice: serving on ${svc.url} (data in ${svc.dataDir})\n` +
      'sluice: WARNING: unauthenticated dev mode (no API keys yet); bound to loopback only.\n',
  );
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      process.stderr.write(`sluice: ${sig}: draining and shutting down\n`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await svc.close();
  return 0;
}
