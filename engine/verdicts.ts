/**
 * CONTRACT §4 verdict lines, written straight from the verdict columns (one string per batch,
 * not an object per row).
 */
import { rulesOf } from './aml/rule-names.ts';
import { reasonsOf } from './codes.ts';
import type { BatchVerdicts } from './validator.ts';

/** AML results of a batch, as columns: score and rule mask per row. */
export interface AmlColumns {
  score: Uint8Array;
  rules: Uint16Array;
}

const NO_AML = '{"score":0,"rules":[]}';

export function verdictLine(v: BatchVerdicts, i: number, aml?: AmlColumns): string {
  const mask = v.mask[i] as number;
  const id = v.txIds[i];
  const reasons = mask === 0 ? '[]' : JSON.stringify(reasonsOf(mask));
  const r = aml ? (aml.rules[i] as number) : 0;
  const amlJson = aml
    ? `{"score":${aml.score[i] as number},"rules":${r === 0 ? '[]' : JSON.stringify(rulesOf(r))}}`
    : NO_AML;
  return `{"tx_id":${id === null || id === undefined ? 'null' : JSON.stringify(id)},"status":"${
    mask === 0 ? 'valid' : 'invalid'
  }","reasons":${reasons},"aml":${amlJson}}`;
}

/** All of a batch's verdicts as NDJSON. */
export function verdictNdjson(v: BatchVerdicts, aml?: AmlColumns): string {
  let out = '';
  for (let i = 0; i < v.numRows; i++) out += `${verdictLine(v, i, aml)}\n`;
  return out;
}
