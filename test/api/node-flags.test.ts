import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS } from '../../api/node-flags.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

describe('the node flags the service is started with', () => {
  it('are the same in npm start, the sluice shebang, the Docker entrypoint and the e2e bench', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start;
    const shebang = read('bin/sluice.js').split('\n')[0] as string;
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
    expect(SERVICE_NODE_FLAGS.length).toBeGreaterThan(0);
    for (const flag of SERVICE_NODE_FLAGS) {
      expect(start?.split(' ')).toContain(flag);
      expect(shebang.split(' ')).toContain(flag);
      expect(JSON.parse(entrypoint ?? '[]')).toContain(flag);
    }
    // The bench's child process takes them from the module, not a copy.
    expect(read('bench/e2e.ts')).toMatch(/\[\.\.\.SERVICE_NODE_FLAGS, \.\.\.process\.execArgv/);
  });
});
