/**
 * `sluice serve` as a child process the chaos tests can kill at any moment, even before it is
 * serving (during recovery), and start again on the same port and data dir.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Launched {
  child: ChildProcess;
  url: string;
  /** Resolves once it prints that it is serving; rejects if it exits first. */
  ready: Promise<void>;
  /** Resolves when the process has ended, with its exit code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last 64 KiB of its stderr (for failure messages). */
  stderr(): string;
}

export interface LaunchOptions {
  dataDir: string;
  port: number;
  args?: string[];
  env?: Record<string, string>;
}

/** Children still running when a test ends are killed by `killAll`. */
const running = new Set<ChildProcess>();

export function launch(opts: LaunchOptions): Launched {
  const child = spawn(
    process.execPath,
    [
      'bin/sluice.js',
      'serve',
      '--port',
      String(opts.port),
      '--data-dir',
      opts.dataDir,
      '--workers',
      '1',
      '--log-level',
      'silent',
      ...(opts.args ?? []),
    ],
    { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  running.add(child);
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-65_536);
      if (err.includes('serving on')) resolve();
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`service exited (${code ?? signal}) before serving: ${err}`)),
    );
  });
  ready.catch(() => undefined); // a kill during startup is often the point
  return { child, url: `http://127.0.0.1:${opts.port}`, ready, exited, stderr: () => err };
}

/** SIGKILL: no drain, no flush, no cleanup; resolves once the process is gone. */
export async function kill9(p: Launched): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exited;
}

/** SIGTERM: the graceful path; resolves with the exit code. */
export async function terminate(p: Launched): Promise<number | null> {
  p.child.kill('SIGTERM');
  return (await p.exited).code;
}

export function killAll(): void {
  for (const c of running) c.kill('SIGKILL');
}

/** `sluice ARGS…` to completion (a job run, say), with extra environment; its exit code or signal. */
export function runSluice(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/sluice.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
