import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, isLoopback, resolveConfig } from '../../engine/config.ts';
import { SluiceError } from '../../engine/errors.ts';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof SluiceError ? e.code : String(e);
  }
  return 'ok';
};

describe('service configuration', () => {
  it('defaults to loopback, port 8080, ./data and bounded bodies and in-flight work', () => {
    const c = resolveConfig({}, {});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8080, dataDir: './data', maxInflight: 64 });
    expect(c.bodyLimitBytes).toBe(DEFAULTS.bodyLimitBytes);
    // per key per minute: far above the e2e bench's ~2,000 requests/s on one key
    expect(c.rateLimit).toBe(300_000);
    expect(resolveConfig({ 'rate-limit': '600' }, {}).rateLimit).toBe(600);
  });

  it('takes flags over SLUICE_* variables over the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cfg-'));
    const file = join(dir, 'sluice.json');
    writeFileSync(file, JSON.stringify({ port: 9001, maxInflight: 7, dataDir: '/srv/file' }));
    const c = resolveConfig(
      { config: file, port: '9003' },
      { SLUICE_PORT: '9002', SLUICE_DATA_DIR: '/srv/env' },
    );
    rmSync(dir, { recursive: true, force: true });
    expect(c.port).toBe(9003);
    expect(c.dataDir).toBe('/srv/env');
    expect(c.maxInflight).toBe(7);
  });

  it('accepts a non-loopback host (the service itself refuses it while no API key exists)', () => {
    expect(resolveConfig({ host: '0.0.0.0' }, {}).host).toBe('0.0.0.0');
    expect(resolveConfig({}, { SLUICE_HOST: '10.0.0.5' }).host).toBe('10.0.0.5');
    expect(isLoopback('127.0.0.2')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('localhost')).toBe(true);
    expect(isLoopback('192.168.1.1')).toBe(false);
  });

  it('rejects malformed and out-of-range settings with CONFIG_INVALID', () => {
    expect(code(() => resolveConfig({ port: '80a' }, {}))).toBe('CONFIG_INVALID');
    expect(code(() => resolveConfig({ port: '70000' }, {}))).toBe('CONFIG_INVALID');
    expect(code(() => resolveConfig({ workers: '0' }, {}))).toBe('CONFIG_INVALID');
    expect(code(() => resolveConfig({ 'body-limit': '10' }, {}))).toBe('CONFIG_INVALID');
    expect(code(() => resolveConfig({ 'log-level': 'loud' }, {}))).toBe('CONFIG_INVALID');
    expect(code(() => resolveConfig({ 'rate-limit': '0' }, {}))).toBe('CONFIG_INVALID');
    expect(code(() => resolveConfig({}, { SLUICE_RATE_LIMIT: '10/min' }))).toBe('CONFIG_INVALID');
    expect(code(() => resolveConfig({ config: '/nonexistent/sluice.json' }, {}))).toBe('CONFIG_INVALID');
  });
});
