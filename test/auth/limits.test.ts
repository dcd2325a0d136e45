/**
 * Per-key rate limits: a key over its limit gets 429 RATE_LIMITED with Retry-After while other keys
 * go on; callers without a verified key share their IP's bucket, so guessing secrets is throttled
 * before any scrypt is spent on them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addKey, bearer, get, service, type TestService, tempDir } from '../support/service.ts';

const LIMIT = 5;
const dir = tempDir('sluice-limits-');
let svc: TestService;
let a = '';
let b = '';

beforeAll(async () => {
  a = await addKey(dir.path, ['analyst'], 'a');
  b = await addKey(dir.path, ['analyst'], 'b');
  svc = await service(dir.path, { rateLimit: LIMIT });
});
afterAll(async () => {
  await svc?.close();
  dir.remove();
});

const alerts = (key: string | null) => get(`${svc.url}/v1/alerts?limit=1`, {}, { key });

describe('rate limits', () => {
  it('answer 429 RATE_LIMITED with Retry-After past the limit, per key, and per IP without a key', async () => {
    // A key's first request, before its scrypt verification, counts against the client's IP.
    expect((await alerts(a)).status).toBe(200);
    for (let i = 0; i < LIMIT; i++) expect((await alerts(a)).status, `request ${i + 1}`).toBe(200);
    const over = await alerts(a);
    expect(over.status).toBe(429);
    expect(over.json.error.code).toBe('RATE_LIMITED');
    expect(over.json.error.message).toMatch(/retry in/);
    const wait = Number(over.headers['retry-after']);
    expect(Number.isInteger(wait) && wait >= 1 && wait <= 60, String(over.headers['retry-after'])).toBe(true);

    // another key has its own bucket (its first request is the IP's second)
    expect((await alerts(b)).status).toBe(200);
    expect((await alerts(b)).status).toBe(200);

    // without a key: the IP's bucket, shared by public routes and failed attempts
    for (let i = 0; i < LIMIT - 2; i++)
      expect((await get(`${svc.url}/healthz`, {}, { key: null })).status).toBe(200);
    expect((await get(`${svc.url}/healthz`, {}, { key: null })).status).toBe(429);
    const guess = await get(
      `${svc.url}/v1/alerts`,
      bearer(`${a.slice(0, -1)}${a.endsWith('A') ? 'B' : 'A'}`),
    );
    expect(guess.status).toBe(429);
    // and the throttled key stays throttled, while a verified key is never counted by IP
    expect((await alerts(a)).status).toBe(429);
    expect((await alerts(b)).status).toBe(200);
  });
});
