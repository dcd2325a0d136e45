/**
 * A full or failing data volume, as LMDB and the file system report it, and what Sluice makes of
 * it: a write that could not be made durable is refused with 507 INSUFFICIENT_STORAGE (with
 * Retry-After), never acknowledged, and the process keeps running, so it takes writes again by
 * itself once space returns.
 */
import { SluiceError } from './errors.ts';

/**
 * Error codes that mean "the volume cannot take this write": no space, quota, file too large,
 * and EIO, which is what LMDB reports when a page write comes back short as the volume fills up.
 * lmdb-js gives errno numbers; node:fs gives the names.
 */
const FULL_NAMES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EIO']);
const FULL_ERRNOS = new Set([28, 122, 27, 5, -30792 /* MDB_MAP_FULL: the map could not grow */]);

/** Whether an error (already unwrapped, see `storageCause`) means the volume is full or failing. */
export function isStorageFull(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return FULL_NAMES.has(code);
  if (typeof code === 'number') return FULL_ERRNOS.has(code);
  return false;
}

/**
 * The real cause of a failed LMDB commit. lmdb-js rejects a write with a generic "Commit failed"
 * error and puts the cause in a promise on it (`commitError`); anything else is its own cause.
 */
export async function storageCause(err: unknown): Promise<unknown> {
  const inner = (err as { commitError?: unknown } | null)?.commitError;
  if (!inner || typeof (inner as Promise<unknown>).then !== 'function') return err;
  try {
    await inner;
    return err;
  } catch (cause) {
    return cause;
  }
}

/** `INSUFFICIENT_STORAGE` when `err` is a full or failing volume, else null (the caller rethrows). */
export async function storageFault(err: unknown): Promise<SluiceError | null> {
  const cause = await storageCause(err);
  if (!isStorageFull(cause)) return null;
  const c = cause as { code?: unknown; message?: unknown };
  return new SluiceError('INSUFFICIENT_STORAGE', undefined, {
    cause: String(c.code),
    detail: String(c.message),
  });
}

/** For `.catch` on a write: rethrows a full volume as INSUFFICIENT_STORAGE, anything else as it was. */
export async function rethrowStorageFault(err: unknown): Promise<never> {
  throw (await storageFault(err)) ?? err;
}

/**
 * lmdb-js 3.x (kriszyp/lmdb-js#368): when a commit fails it also rejects two promises that no
 * caller can hold: one for its internal write batch ("Commit failed (see commitError for
 * details)") and the `commitError` promise itself (stamped with a `reject` function). The caller's
 * own write or transaction is rejected as well and handled there, so these two are noise; but
 * under Node's default they are unhandled rejections, which kill the thread (a pool worker, an AML
 * shard) or the whole process on the first full disk.
 */
function isLmdbOrphan(reason: unknown, promise: Promise<unknown>): boolean {
  if (reason instanceof Error && 'commitError' in reason && reason.message.startsWith('Commit failed')) {
    return true;
  }
  return typeof (promise as unknown as { reject?: unknown }).reject === 'function';
}

let guarded = false;

/**
 * Swallows lmdb-js's orphan commit rejections in this thread (call once per thread that writes:
 * the Store does). Every other unhandled rejection behaves as before: it is thrown, unless another
 * listener (a test runner) is there to report it.
 */
export function guardLmdbCommitOrphans(): void {
  if (guarded) return;
  guarded = true;
  process.on('unhandledRejection', (reason, promise) => {
    if (isLmdbOrphan(reason, promise)) return;
    if (process.listenerCount('unhandledRejection') === 1) throw reason;
  });
}
