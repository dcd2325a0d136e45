/**
 * The `sluice` command line. Exit codes: 0 ok, 1 failure, 2 bad usage (CONTRACT §7).
 * Commands load lazily: `validate` never pays for Fastify, the service never for the generator.
 */
import { isSluiceError } from '../engine/errors.ts';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { usage: string; load: () => Promise<Command> }> = {
  serve: {
    usage: 'serve [--host 127.0.0.1] [--port 8080] [--data-dir ./data] [--config FILE] [--rate-limit N]',
    load: async () => (await import('./serve.ts')).serveCommand,
  },
  ingest: {
    usage: 'ingest FILE… [--url http://127.0.0.1:8080] [--key K] [--batch-rows 8192] [--concurrency 4]',
    load: async () => (await import('./ingest.ts')).ingestCommand,
  },
  demo: {
    usage: 'demo [--rows 1000000] [--seed 1] [--data-dir DIR] [--keep]',
    load: async () => (await import('./demo.ts')).demoCommand,
  },
  validate: {
    usage: 'validate FILE [--format csv|ndjson|json|arrow|msgpack]',
    load: async () => (await import('./validate.ts')).validateCommand,
  },
  keys: {
    usage: 'keys create --role R… [--label L] | keys list | keys revoke ID  [--data-dir ./data]',
    load: async () => (await import('./keys.ts')).keysCommand,
  },
  audit: {
    usage: 'audit verify [--data-dir ./data] [--checkpoint FILE]',
    load: async () => (await import('./audit.ts')).auditCommand,
  },
  verify: {
    usage: 'verify [--data-dir ./data] [--no-bronze] [--no-silver]',
    load: async () => (await import('./verify.ts')).verifyCommand,
  },
  job: {
    usage: 'job list | job run NAME [--data-dir ./data]',
    load: async () => (await import('./job.ts')).jobCommand,
  },
  'aml-eval': {
    usage: 'aml-eval FILE --labels LABELS [--format F] [--rules FILE] [--sanctions FILE]… [--json]',
    load: async () => (await import('./aml-eval.ts')).amlEvalCommand,
  },
  generate: {
    usage:
      'generate --rows N [--seed S] [--format csv|ndjson|arrow] [--bad-share 0.02] [--days 30] --out FILE',
    load: async () => (await import('./generate.ts')).generateCommand,
  },
};

const USAGE = `usage: sluice <command> [options]\n\ncommands:\n${Object.values(COMMANDS)
  .map((c) => `  ${c.usage}`)
  .join('\n')}\n`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  const entry = COMMANDS[cmd];
  if (!entry) {
    process.stderr.write(`sluice: unknown command '${cmd}'\n${USAGE}`);
    return 2;
  }
  try {
    return await (await entry.load())(rest);
  } catch (e) {
    if (isSluiceError(e)) {
      process.stderr.write(`sluice ${cmd}: ${e.code}: ${e.message}\n`);
      return e.code === 'USAGE' ? 2 : 1;
    }
    process.stderr.write(`sluice ${cmd}: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
