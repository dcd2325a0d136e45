/**
 * A small filesystem of its own, to fill up: tmpfs if this process may mount (root in CI), else
 * an ext4 image on a loop device; null, with the reason, when neither is possible.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Volume {
  path: string;
  kind: 'tmpfs' | 'loop-ext4';
  release(): void;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });

export function smallVolume(mib: number): { volume: Volume } | { why: string } {
  const path = mkdtempSync(join(tmpdir(), 'sluice-vol-'));
  const failures: string[] = [];
  try {
    run('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', path]);
    return { volume: { path, kind: 'tmpfs', release: () => unmount(path) } };
  } catch (e) {
    failures.push(`tmpfs: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
  }
  const image = `${path}.img`;
  try {
    run('truncate', ['-s', `${mib}M`, image]);
    run('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
    run('mount', ['-o', 'loop', image, path]);
    return {
      volume: {
        path,
        kind: 'loop-ext4',
        release: () => {
          unmount(path);
          rmSync(image, { force: true });
        },
      },
    };
  } catch (e) {
    failures.push(`loop ext4: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
    rmSync(image, { force: true });
    rmSync(path, { recursive: true, force: true });
  }
  return { why: `cannot mount a small filesystem here (${failures.join('; ')})` };
}

function unmount(path: string): void {
  try {
    run('umount', [path]);
  } catch {
    run('umount', ['-l', path]); // something still had it open: detach now, free when closed
  }
  rmSync(path, { recursive: true, force: true });
}
