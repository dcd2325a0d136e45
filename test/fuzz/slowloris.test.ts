/**
 * Slowloris: clients that send their headers a byte a second, bodies that stall or trickle, and
 * keep-alive connections left idle. The service (a child process, so its sockets and memory can be
 * counted from /proc) runs with small timeouts; it must cut every such client off within them,
 * answer other clients normally meanwhile, and end with no more sockets and little more memory
 * than it started with.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS } from '../../engine/formats/index.ts';
import { get, post, spawnService, tempDir } from '../support/service.ts';
import { type RawReply, rawExchange } from './raw-http.ts';

const HEADERS_MS = 1_500;
const REQUEST_MS = 3_000;
const IDLE_MS = 2_000;
const KEEP_ALIVE_MS = 1_000;
/** Node closes an idle keep-alive socket a second after the timeout it announces (a client's grace). */
const KEEP_ALIVE_GRACE_MS = 1_000;
/** Node checks the deadlines every quarter of the shorter one (api/transport.ts), plus scheduling. */
const SLACK_MS = HEADERS_MS / 4 + 1_000;

const dir = tempDir('sluice-slowloris-');
let url = '';
let port = 0;
let key = '';
let child: ChildProcess;

beforeAll(async () => {
  const s = await spawnService(dir.path, [
    '--headers-timeout-ms',
    String(HEADERS_MS),
    '--request-timeout-ms',
    String(REQUEST_MS),
    '--connection-timeout-ms',
    String(IDLE_MS),
    '--keep-alive-timeout-ms',
    String(KEEP_ALIVE_MS),
  ]);
  ({ url, child, key } = s);
  port = Number(new URL(url).port);
}, 60_000);
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  dir.remove();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The service's open sockets (listening, connected, and its internal ones). */
function socketCount(): number {
  const fds = readdirSync(`/proc/${child.pid}/fd`);
  let n = 0;
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${child.pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

function anonRssMiB(): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/** Writes `bytes` one at a time, `everyMs` apart, until the socket closes. */
const trickle =
  (bytes: string, everyMs: number) =>
  async (s: Socket): Promise<void> => {
    for (const ch of bytes) {
      if (s.destroyed || !s.writable) return;
      s.write(ch);
      await sleep(everyMs);
    }
  };

/** Stays silent until the socket closes. */
const stall = async (s: Socket): Promise<void> => {
  await new Promise((r) => s.once('close', r));
};

function expectTimeoutReply(rep: RawReply): void {
  expect(rep.status).toBe(408);
  expect(JSON.parse(rep.body.toString()).error.code).toBe('REQUEST_TIMEOUT');
}

const SLOW_HEADERS = `GET /v1/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer KEY\r\nX-Padding: ${'p'.repeat(200)}\r\n\r\n`;

describe('slowloris', () => {
  it('cuts off clients sending headers a byte a second at the headers timeout, with 408 REQUEST_TIMEOUT', async () => {
    const attackers = Array.from({ length: 20 }, () =>
      rawExchange(port, [trickle(SLOW_HEADERS.replace('KEY', key), 1_000)], { deadlineMs: 20_000 }),
    );
    const replies = await Promise.all(attackers);
    for (const rep of replies) {
      expect(rep.ended).not.toBe('deadline');
      expectTimeoutReply(rep);
      expect(rep.ms).toBeLessThan(HEADERS_MS + SLACK_MS);
    }
  }, 30_000);

  it('cuts off a body that stalls (idle timeout) and one that trickles (request timeout)', async () => {
    const head = (len: number) =>
      `POST /v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n` +
      `Content-Type: ${FORMATS.json}\r\nContent-Length: ${len}\r\n\r\n`;
    const [stalled, trickled] = await Promise.all([
      rawExchange(port, [head(100_000), `[{"tx_id":"S1"`, stall], { deadlineMs: 20_000 }),
      rawExchange(port, [head(100_000), trickle(' '.repeat(100), 400)], { deadlineMs: 20_000 }),
    ]);
    // the stalled one is silent past the idle timeout: the socket is closed, nothing to answer
    expect(stalled.ended).not.toBe('deadline');
    expect(stalled.ms).toBeLessThan(IDLE_MS + SLACK_MS);
    // the trickling one is never idle long enough; the request deadline ends it, with a 408
    expect(trickled.ended).not.toBe('deadline');
    expectTimeoutReply(trickled);
    expect(trickled.ms).toBeGreaterThanOrEqual(REQUEST_MS - 100);
    expect(trickled.ms).toBeLessThan(REQUEST_MS + SLACK_MS);
  }, 30_000);

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const rep = await rawExchange(port, [`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, stall], {
      deadlineMs: 20_000,
    });
    expect(rep.status).toBe(200);
    expect(rep.ended).not.toBe('deadline');
    expect(rep.headers['keep-alive']).toBe(`timeout=${KEEP_ALIVE_MS / 1000}`);
    expect(rep.ms).toBeLessThan(KEEP_ALIVE_MS + KEEP_ALIVE_GRACE_MS + SLACK_MS);
  }, 30_000);

  it('serves other clients during an attack, and keeps no sockets or memory after it', async () => {
    const sockets0 = socketCount();
    const rss0 = anonRssMiB();
    const body = JSON.stringify([
      {
        tx_id: 'SL-OK-1',
        ts: new Date(Date.now() - 60_000).toISOString(),
        amount: '10.00',
        currency: 'GBP',
        direction: 'credit',
        channel: 'FPS',
        account_id: 'ACC-SL-1',
      },
    ]);
    for (let wave = 0; wave < 3; wave++) {
      const attack = [
        ...Array.from({ length: 60 }, () =>
          rawExchange(port, [trickle(SLOW_HEADERS.replace('KEY', key), 500)], { deadlineMs: 20_000 }),
        ),
        ...Array.from({ length: 30 }, () =>
          rawExchange(
            port,
            [
              `POST /v1/validate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: ${FORMATS.json}\r\nContent-Length: 50000\r\n\r\n[`,
              stall,
            ],
            { deadlineMs: 20_000 },
          ),
        ),
      ];
      await sleep(300);
      // the attack holds 90 sockets; a normal client is answered at once all the same
      expect(socketCount()).toBeGreaterThan(sockets0 + 50);
      const t0 = performance.now();
      const ok = await post(`${url}/v1/validate`, body, FORMATS.json);
      expect(ok.status).toBe(200);
      expect(ok.json.results).toHaveLength(1);
      expect((await get(`${url}/healthz`)).status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(1_000);
      const replies = await Promise.all(attack);
      for (const r of replies) expect(r.ended).not.toBe('deadline');
    }
    const ingest = await post(`${url}/v1/batches`, body, FORMATS.json);
    expect(ingest.status).toBe(201);
    // every attack socket is gone (the test's own keep-alive sockets close within the keep-alive timeout)
    await sleep(KEEP_ALIVE_MS + KEEP_ALIVE_GRACE_MS + SLACK_MS);
    expect(socketCount()).toBeLessThanOrEqual(sockets0);
    expect(anonRssMiB() - rss0).toBeLessThan(64);
  }, 90_000);
});
