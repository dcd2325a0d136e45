/**
 * The quarantine record as the `quarantine` db holds it ("batch_id:row" → record): the row's
 * reasons, per-field codes and original values as written at commit (engine/commit.ts), and, once
 * a reviewer has acted, the resolution.
 */
import type { Store } from '../store.ts';
import type { QuarantineRow } from '../worker.ts';

export const QUARANTINE_STATUSES = ['open', 'released', 'rejected', 'corrected'] as const;
export type QuarantineStatus = (typeof QUARANTINE_STATUSES)[number];

export const RESOLVE_ACTIONS = ['release', 'reject', 'correct'] as const;
export type ResolveAction = (typeof RESOLVE_ACTIONS)[number];

/** The status each action leaves a record in. */
export const STATUS_AFTER: Record<ResolveAction, QuarantineStatus> = {
  release: 'released',
  reject: 'rejected',
  correct: 'corrected',
};

export interface Resolution {
  action: ResolveAction;
  /** The reviewer's API key id. */
  by: string;
  note: string;
  /** ISO 8601 UTC. */
  at: string;
  /** The one-row internal batch that accepted the row (release, correct). */
  new_batch_id?: string;
  /** Names of the fields a correction changed (never their values). */
  changed_fields?: string[];
}

export interface QuarantineRecord extends QuarantineRow {
  id: string;
  batch_id: string;
  status: QuarantineStatus;
  /** When the batch holding the row was received, ISO 8601 UTC. */
  received_at: string;
  resolution?: Resolution;
}

export function getRecord(store: Store, id: string): QuarantineRecord | undefined {
  return store.quarantine.get(id) as QuarantineRecord | undefined;
}
