/**
 * The audit log over HTTP (CONTRACT §3, role `auditor`): `GET /v1/audit` reads entries, in seq
 * order, filtered and paged; `GET /v1/audit/verify` recomputes the whole hash chain.
 */
import type { FastifyInstance } from 'fastify';
import { AUDIT_ACTIONS } from '../../engine/audit/log.ts';
import { type AuditQuery, MAX_AUDIT_PAGE, queryAudit } from '../../engine/audit/query.ts';
import { verifyAudit } from '../../engine/audit/verify.ts';
import type { Store } from '../../engine/store.ts';

const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' };

const entrySchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    at: { type: 'string', format: 'date-time' },
    actor: { type: 'string' },
    action: { type: 'string' },
    target: { type: 'string' },
    outcome: { type: 'string', enum: ['ok', 'denied', 'failed'] },
    details: { type: 'object', additionalProperties: true },
    prev: hex64,
    hash: hex64,
  },
};

const headSchema = { type: 'object', properties: { seq: { type: 'integer' }, hash: { type: 'string' } } };

export async function auditRoutes(app: FastifyInstance, opts: { store: Store }): Promise<void> {
  const { store } = opts;

  app.get(
    '/v1/audit',
    {
      config: { role: 'auditor' },
      schema: {
        summary: 'Audit entries in seq order; filter by time, action, actor, target; page with cursor',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
            action: { type: 'string', enum: [...AUDIT_ACTIONS] },
            actor: { type: 'string', maxLength: 200 },
            target: { type: 'string', maxLength: 200 },
            limit: { type: 'integer', minimum: 1, maximum: MAX_AUDIT_PAGE },
            cursor: { type: 'string', pattern: '^[0-9]{1,10}$' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              entries: { type: 'array', items: entrySchema },
              next: { type: ['string', 'null'] },
            },
          },
        },
      },
    },
    async (req) => queryAudit(store, req.query as AuditQuery),
  );

  app.get(
    '/v1/audit/verify',
    {
      config: { role: 'auditor' },
      schema: {
        summary: 'Recompute the whole audit hash chain; names the first bad entry and why',
        response: {
          200: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              entries: { type: 'integer' },
              head: headSchema,
              checkpoint: {
                type: 'object',
                properties: { seq: { type: 'integer' }, hash: { type: 'string' }, at: { type: 'string' } },
              },
              firstBad: {
                type: 'object',
                properties: {
                  seq: { type: 'integer' },
                  reason: {
                    type: 'string',
                    enum: [
                      'hash_mismatch',
                      'prev_mismatch',
                      'seq_gap',
                      'head_mismatch',
                      'checkpoint_mismatch',
                    ],
                  },
                },
              },
            },
          },
        },
      },
    },
    async () => verifyAudit(store),
  );
}
