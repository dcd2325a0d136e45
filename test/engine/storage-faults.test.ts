/**
 * How a full or failing volume is recognised (engine/storage-faults.ts), and the guard that keeps
 * lmdb-js's orphan commit rejections from killing a thread. The real thing, a full tmpfs under a
 * running service, is test/chaos/storage.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isStorageFull, storageCause, storageFault } from '../../engine/storage-faults.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What lmdb-js rejects a write with when its commit fails: the cause sits in a promise. */
function commitFailed(cause: unknown): Error {
  const inner = Promise.reject(cause);
  inner.catch(() => undefined);
  return Object.assign(new Error('Commit failed (see commitError for details)'), { commitError: inner });
}

describe('storage faults', () => {
  it('takes no space, quota, too large, EIO (a short LMDB write) and a full map for a full volume, by name or errno', () => {
    for (const code of ['ENOSPC', 'EDQUOT', 'EFBIG', 'EIO', 28, 122, 27, 5, -30792]) {
      expect(isStorageFull({ code }), String(code)).toBe(true);
    }
    for (const code of ['ENOENT', 'EACCES', 2, 13, -30798, undefined]) {
      expect(isStorageFull({ code }), String(code)).toBe(false);
    }
    expect(isStorageFull(null)).toBe(false);
  });

  it('unwraps an lmdb-js commit failure to its cause', async () => {
    const cause = Object.assign(new Error('No space left on device'), { code: 28 });
    expect(await storageCause(commitFailed(cause))).toBe(cause);
    const plain = new Error('plain');
    expect(await storageCause(plain)).toBe(plain);
  });

  it('turns a failed commit on a full volume into INSUFFICIENT_STORAGE (507), anything else into null', async () => {
    const full = await storageFault(commitFailed(Object.assign(new Error('I/O'), { code: 5 })));
    expect(full?.code).toBe('INSUFFICIENT_STORAGE');
    expect(full?.status).toBe(507);
    expect(await storageFault(commitFailed(Object.assign(new Error('x'), { code: -30798 })))).toBeNull();
    expect(await storageFault(new Error('a bug'))).toBeNull();
  });

  it('swallows the orphan rejections lmdb-js leaves behind, and still dies of any other', () => {
    const script = `
      import { guardLmdbCommitOrphans } from './engine/storage-faults.ts';
      guardLmdbCommitOrphans();
      const orphan = Object.assign(new Error('Commit failed (see commitError for details)'), { commitError: Promise.resolve() });
      Promise.reject(orphan);
      const stamped = Promise.reject(Object.assign(new Error('No space'), { code: 28 }));
      stamped.reject = () => undefined;
      setTimeout(() => { console.log('alive'); Promise.reject(new Error('a real bug')); }, 20);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.stdout).toContain('alive');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('a real bug');
  });
});
