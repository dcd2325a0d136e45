/**
 * What a reviewer's `release` may overrule. Releasing accepts a row as it was sent, so it is only
 * possible where every layer still gets a usable value: the faults must be in what a reviewer can
 * vouch for (optional bank details a stale Vocalink or SWIFT table rejects, a long name or
 * reference, an unknown country) or an event time a skewed clock put in the future (its value is
 * parsed and kept). A fault in any other required field (or in customer_id, which keys a data
 * subject) leaves no value for gold, silver or AML to use: that row must be corrected instead.
 */
import { FIELDS, REASON, REASON_CODES, REQUIRED_FIELDS } from '../codes.ts';
import type { VerdictColumns } from '../kernels.ts';

// customer_id too: it keys a data subject.
const REQUIRED = new Set<string>([...REQUIRED_FIELDS, 'customer_id']);
const DUP = 1 << REASON.DUPLICATE_TX;

/** True when a fault `code` on `field` stops a release. */
export function blocksRelease(field: string, code: string): boolean {
  return REQUIRED.has(field) && !(field === 'ts' && code === 'TIMESTAMP_FUTURE');
}

/** The faults of a quarantine record's `fields` that stop a release (empty: releasable). */
export function releaseBlockers(
  fields: { code: string; field: string }[],
): { code: string; field: string }[] {
  return fields.filter((f) => blocksRelease(f.field, f.code));
}

/**
 * In the worker, for a release batch: clears the reason mask of every row whose faults a release
 * may overrule, so the row is accepted like a valid one. A repeat (DUPLICATE_TX) stays a repeat,
 * and a row with a blocking fault stays quarantined.
 */
export function releaseRows(v: VerdictColumns): void {
  const n = v.mask.length;
  for (let i = 0; i < n; i++) {
    const m = v.mask[i] as number;
    if (m === 0 || m & DUP) continue;
    let blocked = false;
    for (let f = 0; f < FIELDS.length && !blocked; f++) {
      const c = v.fieldCodes[f * n + i] as number;
      if (c === 0) continue;
      blocked = blocksRelease(FIELDS[f] as string, REASON_CODES[c] as string);
    }
    if (!blocked) v.mask[i] = 0;
  }
}
