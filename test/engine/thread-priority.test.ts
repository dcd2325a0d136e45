/**
 * Background threads lower their own CPU priority (engine/thread-priority.ts) and no one else's:
 * the request threads keep theirs. (The test lowers its own thread: vitest runs each file in a
 * process of its own, so nothing else runs slower for it.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BACKGROUND_NICE, lowerThisThread } from '../../engine/thread-priority.ts';

/** A thread's nice value, from /proc (field 19 of its stat line). */
const niceOf = (stat: string) =>
  Number(
    readFileSync(stat, 'utf8')
      .replace(/^.*\) /s, '')
      .split(' ')[16],
  );

describe.runIf(process.platform === 'linux')('lowerThisThread', () => {
  it('sets the calling thread to the background nice value and leaves the other threads alone', () => {
    const self = readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0];
    const others = readdirSync('/proc/self/task').filter((t) => t !== self);
    expect(others.length).toBeGreaterThan(0); // libuv's and V8's threads at least
    const before = others.map((t) => niceOf(`/proc/self/task/${t}/stat`));
    expect(niceOf('/proc/thread-self/stat')).not.toBe(BACKGROUND_NICE);

    expect(lowerThisThread()).toBe(true);
    expect(niceOf('/proc/thread-self/stat')).toBe(BACKGROUND_NICE);
    expect(others.map((t) => niceOf(`/proc/self/task/${t}/stat`))).toEqual(before);
  });
});
