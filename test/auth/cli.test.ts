/**
 * `sluice keys create|list|revoke`: the key alone on stdout and nowhere at rest, the listing without
 * hashes, exit codes, and keys created or revoked by the CLI taking effect in a running service.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sluice } from '../support/cli.ts';
import { get, service, tempDir } from '../support/service.ts';

const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});
function dataDir(): string {
  const d = tempDir('sluice-keys-cli-');
  dirs.push(d);
  return d.path;
}

const KEY = /^sluice_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

describe('sluice keys', () => {
  it('create prints the key alone on stdout, and the data dir holds its id but never its secret', async () => {
    const dir = dataDir();
    const r = await sluice([
      'keys',
      'create',
      '--role',
      'ingest',
      '--role',
      'pii,analyst',
      '--label',
      'core feed',
      '--data-dir',
      dir,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.endsWith('\n')).toBe(true);
    const key = r.stdout.slice(0, -1);
    const m = KEY.exec(key);
    expect(m, r.stdout).not.toBeNull();
    const [, id, secret] = m as RegExpExecArray;
    const lmdb = readFileSync(join(dir, 'lmdb', 'data.mdb'));
    expect(lmdb.includes(Buffer.from(id as string))).toBe(true); // the right file: the record is there
    expect(lmdb.includes(Buffer.from(secret as string))).toBe(false);
    expect(lmdb.includes(Buffer.from((secret as string).slice(0, 16)))).toBe(false);
  });

  it('list shows id, roles, label, created and revoked, and no hash; revoke marks the key', async () => {
    const dir = dataDir();
    const created = await sluice([
      'keys',
      'create',
      '--role',
      'auditor',
      '--label',
      'audit team',
      '--data-dir',
      dir,
    ]);
    const id = KEY.exec(created.stdout.trim())?.[1] as string;
    const other = await sluice(['keys', 'create', '--role', 'admin', '--data-dir', dir]);
    expect(other.code).toBe(0);

    const list = await sluice(['keys', 'list', '--json', '--data-dir', dir]);
    expect(list.code, list.stderr).toBe(0);
    const keys = JSON.parse(list.stdout) as Record<string, unknown>[];
    expect(keys).toHaveLength(2);
    expect(keys.find((k) => k.id === id)).toEqual({
      id,
      roles: ['auditor'],
      label: 'audit team',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      created_by: 'cli',
      revoked_at: null,
      revoked_by: null,
    });

    const table = await sluice(['keys', 'list', '--data-dir', dir]);
    expect(table.stdout.split('\n')[0]).toMatch(/^id\s+roles\s+label\s+created\s+revoked$/);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+auditor\\s+audit team\\s+\\d{4}-`, 'm'));
    expect(table.stdout).not.toMatch(/scrypt|hash|salt/);

    const revoked = await sluice(['keys', 'revoke', id, '--data-dir', dir]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toBe('');
    const after = JSON.parse((await sluice(['keys', 'list', '--json', '--data-dir', dir])).stdout) as {
      id: string;
      revoked_at: string | null;
    }[];
    expect(after.find((k) => k.id === id)?.revoked_at).toMatch(/^\d{4}-/);
    expect(after.filter((k) => k.revoked_at === null)).toHaveLength(1);
  });

  it('exits 2 on bad usage and 1 for an unknown key id', async () => {
    const dir = dataDir();
    const usage = [
      ['keys'],
      ['keys', 'frob'],
      ['keys', 'create'],
      ['keys', 'create', '--role', 'root'],
      ['keys', 'create', '--role', 'ingest,'],
      ['keys', 'create', '--role', 'ingest', '--label', ''],
      ['keys', 'revoke'],
      ['keys', 'revoke', 'not-an-id'],
      ['keys', 'list', '--role', 'ingest'],
    ];
    for (const args of usage)
      expect((await sluice([...args, '--data-dir', dir])).code, args.join(' ')).toBe(2);
    const unknown = await sluice(['keys', 'revoke', '0123456789ab', '--data-dir', dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('NOT_FOUND');
  });

  it('creates and revokes keys a running service honours from the next request', async () => {
    const dir = dataDir();
    const svc = await service(dir);
    try {
      const created = await sluice(['keys', 'create', '--role', 'analyst', '--data-dir', dir]);
      const key = created.stdout.trim();
      const url = `${svc.url}/v1/alerts?limit=1`;
      expect((await get(url, {}, { key })).status).toBe(200);
      const id = KEY.exec(key)?.[1] as string;
      expect((await sluice(['keys', 'revoke', id, '--data-dir', dir])).code).toBe(0);
      const r = await get(url, {}, { key });
      expect(r.status).toBe(401);
      expect(r.json.error.code).toBe('UNAUTHENTICATED');
      // the service's own key is untouched
      expect((await get(url)).status).toBe(200);
    } finally {
      await svc.close();
    }
  });
});
