/**
 * The audit log: append-only and hash-chained (DESIGN decision 7). Entry n holds the hash of entry
 * n−1, and its own hash covers every field plus that link, so changing, deleting or reordering any
 * single entry breaks the chain at a place `verify` can name.
 *
 * Entries are appended inside the store's write transaction that does the audited thing (a batch
 * commit, a review, an erasure), so the action and its record are durable together or not at all.
 * LMDB serialises writers across threads and processes, so the chain head read here is always the
 * latest one.
 */
import { createHash } from 'node:crypto';
import type { Store } from '../store.ts';

/** Stable action names (the `action` filter of `GET /v1/audit` takes these). Add, never rename. */
export const AUDIT_ACTIONS = [
  'batch.ingest',
  'quarantine.release',
  'quarantine.reject',
  'quarantine.correct',
  'rules.reload',
  'sanctions.reload',
  'subject.erase',
  'pii.read',
  'key.create',
  'key.revoke',
  'retention.purge',
  'audit.checkpoint',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEvent {
  /** The API key id that acted, or `system` (jobs, reloads) or `cli:<user>` (local commands). */
  actor: string;
  action: AuditAction;
  /** What was acted on: a batch id, a tx id, a subject tag, a file path, a key id. */
  target: string;
  outcome: 'ok' | 'denied' | 'failed';
  /** Small, PII-free facts (counts, hashes, versions). Never names, account numbers or IBANs. */
  details?: Record<string, unknown>;
}

export interface AuditEntry extends AuditEvent {
  seq: number;
  /** ISO 8601 UTC, millisecond precision. */
  at: string;
  /** Hex sha-256 of the previous entry (64 zeros for the first). */
  prev: string;
  /** Hex sha-256 of this entry's canonical form (every field but `hash`). */
  hash: string;
}

export const GENESIS = '0'.repeat(64);
/** The `meta` key of the chain head. */
export const HEAD_KEY = 'audit|head';

/** The head as kept in `meta`; `atMs` (the last entry's time) is absent in heads written before it existed. */
interface StoredHead {
  seq: number;
  hash: string;
  atMs?: number;
}

/** JSON with object keys sorted at every depth: one byte string per entry, whatever built it. */
export function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i === 0 ? '' : ',') + canonical(v[i]);
    return `${s}]`;
  }
  const o = v as Record<string, unknown>;
  let s = '{';
  for (const k of Object.keys(o).sort()) {
    const x = o[k];
    if (x === undefined) continue;
    s += `${s.length === 1 ? '' : ','}${JSON.stringify(k)}:${canonical(x)}`;
  }
  return `${s}}`;
}

const str = JSON.stringify;

export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  const { seq, at, prev, actor, action, target, outcome, details } = e;
  // The canonical form with its keys written out in sorted order: `verify` hashes every entry, and
  // this is twice as fast as sorting them. Any field of an unexpected type (a damaged entry) takes
  // the general path, which gives the same bytes for the same values.
  const text =
    typeof seq === 'number' &&
    typeof at === 'string' &&
    typeof prev === 'string' &&
    typeof actor === 'string' &&
    typeof action === 'string' &&
    typeof target === 'string' &&
    typeof outcome === 'string'
      ? `{"action":${str(action)},"actor":${str(actor)},"at":${str(at)},"details":${canonical(details ?? null)},"outcome":${str(outcome)},"prev":${str(prev)},"seq":${str(seq)},"target":${str(target)}}`
      : canonical({ seq, at, prev, actor, action, target, outcome, details: details ?? null });
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Appends one entry. Call it inside a store write transaction (`store.env.transaction` or
 * `transactionSync` callback); returns the new entry.
 */
export function appendAudit(store: Store, e: AuditEvent, now: number = Date.now()): AuditEntry {
  const head = store.meta.get(HEAD_KEY) as StoredHead | undefined;
  const seq = (head?.seq ?? 0) + 1;
  // Never earlier than the entry before: `at` then rises with `seq`, so a time range is a seq
  // range (found by bisection) even if the wall clock steps back between two appends.
  const at = Math.max(now, head?.atMs ?? 0);
  const base = {
    seq,
    at: new Date(at).toISOString(),
    prev: head?.hash ?? GENESIS,
    actor: e.actor,
    action: e.action,
    target: e.target,
    outcome: e.outcome,
    ...(e.details ? { details: e.details } : {}),
  };
  const entry: AuditEntry = { ...base, hash: entryHash(base) };
  store.audit.put(seq, entry);
  store.meta.put(HEAD_KEY, { seq, hash: entry.hash, atMs: at } satisfies StoredHead);
  return entry;
}

/** Appends one entry in its own write transaction. */
export async function recordAudit(store: Store, e: AuditEvent): Promise<AuditEntry> {
  let entry: AuditEntry | undefined;
  await store.env.transaction(() => {
    entry = appendAudit(store, e);
  });
  return entry as AuditEntry;
}

/** The chain head as last committed: `{ seq: 0, hash: GENESIS }` for an empty log. */
export function auditHead(store: Store): { seq: number; hash: string } {
  const head = store.meta.get(HEAD_KEY) as StoredHead | undefined;
  return head ? { seq: head.seq, hash: head.hash } : { seq: 0, hash: GENESIS };
}
