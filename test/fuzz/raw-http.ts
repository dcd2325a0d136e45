/**
 * HTTP/1.1 over a bare socket, for requests no well-behaved client would send: any method, any
 * bytes in the request line and headers, lying or missing lengths, chunked bodies with bad chunk
 * sizes, and bytes trickled or stalled on a timer. Replies are read until the server closes the
 * connection (every request here says `Connection: close`, or the server cuts it off).
 */
import { connect, type Socket } from 'node:net';

export interface RawReply {
  /** 0 when the connection closed without a complete status line. */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The whole reply as received. */
  raw: Buffer;
  /** How the connection ended: closed by the server (`end`), reset, or by our own deadline. */
  ended: 'end' | 'reset' | 'deadline';
  ms: number;
}

function decodeChunked(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = Number.parseInt(b.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(b.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** Parses the first reply in `raw` (a server answers one request per connection here). */
export function parseReply(all: Buffer, ended: RawReply['ended'], ms: number): RawReply {
  // skip interim replies (100 Continue)
  let raw = all;
  while (/^HTTP\/1\.[01] 1\d\d /.test(raw.subarray(0, 13).toString('latin1'))) {
    const end = raw.indexOf('\r\n\r\n');
    if (end < 0) break;
    raw = raw.subarray(end + 4);
  }
  const head = raw.indexOf('\r\n\r\n');
  if (head < 0) return { status: 0, headers: {}, body: Buffer.alloc(0), raw, ended, ms };
  const lines = raw.subarray(0, head).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = raw.subarray(head + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = decodeChunked(body);
  else if (headers['content-length'] !== undefined)
    body = body.subarray(0, Number(headers['content-length']));
  return { status, headers, body, raw: all, ended, ms };
}

export interface RawOptions {
  /** Give up (and destroy the socket) after this long; the reply then ends `deadline`. */
  deadlineMs?: number;
}

/** Opens a connection and writes `parts` in order, awaiting each (a function part may stall). */
export function rawExchange(
  port: number,
  parts: (Uint8Array | string | ((s: Socket) => Promise<void>))[],
  opts: RawOptions = {},
): Promise<RawReply> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1' });
    let done = false;
    const finish = (ended: RawReply['ended']) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseReply(Buffer.concat(chunks), ended, performance.now() - t0));
    };
    const timer = setTimeout(() => finish('deadline'), opts.deadlineMs ?? 30_000);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => finish('end'));
    socket.on('close', () => finish('end'));
    // A reset after the server has answered (it refused the body before we finished sending) is
    // the normal end of an early refusal: the reply read so far is what counts.
    socket.on('error', () => finish('reset'));
    socket.once('connect', async () => {
      try {
        for (const p of parts) {
          if (done || socket.destroyed) return;
          if (typeof p === 'function') await p(socket);
          else if (!socket.write(p)) await new Promise((r) => socket.once('drain', r));
        }
      } catch {
        // the server closed on us mid-write; the reply (if any) arrives or the close ends it
      }
    });
  });
}

export interface RawRequest {
  method: string;
  target: string;
  headers?: [string, string | Uint8Array][];
  body?: Uint8Array | string;
  /** Send the body with `Transfer-Encoding: chunked`, in chunks of these sizes (cycled). */
  chunked?: number[];
  /** Content-Length to declare, if not the body's length (`null`: send none). */
  contentLength?: number | string | null;
}

/** The request's bytes: request line, headers (raw bytes allowed), `Connection: close`, body. */
export function requestBytes(r: RawRequest): Buffer {
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
  const head: Buffer[] = [Buffer.from(`${r.method} ${r.target} HTTP/1.1\r\nHost: 127.0.0.1\r\n`, 'latin1')];
  for (const [k, v] of r.headers ?? []) {
    head.push(Buffer.from(`${k}: `, 'latin1'), Buffer.from(v), Buffer.from('\r\n'));
  }
  head.push(Buffer.from('Connection: close\r\n'));
  let payload = body;
  if (r.chunked) {
    head.push(Buffer.from('Transfer-Encoding: chunked\r\n'));
    const parts: Buffer[] = [];
    let at = 0;
    for (let k = 0; at < body.length; k++) {
      const n = Math.max(1, r.chunked[k % r.chunked.length] as number);
      const piece = body.subarray(at, at + n);
      parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
      at += n;
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    payload = Buffer.concat(parts);
  }
  const cl = r.contentLength === undefined ? (r.chunked ? null : body.length) : r.contentLength;
  if (cl !== null) head.push(Buffer.from(`Content-Length: ${cl}\r\n`));
  head.push(Buffer.from('\r\n'));
  return Buffer.concat([...head, payload]);
}

/** One request on its own connection; the reply once the server closes it. */
export function rawRequest(port: number, r: RawRequest, opts: RawOptions = {}): Promise<RawReply> {
  return rawExchange(port, [requestBytes(r)], opts);
}
