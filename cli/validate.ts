/**
 * `sluice validate FILE`: per-row verdicts as NDJSON on stdout, no server. Streams the file in
 * batches, so memory holds one batch and the set of tx ids seen (for DUPLICATE_TX).
 */
import { once } from 'node:events';
import { LocalAml } from '../engine/aml/local.ts';
import { columnsOf } from '../engine/columns.ts';
import { SluiceError } from '../engine/errors.ts';
import { type Format, formatOfPath, readFileBatches } from '../engine/formats/index.ts';
import { Kernels } from '../engine/kernels.ts';
import { loadReferenceData } from '../engine/reference-data.ts';
import { Validator } from '../engine/validator.ts';
import { verdictNdjson } from '../engine/verdicts.ts';
import { parse } from './args.ts';
import { REFERENCE_OPTIONS, referencePaths } from './reference-flags.ts';

export const VALIDATE_USAGE = `usage: sluice validate FILE [--format csv|ndjson|json|arrow|msgpack] [--rules FILE] [--sanctions FILE]...
  Prints one verdict per row as NDJSON (CONTRACT §4), in input order. Rows are AML-scored in
  event-time order within each batch, each seeing the valid rows of the file before it.`;

export async function validateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...REFERENCE_OPTIONS,
    format: { type: 'string' },
    rules: { type: 'string' },
    sanctions: { type: 'string', multiple: true },
  });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new SluiceError('USAGE', VALIDATE_USAGE);
  const format = (values.format as Format | undefined) ?? formatOfPath(file);
  if (!format) throw new SluiceError('USAGE', `cannot tell the format of ${file}; pass --format`);
  const validator = new Validator(new Kernels(loadReferenceData(referencePaths(values))));
  const aml = LocalAml.open({
    rulesPath: values.rules as string | undefined,
    sanctionsPaths: values.sanctions as string[] | undefined,
  });
  const seen = new Set<string>();
  const out = process.stdout;
  let invalid = 0;
  for await (const batch of readFileBatches(file, format)) {
    const v = validator.validate(batch, seen);
    for (const m of v.mask) if (m !== 0) invalid++;
    const scored = aml.score(columnsOf(batch), v);
    if (!out.write(verdictNdjson(v, scored))) await once(out, 'drain');
  }
  process.stderr.write(`sluice validate: ${seen.size} distinct tx ids, ${invalid} invalid rows\n`);
  return 0;
}
