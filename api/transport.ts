/**
 * What happens before any route runs: connection timeouts (slowloris: headers or bodies trickled
 * or stalled), and the replies Node and Fastify send on their own (malformed HTTP, oversized
 * headers, bad URLs, unknown routes, an `Expect` they cannot meet), all in CONTRACT §3's
 * `{"error": {"code", "message"}}` with a code from engine/errors.ts instead of their own shapes.
 */
import type { Server as HttpServer, ServerOptions as HttpServerOptions } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, SluiceError } from '../engine/errors.ts';
import { errorHandler } from './errors.ts';

export interface TransportOptions {
  /** All headers must have arrived within this (ms). */
  headersTimeoutMs: number;
  /** The whole request, body included, within this. */
  requestTimeoutMs: number;
  /** A connection silent for this long is closed. */
  connectionTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
}

/**
 * Node checks the headers and request deadlines on a timer, every 30 s by default, so a 10 s
 * deadline could hold a socket for 40; a quarter of the shorter deadline (at most 1 s) keeps the
 * cut-off within a quarter of the deadline late.
 */
export function checkingIntervalMs(t: TransportOptions): number {
  return Math.max(25, Math.min(1000, Math.floor(Math.min(t.headersTimeoutMs, t.requestTimeoutMs) / 4)));
}

/** A reply written straight to the socket (no request object exists yet), then the socket closed. */
function rawErrorReply(code: ErrorCode, message?: string): string {
  const e = new SluiceError(code, message);
  const body = JSON.stringify(e.toJSON());
  return (
    `HTTP/1.1 ${e.status} ${statusText(e.status)}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
};
const statusText = (s: number) => STATUS_TEXT[s] ?? 'Error';

/**
 * Node's 'clientError': HTTP it cannot parse, headers over its limit, a request past its deadline.
 * Answers once, if nothing has been sent on the connection yet, then closes it.
 */
function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? 'REQUEST_TIMEOUT'
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? 'HEADERS_TOO_LARGE'
        : 'BAD_REQUEST';
  this.log.debug({ code: err.code }, 'client error');
  const pending = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !pending?.headersSent) {
    socket.write(
      rawErrorReply(code, code === 'BAD_REQUEST' ? 'The request is not valid HTTP/1.1.' : undefined),
    );
  }
  socket.destroy();
}

/** Errors Fastify's router raises before a route is found. */
function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_BAD_URL') {
    errorHandler(
      new SluiceError('BAD_REQUEST', 'The URL is not valid (malformed percent-encoding).'),
      req,
      reply,
    );
  } else if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    errorHandler(new SluiceError('URI_TOO_LONG'), req, reply);
  } else {
    errorHandler(err, req, reply);
  }
}

/** The Fastify constructor options for the transport. */
export function transportOptions(t: TransportOptions) {
  const http: HttpServerOptions = {
    headersTimeout: t.headersTimeoutMs,
    requestTimeout: t.requestTimeoutMs,
    connectionsCheckingInterval: checkingIntervalMs(t),
  };
  return {
    http,
    requestTimeout: t.requestTimeoutMs,
    connectionTimeout: t.connectionTimeoutMs,
    keepAliveTimeout: t.keepAliveTimeoutMs,
    clientErrorHandler,
    frameworkErrors,
  };
}

/** The replies Fastify and Node would otherwise send in their own shapes. */
export function installTransportReplies(app: FastifyInstance): void {
  // The path is not echoed: it may hold an identifier (a customer id, say).
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send(new SluiceError('NOT_FOUND', 'No route for this method and path.').toJSON());
  });
  // CONNECT (a proxy tunnel) is nothing Sluice offers; Node would close the socket without a word.
  app.server.on('connect', (_req, socket: Socket) => {
    socket.end(rawErrorReply('BAD_REQUEST', 'CONNECT (a proxy tunnel) is not supported.'));
  });
  // Node answers any Expect but 100-continue with a bare 417; this is the same answer, with a body.
  app.server.on('checkExpectation', (_req, res) => {
    const e = new SluiceError('EXPECTATION_FAILED');
    const body = JSON.stringify(e.toJSON());
    res.writeHead(417, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    res.end(body);
  });
}

/**
 * Shutdown in two steps, so no request is lost to a closing socket. `stopAccepting` closes the
 * listener but leaves open connections be; while the pipeline drains every reply says
 * `Connection: close` (api/server.ts), so each open connection ends after its next reply and its
 * client reconnects, and is refused. Node's own `server.close()` also closes idle keep-alive
 * connections at once, and a client that was writing its next request on one at that instant
 * lost it to a socket error, neither served nor refused (test/api/shutdown.test.ts, about one
 * shutdown in six on a slow day). `closeConnections` then ends what is left, once in-flight work
 * is done. Resolves when the listener is closed and every connection has ended.
 */
export function stopAccepting(server: HttpServer): Promise<void> {
  const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  // net.Server's close: stop listening, keep the sockets (http.Server's would close idle ones).
  NetServer.prototype.close.call(server);
  return closed;
}

/**
 * Ends the connections `stopAccepting` left open: idle ones at once, busy ones when their reply is
 * done or at `deadlineMs`. Resolves when every one is closed.
 */
export async function closeConnections(
  server: HttpServer,
  closed: Promise<void>,
  deadlineMs: number,
): Promise<void> {
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, deadlineMs);
    timer.unref();
  });
  await Promise.race([closed, late]);
  clearTimeout(timer);
}
