/**
 * The `sluice` command line. Exit codes: 0 ok, 1 failure, 2 bad usage (CONTRACT §7).
 */
import { isSluiceError } from '../engine/errors.ts';
import { GENERATE_USAGE, generateCommand } from './generate.ts';
import { VALIDATE_USAGE, validateCommand } from './validate.ts';

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  validate: validateCommand,
  generate: generateCommand,
};

const USAGE = `usage: sluice <command> [options]

commands:
  ${VALIDATE_USAGE.split('\n')[0]?.replace('usage: sluice ', '')}
  ${GENERATE_USAGE.replace('usage: sluice ', '')}
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 2;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`sluice: unknown command '${cmd}'\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest);
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
