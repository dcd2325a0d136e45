/**
 * `sluice aml-eval FILE --labels LABELS`: scores a generated file with the AML rules exactly as
 * `sluice validate` streams it (batches, validation, in-memory state carried row to row), and
 * compares each row's rules with what its label says docs/aml.md fires. Prints per-rule
 * precision and recall, the planted instances found, and the alert rate on background rows.
 * Exit 0, or 1 when a planted rule is missed anywhere (recall < 1) or background alerts reach 0.5 %.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { RULE_NAMES, type RuleName } from '../engine/aml/rule-names.ts';
import { columnsOf } from '../engine/columns.ts';
import { SluiceError } from '../engine/errors.ts';
import { type Format, formatOfPath, readFileBatches } from '../engine/formats/index.ts';
import { Kernels } from '../engine/kernels.ts';
import { loadReferenceData } from '../engine/reference-data.ts';
import { Validator } from '../engine/validator.ts';
import { parse } from './args.ts';
import { REFERENCE_OPTIONS, referencePaths } from './reference-flags.ts';

export const AML_EVAL_USAGE = `usage: sluice aml-eval FILE --labels LABELS [--format csv|ndjson|json|arrow|msgpack]
       [--rules FILE] [--sanctions FILE]… [--json]
  Scores FILE with the AML rules and compares with the labels of \`sluice generate\`.`;

/** CONTRACT §6: an alert is raised at score ≥ 50. */
const ALERT_SCORE = 50;
/** The acceptance bound on alerts among background rows. */
const MAX_BACKGROUND_ALERT_RATE = 0.005;

const RULE_BIT = new Map<string, number>(RULE_NAMES.map((n, i) => [n, i]));

/** The labels, as columns: one entry per row of the file. */
interface Labels {
  valid: boolean[];
  /** Rule mask the label says fires. */
  expected: number[];
  /** Index into `instances`, or -1 for background. */
  instance: number[];
  instances: string[];
}

async function readLabels(path: string): Promise<Labels> {
  const out: Labels = { valid: [], expected: [], instance: [], instances: [] };
  const index = new Map<string, number>();
  const stream = createReadStream(path);
  try {
    const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      const l = JSON.parse(line) as { status?: string; aml?: string[]; typology?: string | null };
      if (!Array.isArray(l.aml)) {
        throw new SluiceError(
          'BAD_REQUEST',
          `${path}: label ${out.valid.length} has no "aml" (regenerate it)`,
        );
      }
      let mask = 0;
      for (const r of l.aml) {
        const b = RULE_BIT.get(r);
        if (b === undefined) throw new SluiceError('BAD_REQUEST', `${path}: unknown rule ${r}`);
        mask |= 1 << b;
      }
      let inst = -1;
      if (l.typology) {
        inst = index.get(l.typology) ?? -1;
        if (inst < 0) {
          inst = out.instances.length;
          index.set(l.typology, inst);
          out.instances.push(l.typology);
        }
      }
      out.valid.push(l.status === 'valid');
      out.expected.push(mask);
      out.instance.push(inst);
    }
  } catch (e) {
    if (e instanceof SluiceError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code) throw new SluiceError('FILE_UNREADABLE', `${path}: ${err.message}`);
    throw new SluiceError('BAD_REQUEST', `${path}: ${err.message}`);
  } finally {
    stream.destroy();
  }
  return out;
}

export interface RuleReport {
  rule: RuleName;
  planted: number;
  fired: number;
  true_positives: number;
  precision: number | null;
  recall: number | null;
}

export interface AmlEvalReport {
  rows: number;
  valid_rows: number;
  rules: RuleReport[];
  instances: {
    planted: number;
    found: number;
    by_typology: Record<string, { planted: number; found: number }>;
  };
  background: { rows: number; alerts: number; alert_rate: number };
  /** Rows whose validation status differs from the label's (should be 0). */
  status_mismatches: number;
  /** Alerts on invalid rows: scored read-only, not part of the evaluation. */
  invalid_row_alerts: number;
  pass: boolean;
}

export async function amlEvalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...REFERENCE_OPTIONS,
    labels: { type: 'string' },
    format: { type: 'string' },
    rules: { type: 'string' },
    sanctions: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  });
  const file = positionals[0];
  const labelsPath = values.labels as string | undefined;
  if (!file || positionals.length > 1 || !labelsPath) throw new SluiceError('USAGE', AML_EVAL_USAGE);
  const format = (values.format as Format | undefined) ?? formatOfPath(file);
  if (!format) throw new SluiceError('USAGE', `cannot tell the format of ${file}; pass --format`);
  const started = Date.now();
  const labels = await readLabels(labelsPath);
  // Loaded here, not at the top: the engine pulls in the AML kernels and the sanctions index.
  const { LocalAml } = await import('../engine/aml/local.ts');
  const aml = LocalAml.open({
    ...(values.rules ? { rulesPath: values.rules as string } : {}),
    ...(values.sanctions ? { sanctionsPaths: values.sanctions as string[] } : {}),
  });
  const validator = new Validator(new Kernels(loadReferenceData(referencePaths(values))));
  const seen = new Set<string>();

  const nRules = RULE_NAMES.length;
  const planted = new Array<number>(nRules).fill(0);
  const fired = new Array<number>(nRules).fill(0);
  const tp = new Array<number>(nRules).fill(0);
  const instHas = new Uint8Array(labels.instances.length);
  const instMissed = new Uint8Array(labels.instances.length);
  let row = 0;
  let validRows = 0;
  let bgRows = 0;
  let bgAlerts = 0;
  let mismatches = 0;
  let invalidAlerts = 0;
  for await (const batch of readFileBatches(file, format)) {
    const cols = columnsOf(batch);
    const v = validator.validateColumns(cols, seen);
    const s = aml.score(cols, v);
    for (let i = 0; i < cols.numRows; i++, row++) {
      if (row >= labels.valid.length) {
        throw new SluiceError('BAD_REQUEST', `${file} has more rows than ${labelsPath} has labels`);
      }
      const valid = v.mask[i] === 0;
      const score = s.score[i] as number;
      if (valid !== labels.valid[row]) mismatches++;
      if (!labels.valid[row]) {
        if (score >= ALERT_SCORE) invalidAlerts++;
        continue;
      }
      validRows++;
      const got = s.rules[i] as number;
      const want = labels.expected[row] as number;
      const inst = labels.instance[row] as number;
      for (let b = 0; b < nRules; b++) {
        const w = (want >> b) & 1;
        const g = (got >> b) & 1;
        planted[b] = (planted[b] as number) + w;
        fired[b] = (fired[b] as number) + g;
        tp[b] = (tp[b] as number) + (w & g);
      }
      if (inst >= 0) {
        if (want !== 0) instHas[inst] = 1;
        if ((want & got) !== want) instMissed[inst] = 1;
      } else {
        bgRows++;
        if (score >= ALERT_SCORE) bgAlerts++;
      }
    }
  }
  if (row !== labels.valid.length) {
    throw new SluiceError(
      'BAD_REQUEST',
      `${file} has ${row} rows but ${labelsPath} has ${labels.valid.length}`,
    );
  }

  const byTypology: Record<string, { planted: number; found: number }> = {};
  let instPlanted = 0;
  let instFound = 0;
  labels.instances.forEach((id, k) => {
    if (!instHas[k]) return;
    // instance ids are AML-<code>-<n>: group by the code
    const code = id.split('-')[1] ?? id;
    const t = byTypology[code] ?? { planted: 0, found: 0 };
    byTypology[code] = t;
    t.planted++;
    instPlanted++;
    if (!instMissed[k]) {
      t.found++;
      instFound++;
    }
  });
  const rules: RuleReport[] = RULE_NAMES.map((rule, b) => {
    const p = planted[b] as number;
    const f = fired[b] as number;
    const t = tp[b] as number;
    return {
      rule,
      planted: p,
      fired: f,
      true_positives: t,
      precision: f ? t / f : null,
      recall: p ? t / p : null,
    };
  });
  const alertRate = bgRows ? bgAlerts / bgRows : 0;
  const pass =
    rules.every((r) => r.recall === null || r.recall === 1) && alertRate < MAX_BACKGROUND_ALERT_RATE;
  const report: AmlEvalReport = {
    rows: row,
    valid_rows: validRows,
    rules,
    instances: { planted: instPlanted, found: instFound, by_typology: byTypology },
    background: { rows: bgRows, alerts: bgAlerts, alert_rate: alertRate },
    status_mismatches: mismatches,
    invalid_row_alerts: invalidAlerts,
    pass,
  };
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  process.stderr.write(`sluice aml-eval: ${row} rows in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return pass ? 0 : 1;
}

function pct(x: number | null): string {
  return x === null ? '-' : `${(100 * x).toFixed(2)}%`;
}

export function formatReport(r: AmlEvalReport): string {
  const head = ['rule', 'planted', 'fired', 'true pos', 'precision', 'recall'];
  const body = r.rules.map((x) => [
    x.rule,
    String(x.planted),
    String(x.fired),
    String(x.true_positives),
    pct(x.precision),
    pct(x.recall),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => (b[c] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((s, c) => (c === 0 ? s.padEnd(widths[c] as number) : s.padStart(widths[c] as number)))
      .join('  ');
  const typ = Object.entries(r.instances.by_typology)
    .map(([code, t]) => `${code} ${t.found}/${t.planted}`)
    .join(', ');
  return [
    line(head),
    ...body.map(line),
    '',
    `rows ${r.rows} (${r.valid_rows} valid); status mismatches ${r.status_mismatches}`,
    `planted instances found: ${r.instances.found}/${r.instances.planted} (${typ})`,
    `background alerts (score >= ${ALERT_SCORE}): ${r.background.alerts}/${r.background.rows} = ${pct(
      r.background.alert_rate,
    )}`,
    `alerts on invalid rows (not evaluated): ${r.invalid_row_alerts}`,
    r.pass ? 'PASS' : 'FAIL: a planted rule was missed or background alerts reached 0.5%',
    '',
  ].join('\n');
}
