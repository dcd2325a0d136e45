/**
 * Maps every failure to CONTRACT §3's `{"error": {"code", "message"}}` with a stable code from
 * engine/errors.ts. Fastify's own errors (body limit, media type) are translated here once.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isSluiceError, SluiceError } from '../engine/errors.ts';
import { isStorageFull } from '../engine/storage-faults.ts';

const FASTIFY_CODES: Record<string, SluiceError['code']> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'CONTENT_TYPE_UNSUPPORTED',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BODY_EMPTY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BODY_UNPARSEABLE',
  FST_ERR_VALIDATION: 'BAD_REQUEST',
};

/** Seconds a client should wait before retrying an overloaded or draining service. */
export const RETRY_AFTER_SECONDS = 1;

export function toSluiceError(err: unknown): SluiceError | null {
  if (isSluiceError(err)) return err;
  const e = err as FastifyError;
  const mapped = e?.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return new SluiceError(mapped, mapped === 'BAD_REQUEST' ? e.message : undefined);
  if (e?.statusCode === 415) return new SluiceError('CONTENT_TYPE_UNSUPPORTED');
  if (e?.statusCode === 413) return new SluiceError('BODY_TOO_LARGE');
  // Any other request Fastify itself refuses as malformed (a QUERY without a Content-Type, say).
  if (e?.statusCode === 400 && e.code?.startsWith('FST_')) return new SluiceError('BAD_REQUEST', e.message);
  // A file write that hit a full volume (a key file, say) on the way to a commit: nothing was stored.
  if (isStorageFull(err)) return new SluiceError('INSUFFICIENT_STORAGE');
  return null;
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const e = toSluiceError(err);
  if (!e) {
    req.log.error({ err }, 'unhandled error');
    void reply.code(500).send(new SluiceError('INTERNAL').toJSON());
    return;
  }
  // A rate limit has already said how long its window has left; keep that.
  if ((e.status === 429 || e.status === 503 || e.status === 507) && !reply.hasHeader('retry-after')) {
    void reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
  }
  void reply.code(e.status).send(e.toJSON());
}
