/**
 * AML rule names (CONTRACT §6), by number: a rule's number is its bit in a row's rule mask, in
 * the kernels (`wasm/src/aml.rs`) as here. Ordered as the contract lists them, heaviest first, so
 * a mask reads out in that order. Append only.
 */
export const RULE_NAMES = [
  'SANCTIONS_MATCH',
  'STRUCTURING',
  'RAPID_PASS_THROUGH',
  'HIGH_RISK_COUNTRY',
  'VELOCITY_AMOUNT',
  'VELOCITY_COUNT',
  'AMOUNT_ANOMALY',
  'HIGH_VALUE',
  'ROUND_AMOUNT',
] as const;

export type RuleName = (typeof RULE_NAMES)[number];

export const RULE: { readonly [K in RuleName]: number } = Object.fromEntries(
  RULE_NAMES.map((n, i) => [n, i]),
) as { [K in RuleName]: number };

/** The names of the rules set in `mask`, in contract order. */
export function rulesOf(mask: number): RuleName[] {
  const out: RuleName[] = [];
  for (let b = 0; b < RULE_NAMES.length; b++) if (mask & (1 << b)) out.push(RULE_NAMES[b] as RuleName);
  return out;
}
