/**
 * The one AML rules file (`reference/aml-rules.json`): thresholds, windows, weights, the alert
 * threshold, the high-risk country list with its date, and the rate table. It is validated whole
 * against a JSON Schema at load, so a typo is refused with the path of the bad value, and the
 * service keeps the rules it had. Decimal amounts stay text until they become integer pence.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { SluiceError } from '../errors.ts';
import { RULE_NAMES, type RuleName } from './rule-names.ts';

export const DEFAULT_RULES_PATH = fileURLToPath(new URL('../../reference/aml-rules.json', import.meta.url));

const money = { type: 'string', pattern: '^\\d{1,10}(\\.\\d{1,2})?$' };
const seconds = { type: 'integer', minimum: 1, maximum: 31 * 86400 };
const count = { type: 'integer', minimum: 1, maximum: 1_000_000 };
const weight = { type: 'integer', minimum: 0, maximum: 100 };
const rule = (props: Record<string, object>) => ({
  type: 'object',
  additionalProperties: false,
  required: ['weight', ...Object.keys(props)],
  properties: { weight, ...props },
});

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'alert_threshold', 'lateness_seconds', 'rules', 'high_risk_countries', 'rates'],
  properties: {
    $comment: { type: 'string' },
    version: { type: 'string', minLength: 1, maxLength: 64 },
    alert_threshold: { type: 'integer', minimum: 1, maximum: 100 },
    lateness_seconds: { type: 'integer', minimum: 0, maximum: 7 * 86400 },
    rules: {
      type: 'object',
      additionalProperties: false,
      required: [...RULE_NAMES],
      properties: {
        SANCTIONS_MATCH: rule({ min_similarity: { type: 'number', minimum: 0.5, maximum: 1 } }),
        STRUCTURING: rule({
          band_from_gbp: money,
          band_to_gbp: money,
          window_seconds: seconds,
          min_count: count,
        }),
        RAPID_PASS_THROUGH: rule({
          min_credit_gbp: money,
          window_seconds: seconds,
          debit_percent: { type: 'integer', minimum: 1, maximum: 100 },
        }),
        HIGH_RISK_COUNTRY: rule({}),
        VELOCITY_AMOUNT: rule({ window_seconds: seconds, above_gbp: money }),
        VELOCITY_COUNT: rule({ window_seconds: seconds, min_count: count }),
        AMOUNT_ANOMALY: rule({
          min_prior_rows: { type: 'integer', minimum: 2, maximum: 10_000 },
          sigmas: { type: 'number', exclusiveMinimum: 0, maximum: 100 },
        }),
        HIGH_VALUE: rule({ min_gbp: money }),
        ROUND_AMOUNT: rule({ min_gbp: money, multiple_of_major_units: { type: 'integer', minimum: 1 } }),
      },
    },
    high_risk_countries: {
      type: 'object',
      additionalProperties: false,
      required: ['as_of', 'source', 'countries'],
      properties: {
        as_of: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
        source: { type: 'string' },
        countries: { type: 'array', uniqueItems: true, items: { type: 'string', pattern: '^[A-Z]{2}$' } },
      },
    },
    rates: {
      type: 'object',
      additionalProperties: false,
      required: ['as_of', 'gbp_per_unit'],
      properties: {
        as_of: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
        source: { type: 'string' },
        gbp_per_unit: {
          type: 'object',
          propertyNames: { pattern: '^[A-Z]{3}$' },
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['minor_units', 'rate'],
            properties: {
              minor_units: { type: 'integer', minimum: 0, maximum: 4 },
              // At most 14 significant digits: the kernel holds a rate as an exact i64 fraction.
              rate: { type: 'string', pattern: '^\\d{1,6}(\\.\\d{1,8})?$' },
            },
          },
        },
      },
    },
  },
} as const;

interface RuleDoc {
  weight: number;
  [k: string]: string | number;
}

/** The rules file as written (validated). */
export interface RulesDoc {
  version: string;
  alert_threshold: number;
  lateness_seconds: number;
  rules: Record<RuleName, RuleDoc>;
  high_risk_countries: { as_of: string; source: string; countries: string[] };
  rates: {
    as_of: string;
    source?: string;
    gbp_per_unit: Record<string, { minor_units: number; rate: string }>;
  };
}

/** The rules, ready for the kernels. */
export interface AmlRules {
  doc: RulesDoc;
  /** sha-256 of the file's bytes: what the audit log and metrics name. */
  hash: string;
  alertThreshold: number;
  sanctionsThreshold: number;
  /** The kernel's parameter words (wasm/src/aml.rs `Params::from_words`). */
  params: BigInt64Array;
  /** 676 bytes, 1 where the country (A–Z × A–Z) is high risk. */
  highRisk: Uint8Array;
  /** The major-unit multiple for ROUND_AMOUNT. */
  roundMultiple: number;
  weights: readonly number[];
}

let validator: ReturnType<Ajv['compile']> | undefined;

/** Pence from a validated decimal string. */
export function pence(text: string): bigint {
  const [whole, frac = ''] = text.split('.');
  return BigInt(whole as string) * 100n + BigInt(frac.padEnd(2, '0'));
}

/** Validates a parsed rules document and derives the kernel parameters. */
export function compileRules(doc: unknown, hash: string, source = 'rules'): AmlRules {
  validator ??= new Ajv({ allErrors: true, strict: true }).compile(SCHEMA);
  if (!validator(doc)) {
    const detail = (validator.errors ?? [])
      .slice(0, 5)
      .map(
        (e) =>
          `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${e.params.additionalProperty})` : ''}`,
      )
      .join('; ');
    throw new SluiceError('RULES_INVALID', `${source}: ${detail}`);
  }
  const d = doc as RulesDoc;
  const r = d.rules;
  const ms = (s: string | number) => BigInt(s) * 1000n;
  const gbp = (v: string | number) => pence(String(v));
  if (gbp(r.STRUCTURING.band_from_gbp as string) >= gbp(r.STRUCTURING.band_to_gbp as string)) {
    throw new SluiceError(
      'RULES_INVALID',
      `${source}: /rules/STRUCTURING band_from_gbp must be below band_to_gbp`,
    );
  }
  if (!d.rates.gbp_per_unit.GBP)
    throw new SluiceError('RULES_INVALID', `${source}: /rates/gbp_per_unit has no GBP`);
  const weights = RULE_NAMES.map((n) => r[n].weight);
  const sigmas = new Float64Array([Number(r.AMOUNT_ANOMALY.sigmas)]);
  const words = [
    ...weights.map((w) => BigInt(w)),
    ms(r.VELOCITY_COUNT.window_seconds as number),
    BigInt(r.VELOCITY_COUNT.min_count as number),
    gbp(r.VELOCITY_AMOUNT.above_gbp as string),
    gbp(r.STRUCTURING.band_from_gbp as string),
    gbp(r.STRUCTURING.band_to_gbp as string),
    ms(r.STRUCTURING.window_seconds as number),
    BigInt(r.STRUCTURING.min_count as number),
    ms(r.RAPID_PASS_THROUGH.window_seconds as number),
    gbp(r.RAPID_PASS_THROUGH.min_credit_gbp as string),
    BigInt(r.RAPID_PASS_THROUGH.debit_percent as number),
    BigInt(r.AMOUNT_ANOMALY.min_prior_rows as number),
    new BigInt64Array(sigmas.buffer)[0] as bigint,
    gbp(r.HIGH_VALUE.min_gbp as string),
    gbp(r.ROUND_AMOUNT.min_gbp as string),
    ms(d.lateness_seconds),
  ];
  // The velocity window is one parameter in the kernel; both velocity rules must agree on it.
  if (r.VELOCITY_AMOUNT.window_seconds !== r.VELOCITY_COUNT.window_seconds) {
    throw new SluiceError(
      'RULES_INVALID',
      `${source}: VELOCITY_AMOUNT and VELOCITY_COUNT must share one window_seconds`,
    );
  }
  const highRisk = new Uint8Array(676);
  for (const c of d.high_risk_countries.countries)
    highRisk[(c.charCodeAt(0) - 65) * 26 + c.charCodeAt(1) - 65] = 1;
  return {
    doc: d,
    hash,
    alertThreshold: d.alert_threshold,
    sanctionsThreshold: Number(r.SANCTIONS_MATCH.min_similarity),
    params: BigInt64Array.from(words),
    highRisk,
    roundMultiple: Number(r.ROUND_AMOUNT.multiple_of_major_units),
    weights,
  };
}

export function parseRules(bytes: Uint8Array, source = 'rules'): AmlRules {
  const hash = createHash('sha256').update(bytes).digest('hex');
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new SluiceError('RULES_INVALID', `${source}: not JSON: ${(e as Error).message}`);
  }
  return compileRules(doc, hash, source);
}

export function loadRules(path = DEFAULT_RULES_PATH): AmlRules {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SluiceError('RULES_INVALID', `cannot read the rules file ${path}: ${(e as Error).message}`);
  }
  return parseRules(bytes, path);
}
