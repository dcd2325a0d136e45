/** A real Sluice service on loopback, on an ephemeral port and a fresh data dir. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Dispatcher, request } from 'undici';
import { type RunningService, type StartOptions, startService } from '../../api/service.ts';

export function tempDir(prefix = 'sluice-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function service(dataDir: string, opts: StartOptions = {}): Promise<RunningService> {
  return startService({ port: 0, dataDir, workers: 1, quiet: true, ...opts });
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: replies are asserted field by field in the tests
  json: any;
  text: string;
}

export async function post(
  url: string,
  body: Uint8Array | string,
  contentType: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return readReply(
    await request(url, { method: 'POST', body, headers: { 'content-type': contentType, ...headers } }),
  );
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return readReply(await request(url, { headers }));
}

async function readReply(res: Dispatcher.ResponseData): Promise<Reply> {
  const text = await res.body.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (a CSV report, metrics)
  }
  return { status: res.statusCode, headers: res.headers, json, text };
}

/** A free loopback port (for a service or server started in another process). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `sluice serve` in a child process (to kill or signal it); resolves once it is serving. */
export async function spawnService(
  dataDir: string,
  extraArgs: string[] = [],
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      'bin/sluice.js',
      'serve',
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--workers',
      '1',
      '--log-level',
      'silent',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('serving on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`service exited ${code}: ${err}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}
