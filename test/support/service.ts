/**
 * A real Sluice service on loopback, on an ephemeral port and a fresh data dir.
 *
 * Every service started here gets an API key with all five roles, created in its data dir before it
 * starts; `post` and `get` send the key of the service their URL points at, unless told otherwise
 * (`{ key: other }`, or `{ key: null }` for none; an `authorization` header given wins).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Dispatcher, request } from 'undici';
import { type RunningService, type StartOptions, startService } from '../../api/service.ts';
import { createKeyIn } from '../../engine/auth/keys.ts';
import { ROLES, type Role } from '../../engine/auth/roles.ts';

export function tempDir(prefix = 'sluice-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The key `post` and `get` send to each service's origin by default. */
const keysByOrigin = new Map<string, string>();

/** Creates a key in a data dir (the service there may be running or not); returns it. */
export function addKey(dataDir: string, roles: readonly Role[] = ROLES, label = 'test'): Promise<string> {
  return createKeyIn(dataDir, { roles, label, actor: 'cli' });
}

/** `{ authorization: 'Bearer <key>' }`. */
export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

export interface TestService extends RunningService {
  /** A key with every role, which `post` and `get` send by default. */
  key: string;
}

export async function service(dataDir: string, opts: StartOptions = {}): Promise<TestService> {
  const key = await addKey(dataDir);
  const svc = await startService({ port: 0, dataDir, workers: 1, quiet: true, ...opts });
  keysByOrigin.set(new URL(svc.url).origin, key);
  return Object.assign(svc, { key });
}

/** Which key a request sends: `undefined` the service's default, `null` none. */
export interface KeyChoice {
  key?: string | null;
}

function withKey(url: string, headers: Record<string, string>, choice: KeyChoice): Record<string, string> {
  if (Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) return headers;
  const key = choice.key === undefined ? keysByOrigin.get(new URL(url).origin) : choice.key;
  return key ? { ...headers, ...bearer(key) } : headers;
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
  choice: KeyChoice = {},
): Promise<Reply> {
  return readReply(
    await request(url, {
      method: 'POST',
      body,
      headers: withKey(url, { 'content-type': contentType, ...headers }, choice),
    }),
  );
}

export async function get(
  url: string,
  headers: Record<string, string> = {},
  choice: KeyChoice = {},
): Promise<Reply> {
  return readReply(await request(url, { headers: withKey(url, headers, choice) }));
}

/** Any method, for routes `post` and `get` do not reach (DELETE, HEAD). */
export async function send(
  method: Dispatcher.HttpMethod,
  url: string,
  opts: { body?: string | Uint8Array; headers?: Record<string, string> } & KeyChoice = {},
): Promise<Reply> {
  const headers = withKey(url, opts.headers ?? {}, opts);
  return readReply(
    await request(url, { method, headers, ...(opts.body === undefined ? {} : { body: opts.body }) }),
  );
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

/**
 * `sluice serve` in a child process (to kill or signal it); resolves once it is serving. Its data
 * dir gets an all-roles key first (so the service prints no local admin key).
 */
export async function spawnService(
  dataDir: string,
  extraArgs: string[] = [],
): Promise<{ url: string; child: ChildProcess; key: string }> {
  const key = await addKey(dataDir);
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
  const url = `http://127.0.0.1:${port}`;
  keysByOrigin.set(url, key);
  return { url, child, key };
}
