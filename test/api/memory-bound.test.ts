/**
 * The memory bound (`--max-rss-mb`): above it, admission sheds new batches and validations with
 * 503 MEMORY_PRESSURE and Retry-After, reads still answer, nothing is stored, and admission opens
 * again once memory is back under the bound. Plus the queue bound (`--max-queued`) and the new
 * transport settings, validated at the edge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS, defaultMaxRssMb, resolveConfig } from '../../engine/config.ts';
import { isSluiceError, SluiceError } from '../../engine/errors.ts';
import { FORMATS } from '../../engine/formats/index.ts';
import { anonRssBytes, MemoryGuard } from '../../engine/memory-guard.ts';
import { Pipeline } from '../../engine/pipeline.ts';
import { Store } from '../../engine/store.ts';
import { get, post, service, type TestService, tempDir } from '../support/service.ts';

const ROW = {
  tx_id: 'M-1',
  ts: '2026-11-26T10:00:00Z',
  amount: '12.50',
  currency: 'GBP',
  direction: 'debit',
  channel: 'FPS',
  account_id: 'ACC-M-1',
};
const body = JSON.stringify([ROW]);

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return isSluiceError(e) ? e.code : String(e);
  }
};

describe('MemoryGuard', () => {
  it('reads anonymous resident memory from /proc, a share of total RSS', () => {
    const anon = anonRssBytes();
    expect(anon).toBeGreaterThan(16 * 2 ** 20);
    expect(anon).toBeLessThanOrEqual(process.memoryUsage.rss());
  });

  it('is over while the sample is above the bound, and re-reads at most every everyMs', () => {
    let mem = 500;
    let reads = 0;
    let now = 0;
    const sample = () => {
      reads++;
      return mem;
    };
    const g = new MemoryGuard(1000, { sample, everyMs: 100, now: () => now });
    expect(g.over).toBe(false);
    mem = 2000;
    now = 50;
    expect(g.over).toBe(false); // the last read is 50 ms old: not read again
    expect(reads).toBe(1);
    now = 100;
    expect(g.over).toBe(true);
    mem = 1000; // at the bound is not above it
    now = 200;
    expect(g.over).toBe(false);
    expect(reads).toBe(3);
  });
});

describe('admission honours the memory bound', () => {
  const dir = tempDir();
  let store: Store;
  let pipeline: Pipeline;
  let mem = 0;
  beforeAll(() => {
    store = new Store({ dataDir: dir.path });
    pipeline = new Pipeline(store, {
      workers: 1,
      memory: new MemoryGuard(100 * 2 ** 20, { sample: () => mem, everyMs: 0 }),
    });
  });
  afterAll(async () => {
    await pipeline.drain();
    await store.close();
    dir.remove();
  });

  it('sheds with MEMORY_PRESSURE above the bound and admits again once under it', async () => {
    mem = 101 * 2 ** 20;
    expect(pipeline.shedCode(10)).toBe('MEMORY_PRESSURE');
    expect(await codeOf(pipeline.validate(Buffer.from(body), 'json'))).toBe('MEMORY_PRESSURE');
    expect(
      await codeOf(pipeline.ingest({ body: Buffer.from(body), format: 'json', contentType: FORMATS.json })),
    ).toBe('MEMORY_PRESSURE');
    expect(store.batches.getCount()).toBe(0);
    expect(pipeline.load.inflight).toBe(0);
    expect(new SluiceError('MEMORY_PRESSURE').status).toBe(503);

    mem = 99 * 2 ** 20;
    expect(pipeline.shedCode(10)).toBeNull();
    expect(await pipeline.validate(Buffer.from(body), 'json')).toHaveLength(1);
    const out = await pipeline.ingest({ body: Buffer.from(body), format: 'json', contentType: FORMATS.json });
    expect(out.status).toBe(201);
  });

  it('sheds bodies for the pool with OVERLOADED when the queue is full, but not bodies run inline', async () => {
    const p = new Pipeline(store, { workers: 1, maxQueued: 1, inlineBytes: 1024 });
    try {
      const spy = p.pool as unknown as { queueSize: number };
      Object.defineProperty(spy, 'queueSize', { value: 1, configurable: true });
      expect(p.shedCode(4096)).toBe('OVERLOADED');
      expect(p.shedCode()).toBe('OVERLOADED'); // length unknown (chunked): assume it is for the pool
      expect(p.shedCode(512)).toBeNull();
      Object.defineProperty(spy, 'queueSize', { value: 0, configurable: true });
      expect(p.shedCode(4096)).toBeNull();
    } finally {
      await p.drain();
    }
  });
});

describe('a service above its memory bound', () => {
  const dir = tempDir();
  let svc: TestService;
  beforeAll(async () => {
    // 64 MiB: any Node process with the kernels and a worker pool is above it
    svc = await service(dir.path, { maxRssMb: 64 });
  });
  afterAll(async () => {
    await svc?.close();
    dir.remove();
  });

  it('answers batches and validations 503 MEMORY_PRESSURE with Retry-After, and stores nothing', async () => {
    for (const path of ['/v1/batches', '/v1/validate']) {
      const r = await post(`${svc.url}${path}`, body, FORMATS.json);
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.json.error.code).toBe('MEMORY_PRESSURE');
    }
    const kpis = await get(`${svc.url}/v1/reports/daily-kpis`);
    expect(kpis.status).toBe(200);
    expect(kpis.json.rows).toEqual([]);
  });

  it('says why it is not ready, and stays alive', async () => {
    const ready = await get(`${svc.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.json.reason).toBe('memory above its bound');
    expect(ready.headers['retry-after']).toBe('1');
    expect((await get(`${svc.url}/healthz`)).status).toBe(200);
  });
});

describe('configuration', () => {
  it('bounds memory by default at three quarters of what the process may use, at most 4 GiB', () => {
    expect(DEFAULTS.maxRssMb).toBe(defaultMaxRssMb());
    expect(DEFAULTS.maxRssMb).toBeLessThanOrEqual(4096);
    expect(DEFAULTS.maxRssMb).toBeGreaterThanOrEqual(64);
    expect(resolveConfig({ 'max-rss-mb': '1024' }, {}).maxRssMb).toBe(1024);
    expect(resolveConfig({}, { SLUICE_MAX_RSS_MB: '2048' }).maxRssMb).toBe(2048);
    expect(resolveConfig({ 'max-queued': '4' }, {}).maxQueued).toBe(4);
  });

  it('takes the connection timeouts, and refuses ones Node would not', () => {
    const c = resolveConfig(
      {
        'headers-timeout-ms': '1500',
        'request-timeout-ms': '3000',
        'connection-timeout-ms': '2000',
        'keep-alive-timeout-ms': '1000',
      },
      {},
    );
    expect(c).toMatchObject({
      headersTimeoutMs: 1500,
      requestTimeoutMs: 3000,
      connectionTimeoutMs: 2000,
      keepAliveTimeoutMs: 1000,
    });
    const code = (flags: Record<string, string>) => {
      try {
        resolveConfig(flags, {});
        return 'ok';
      } catch (e) {
        return isSluiceError(e) ? e.code : String(e);
      }
    };
    expect(code({ 'max-rss-mb': '32' })).toBe('CONFIG_INVALID');
    expect(code({ 'max-queued': '0' })).toBe('CONFIG_INVALID');
    expect(code({ 'headers-timeout-ms': '50' })).toBe('CONFIG_INVALID');
    // the headers are part of the request: their deadline cannot be the later one
    expect(code({ 'headers-timeout-ms': '20000', 'request-timeout-ms': '10000' })).toBe('CONFIG_INVALID');
  });
});
