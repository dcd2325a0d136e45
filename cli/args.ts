/** Command-line parsing: node's own parseArgs, with every bad flag a usage error (exit 2). */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { SluiceError } from '../engine/errors.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse(argv: string[], options: Options, positionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: positionals, strict: true });
  } catch (e) {
    throw new SluiceError('USAGE', (e as Error).message);
  }
}

/** A whole number flag within bounds, or a usage error. */
export function intFlag(
  value: string | undefined,
  name: string,
  dflt: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return dflt;
  if (!/^\d+$/.test(value)) throw new SluiceError('USAGE', `--${name} takes a whole number`);
  const n = Number(value);
  if (n < min || n > max) throw new SluiceError('USAGE', `--${name} must be between ${min} and ${max}`);
  return n;
}
