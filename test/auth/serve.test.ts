/**
 * `sluice serve` and keys: beyond loopback it refuses to start (exit 2) until an unrevoked key
 * exists; on loopback at a terminal, a data dir that never had a key gets one local admin key,
 * printed once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { sluice } from '../support/cli.ts';
import { freePort, get, tempDir } from '../support/service.ts';

const dirs: { remove(): void }[] = [];
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) d.remove();
});
function dataDir(): string {
  const d = tempDir('sluice-serve-keys-');
  dirs.push(d);
  return d.path;
}

interface Served {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `sluice serve`; resolves once it serves (then stops it with SIGTERM) or exits. */
async function serve(dir: string, host: string): Promise<Served> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      'bin/sluice.js',
      'serve',
      '--host',
      host,
      '--port',
      String(port),
      '--data-dir',
      dir,
      '--workers',
      '1',
      '--log-level',
      'silent',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const serving = await new Promise<boolean>((resolve) => {
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('serving on')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  if (serving) child.kill('SIGTERM');
  const code = await exited;
  children.delete(child);
  return { code, stdout, stderr };
}

describe('sluice serve and keys', () => {
  it('refuses a non-loopback host with exit 2 while no unrevoked key exists, and serves once one does', async () => {
    const dir = dataDir();
    const none = await serve(dir, '0.0.0.0');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/refusing to listen on 0\.0\.0\.0: no unrevoked API key/);
    expect(none.stderr).toContain('sluice keys create');
    expect(none.stdout).toBe(''); // and no local key beyond loopback

    const created = await sluice(['keys', 'create', '--role', 'ingest', '--data-dir', dir]);
    const id = /^sluice_([0-9a-f]{12})_/.exec(created.stdout)?.[1] as string;
    expect((await sluice(['keys', 'revoke', id, '--data-dir', dir])).code).toBe(0);
    const revoked = await serve(dir, '0.0.0.0');
    expect(revoked.code).toBe(2);

    expect((await sluice(['keys', 'create', '--role', 'ingest', '--data-dir', dir])).code).toBe(0);
    const ok = await serve(dir, '0.0.0.0');
    expect(ok.stderr).toContain('serving on http://0.0.0.0:');
    expect(ok.code).toBe(0);
  });

  it('creates and prints one local admin key at a terminal the first time, and never again', async () => {
    const dir = dataDir();
    const port = await freePort();
    // `script` gives the service a terminal, as `npm start` has one.
    const cmd = [process.execPath, 'bin/sluice.js', 'serve', '--port', String(port), '--data-dir', dir]
      .concat(['--workers', '1', '--log-level', 'silent'])
      .map((a) => `'${a}'`)
      .join(' ');
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let tty = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        tty += d.toString();
        if (tty.includes('serving on')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${tty}`)));
    });
    const key =
      /^Created a local admin key \(shown once\): (sluice_[0-9a-f]{12}_[A-Za-z0-9_-]{43})\r?$/m.exec(
        tty,
      )?.[1];
    expect(key, tty).toBeDefined();
    expect(tty).not.toMatch(/unauthenticated|dev mode|no API key exists/i);
    const url = `http://127.0.0.1:${port}`;
    // admin reaches analyst and auditor routes
    expect((await get(`${url}/v1/alerts?limit=1`, {}, { key: key as string })).status).toBe(200);
    expect((await get(`${url}/v1/audit/verify`, {}, { key: key as string })).status).toBe(200);
    expect((await get(`${url}/v1/alerts?limit=1`, {}, { key: null })).status).toBe(401);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    children.delete(child);

    const list = JSON.parse((await sluice(['keys', 'list', '--json', '--data-dir', dir])).stdout) as object[];
    expect(list).toEqual([
      expect.objectContaining({ roles: ['admin'], label: 'local admin', created_by: 'system' }),
    ]);

    const again = await serve(dir, '127.0.0.1');
    expect(again.stderr).toContain('serving on');
    expect(again.stdout).toBe('');
  });

  it('creates no key when its output is not a terminal (a log stream), and says how to make one', async () => {
    const dir = dataDir();
    const r = await serve(dir, '127.0.0.1');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no API key exists yet.*sluice keys create/);
    expect(JSON.parse((await sluice(['keys', 'list', '--json', '--data-dir', dir])).stdout)).toEqual([]);
  });
});
