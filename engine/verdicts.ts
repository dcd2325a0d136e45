/**
 * CONTRACT §4 verdict lines, written straight from the verdict columns (one string per batch,
 * not an object per row).
 */
import { reasonsOf } from './codes.ts';
import type { BatchVerdicts } from './validator.ts';

/** AML result of a row. Until scoring lands every row scores 0 with no rules. */
export interface AmlResult {
  score: number;
  rules: readonly string[];
}

const NO_AML = '{"score":0,"rules":[]}';

export function verdictLine(v: BatchVerdicts, i: number, aml?: AmlResult): string {
  const mask = v.mask[i] as number;
  const id = v.txIds[i];
  const reasons = mask === 0 ? '[]' : JSON.stringify(reasonsOf(mask));
  const amlJson = aml ? JSON.stringify({ score: aml.score, rules: aml.rules }) : NO_AML;
  return `{"tx_id":${id === null || id === undefined ? 'null' : JSON.stringify(id)},"status":"${
    mask === 0 ? 'valid' : 'invalid'
  }","reasons":${reasons},"aml":${amlJson}}`;
}

/** All of a batch's verdicts as NDJSON. */
export function verdictNdjson(v: BatchVerdicts): string {
  let out = '';
  for (let i = 0; i < v.numRows; i++) out += `${verdictLine(v, i)}\n`;
  return out;
}
