/**
 * The quarantine review over HTTP (CONTRACT §3, role `analyst`): `GET /v1/quarantine` is the
 * review queue; `POST /v1/quarantine/{tx_id}/resolve` releases, rejects or corrects a row. Replies
 * are shaped by `quarantineView` alone (where the PII layer masks values). No rule lives here.
 */
import type { FastifyInstance } from 'fastify';
import { REASON_CODES } from '../../engine/codes.ts';
import { isSluiceError } from '../../engine/errors.ts';
import type { Pipeline } from '../../engine/pipeline.ts';
import { MAX_QUARANTINE_PAGE, type QuarantineQuery, queryQuarantine } from '../../engine/review/query.ts';
import { QUARANTINE_STATUSES, RESOLVE_ACTIONS, type ResolveAction } from '../../engine/review/record.ts';
import { resolveQuarantined } from '../../engine/review/resolve.ts';
import { CORRECTABLE_FIELDS } from '../../engine/review/row.ts';
import { ensureTxIndex } from '../../engine/review/tx-index.ts';
import { quarantineViews } from '../../engine/review/view.ts';
import type { Store } from '../../engine/store.ts';
import { errorHandler } from '../errors.ts';

const REASONS = REASON_CODES.filter((c) => c !== 'OK' && c !== 'DUPLICATE_TX');
const text = { type: ['string', 'null'] };
const fieldCode = {
  type: 'object',
  properties: { code: { type: 'string' }, field: { type: 'string' } },
};

/** A record as replies show it: the sealed form of personal fields never goes out. */
const recordSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    batch_id: { type: 'string' },
    row: { type: 'integer' },
    tx_id: text,
    status: { type: 'string', enum: [...QUARANTINE_STATUSES] },
    received_at: { type: 'string', format: 'date-time' },
    reasons: { type: 'array', items: { type: 'string' } },
    fields: { type: 'array', items: fieldCode },
    values: { type: 'object', additionalProperties: text },
    resolution: {
      type: 'object',
      properties: {
        action: { type: 'string', enum: [...RESOLVE_ACTIONS] },
        by: { type: 'string' },
        note: { type: 'string' },
        at: { type: 'string', format: 'date-time' },
        new_batch_id: { type: 'string' },
        changed_fields: { type: 'array', items: { type: 'string' } },
      },
    },
  },
};

/** The one error shape, plus what a refused correction or release needs to be fixed. */
const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        reasons: { type: 'array', items: { type: 'string' } },
        fields: { type: 'array', items: fieldCode },
        batch_ids: { type: 'array', items: { type: 'string' } },
      },
    },
  },
};

export async function quarantineRoutes(app: FastifyInstance, opts: { store: Store; pipeline: Pipeline }) {
  const { store, pipeline } = opts;
  await ensureTxIndex(store);

  // Refusals carry their detail (the reasons a correction still fails, the batches to choose from).
  app.setErrorHandler((err, req, reply) => {
    if (isSluiceError(err) && err.detail) {
      void reply.code(err.status).send({ error: { ...err.toJSON().error, ...err.detail } });
      return;
    }
    errorHandler(err, req, reply);
  });

  app.get(
    '/v1/quarantine',
    {
      config: { role: 'analyst' },
      schema: {
        summary:
          'Quarantined rows in id order; filter by batch, tx_id, status, reason, received time; page with cursor',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            batch_id: { type: 'string', maxLength: 64 },
            tx_id: { type: 'string', minLength: 1, maxLength: 256 },
            status: { type: 'string', enum: [...QUARANTINE_STATUSES] },
            reason: { type: 'string', enum: REASONS },
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_QUARANTINE_PAGE },
            cursor: { type: 'string', maxLength: 400 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              records: { type: 'array', items: recordSchema },
              next: { type: ['string', 'null'] },
            },
          },
          '4xx': errorSchema,
        },
      },
    },
    async (req) => {
      const page = queryQuarantine(store, req.query as QuarantineQuery);
      return { records: await quarantineViews(store, page.records, req.principal), next: page.next };
    },
  );

  app.post(
    '/v1/quarantine/:tx_id/resolve',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Release, reject or correct (re-validated) a quarantined row, with a note; audited',
        params: {
          type: 'object',
          properties: { tx_id: { type: 'string', minLength: 1, maxLength: 256 } },
          required: ['tx_id'],
        },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['action', 'note'],
          properties: {
            action: { type: 'string', enum: [...RESOLVE_ACTIONS] },
            note: { type: 'string', minLength: 1, maxLength: 2000 },
            batch_id: { type: 'string', maxLength: 64 },
            fields: {
              type: 'object',
              additionalProperties: false,
              properties: Object.fromEntries(
                CORRECTABLE_FIELDS.map((f) => [f, { ...text, maxLength: 1000 }]),
              ),
            },
          },
        },
        response: { 200: recordSchema, '4xx': errorSchema },
      },
    },
    async (req) => {
      const { tx_id } = req.params as { tx_id: string };
      const body = req.body as {
        action: ResolveAction;
        note: string;
        batch_id?: string;
        fields?: Record<string, string | null>;
      };
      const record = await resolveQuarantined(store, pipeline, req.principal, {
        txId: tx_id,
        action: body.action,
        note: body.note,
        batchId: body.batch_id,
        fields: body.fields,
        client: req.ip,
      });
      // Ids and the action only: never values, names or the note (free text may hold personal data).
      req.log.info(
        { quarantine_id: record.id, action: body.action, new_batch_id: record.resolution?.new_batch_id },
        'quarantine resolved',
      );
      return (await quarantineViews(store, [record], req.principal))[0];
    },
  );
}
