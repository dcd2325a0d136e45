/**
 * The HTTP face of Sluice (CONTRACT §3). Fastify with a small core: raw-body parsers for the five
 * formats, schema-first routes, one error handler. No business rule lives here: every route calls
 * the engine.
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { type AlertQuery, MAX_ALERT_PAGE, queryAlerts } from '../engine/aml/alert-queries.ts';
import { RULE_NAMES } from '../engine/aml/rule-names.ts';
import { DEFAULTS } from '../engine/config.ts';
import { SluiceError } from '../engine/errors.ts';
import { FORMATS, formatOfContentType } from '../engine/formats/index.ts';
import { batchLineage } from '../engine/lineage.ts';
import type { Pipeline } from '../engine/pipeline.ts';
import { REPORT_COLUMNS, REPORT_NAMES, type ReportName, report, toCsv } from '../engine/reports.ts';
import { DEFAULT_RETENTION, type RetentionPolicy } from '../engine/retention.ts';
import type { Store } from '../engine/store.ts';
import { installAuth } from './auth.ts';
import { errorHandler } from './errors.ts';
import type { Metrics } from './metrics.ts';
import { auditRoutes } from './routes/audit.ts';
import { lineageRoutes } from './routes/lineage.ts';
import { quarantineRoutes } from './routes/quarantine.ts';
import { subjectRoutes } from './routes/subjects.ts';
import { installTransportReplies, type TransportOptions, transportOptions } from './transport.ts';

export interface ServerOptions {
  bodyLimit: number;
  logLevel?: string;
  /** Extra readiness checks (the silver roller, say). */
  ready?: () => string | null;
  /** Requests per minute per API key (per IP without one). */
  rateLimitPerMinute: number;
  /** Retention per layer (the erasure reply says when bronze's last copy goes). */
  retention?: RetentionPolicy;
  /** Connection timeouts (api/transport.ts); the configuration defaults without it. */
  transport?: TransportOptions;
}

export interface ServerDeps {
  pipeline: Pipeline;
  store: Store;
  metrics: Metrics;
}

const errorSchema = {
  type: 'object',
  properties: {
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
};

const batchReplySchema = {
  type: 'object',
  properties: {
    batch_id: { type: 'string' },
    status: { type: 'string', enum: ['completed'] },
    received: { type: 'integer' },
    accepted: { type: 'integer' },
    quarantined: { type: 'integer' },
    duplicates: { type: 'integer' },
    reasons: { type: 'object', additionalProperties: { type: 'integer' } },
    alerts: { type: 'integer' },
    aml_pending: {
      type: 'boolean',
      description:
        'present (true) when the reply did not wait for AML scoring to finish: the batch is durable, and its alerts appear in GET /v1/alerts once scored',
    },
    quality: {
      type: 'object',
      properties: {
        completeness: { type: 'number' },
        validity: { type: 'number' },
        uniqueness: { type: 'number' },
        timeliness_ms: { type: ['number', 'null'] },
      },
    },
  },
};

/** Reads and drops a request body, stopping past `limit` bytes. */
async function discard(body: AsyncIterable<unknown>, limit: number): Promise<void> {
  let seen = 0;
  for await (const chunk of body) {
    seen += (chunk as Buffer).length;
    if (seen > limit) return;
  }
}

export async function buildServer(deps: ServerDeps, opts: ServerOptions): Promise<FastifyInstance> {
  const { pipeline, store, metrics } = deps;
  const app = Fastify({
    logger: { level: opts.logLevel ?? 'info' },
    bodyLimit: opts.bodyLimit,
    requestIdHeader: 'x-request-id',
    // One log line per batch (below) instead of two per request: at 20k requests/s the default
    // request logging would cost more than the work.
    logController: new LogController({ disableRequestLogging: true }),
    // Slow or stalled clients are cut off rather than holding a socket and memory forever.
    ...transportOptions(opts.transport ?? DEFAULTS),
    // While closing, requests on open connections reach the routes, where the draining pipeline
    // answers 503 SHUTTING_DOWN with Retry-After in the one error shape (not Fastify's own body).
    return503OnClosing: false,
  });
  app.setErrorHandler(errorHandler);
  installTransportReplies(app);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Sluice',
        version: '0.1.0',
        description: 'Transaction validation and AML-scoring pipeline.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key: sluice_<id>_<secret>' },
        },
      },
    },
  });

  // Before any route: every route registered from here on must declare its role.
  await installAuth(app, { store, rateLimitPerMinute: opts.rateLimitPerMinute });

  // Shutting down, every reply ends its connection (api/transport.ts `stopAccepting`), replies to
  // requests that were already in flight included: a keep-alive reply to one of those let its
  // client write the next request on the socket just as the drain ended and closed it.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (pipeline.isDraining) void reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requestSeconds.observe(
      { route, method: req.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  // Batch bodies stay raw buffers: the engine parses them (off the main thread) into Arrow.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    for (const type of Object.values(FORMATS)) {
      scope.addContentTypeParser(
        type,
        { parseAs: 'buffer', bodyLimit: opts.bodyLimit },
        (_req, body, done) => {
          done(null, body);
        },
      );
    }
    // Shed before a byte of the body is read: a request refused anyway costs no buffering, and
    // bodies cannot pile up in memory ahead of admission (the body is drained, not kept).
    scope.addHook('preParsing', async (req) => {
      const length = Number(req.headers['content-length']);
      const shed = pipeline.shedCode(Number.isFinite(length) ? length : undefined);
      // Shutting down, the server closes each connection after its reply, and closing a socket
      // with unread body bytes sends a reset, which cannot tell the client its request was
      // refused. So that refusal reads the body first (up to the body limit) and is a clean 503.
      if (shed === 'SHUTTING_DOWN') await discard(req.raw, opts.bodyLimit);
      if (shed) throw new SluiceError(shed);
    });
    const bodyOf = (req: { body: unknown; headers: Record<string, unknown> }) => {
      const format = formatOfContentType(req.headers['content-type'] as string | undefined);
      if (!format) throw new SluiceError('CONTENT_TYPE_UNSUPPORTED');
      const body = req.body as Buffer | undefined;
      if (!body || body.length === 0) throw new SluiceError('BODY_EMPTY');
      return { format, body };
    };

    scope.post(
      '/v1/batches',
      {
        config: { role: 'ingest' },
        schema: {
          summary: 'Ingest a batch: persist (bronze), validate, score, stage silver, quarantine, gold',
          headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', maxLength: 200 } } },
          response: { 200: batchReplySchema, 201: batchReplySchema, '4xx': errorSchema, '5xx': errorSchema },
        },
      },
      async (req, reply) => {
        const { format, body } = bodyOf(req);
        const key = req.headers['idempotency-key'] as string | undefined;
        metrics.inflight.set(pipeline.inflightCount + 1);
        let outcome: Awaited<ReturnType<Pipeline['ingest']>>;
        try {
          outcome = await pipeline.ingest({
            body,
            format,
            contentType: String(req.headers['content-type']),
            idempotencyKey: key,
            keyId: req.principal.keyId,
            client: req.ip,
          });
        } catch (e) {
          metrics.batches.inc({ format, outcome: 'rejected' });
          throw e;
        } finally {
          metrics.inflight.set(pipeline.inflightCount);
        }
        const r = outcome.reply;
        if (outcome.status === 201) {
          metrics.batches.inc({ format, outcome: 'completed' });
          metrics.bytes.inc({ format }, body.length);
          metrics.rows.inc({ format, outcome: 'accepted' }, r.accepted);
          metrics.rows.inc({ format, outcome: 'quarantined' }, r.quarantined);
          metrics.rows.inc({ format, outcome: 'duplicate' }, r.duplicates);
          metrics.alerts.inc(r.alerts);
          metrics.batchStages(outcome.stages);
          metrics.quality.set({ kpi: 'completeness' }, r.quality.completeness);
          metrics.quality.set({ kpi: 'validity' }, r.quality.validity);
          metrics.quality.set({ kpi: 'uniqueness' }, r.quality.uniqueness);
          if (r.quality.timeliness_ms !== null) metrics.timeliness.set(r.quality.timeliness_ms / 1000);
          for (const [code, count] of Object.entries(r.reasons)) metrics.reasons.inc({ reason: code }, count);
          metrics.lastBatch.setToCurrentTime();
          req.log.info(
            {
              batch_id: r.batch_id,
              received: r.received,
              accepted: r.accepted,
              quarantined: r.quarantined,
              duplicates: r.duplicates,
              alerts: r.alerts,
              format,
              bytes: body.length,
              ms: reply.elapsedTime,
              // Per stage, in ms; no row content (no ids, accounts or names) is ever logged.
              stages: outcome.stages && {
                parse: Math.round(outcome.stages.parseMs * 10) / 10,
                validate: Math.round(outcome.stages.validateMs * 10) / 10,
                build: Math.round(outcome.stages.buildMs * 10) / 10,
                persist: Math.round((outcome.stages.persistMs ?? 0) * 10) / 10,
              },
            },
            'batch',
          );
        } else {
          metrics.batches.inc({ format, outcome: 'repeat' });
        }
        return reply.code(outcome.status).send(r);
      },
    );

    scope.post(
      '/v1/validate',
      {
        config: { role: 'ingest' },
        schema: {
          summary: 'Validate and score rows against current state; persist nothing',
          response: { '4xx': errorSchema },
        },
      },
      async (req) => {
        const { format, body } = bodyOf(req);
        return { results: await pipeline.validate(body, format) };
      },
    );
  });

  app.get(
    '/v1/batches/:batch_id',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Summary, status and lineage of one batch',
        params: {
          type: 'object',
          properties: { batch_id: { type: 'string', maxLength: 64 } },
          required: ['batch_id'],
        },
      },
    },
    async (req) => {
      const { batch_id } = req.params as { batch_id: string };
      return batchLineage(store, batch_id);
    },
  );

  app.get(
    '/v1/alerts',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'AML alerts, by event time; filter by time, score, rule, account or batch; page with cursor',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: { type: 'string', format: 'date-time' },
            to: { type: 'string', format: 'date-time' },
            min_score: { type: 'integer', minimum: 0, maximum: 100 },
            rule: { type: 'string', enum: [...RULE_NAMES] },
            account_id: { type: 'string', maxLength: 64 },
            batch_id: { type: 'string', maxLength: 64 },
            limit: { type: 'integer', minimum: 1, maximum: MAX_ALERT_PAGE },
            cursor: { type: 'string', maxLength: 200 },
          },
        },
      },
    },
    async (req) => queryAlerts(store, req.query as AlertQuery),
  );

  app.get(
    '/v1/reports/:name',
    {
      config: { role: 'analyst' },
      schema: {
        summary:
          'Gold reports: daily-kpis, data-quality, alerts (JSON, or CSV with format=csv or Accept: text/csv)',
        params: {
          type: 'object',
          properties: { name: { type: 'string', enum: [...REPORT_NAMES] } },
          required: ['name'],
        },
        querystring: {
          type: 'object',
          properties: {
            from: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
            to: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
            format: { type: 'string', enum: ['json', 'csv'] },
          },
        },
      },
    },
    async (req, reply) => {
      const { name } = req.params as { name: ReportName };
      const q = req.query as { from?: string; to?: string; format?: string };
      const rows = report(store, name, q);
      const csv =
        q.format === 'csv' || (q.format === undefined && /text\/csv/.test(req.headers.accept ?? ''));
      if (csv) return reply.type('text/csv; charset=utf-8').send(toCsv(rows, REPORT_COLUMNS[name]));
      return { report: name, rows };
    },
  );

  await app.register(auditRoutes, { store });
  await app.register(lineageRoutes, { store });
  await app.register(quarantineRoutes, { store, pipeline });
  await app.register(subjectRoutes, { store, retention: opts.retention ?? DEFAULT_RETENTION });
  app.get('/healthz', { config: { role: null }, schema: { summary: 'Liveness' } }, async () => ({
    status: 'ok',
  }));
  app.get(
    '/readyz',
    {
      config: { role: null },
      schema: { summary: 'Readiness: pool up, store open, not overloaded, not draining' },
    },
    async (_req, reply) => {
      const why = pipeline.isDraining
        ? 'draining'
        : pipeline.overloaded
          ? 'overloaded'
          : pipeline.memoryOver
            ? 'memory above its bound'
            : (opts.ready?.() ?? null);
      if (why) return reply.code(503).header('Retry-After', '1').send({ status: 'not ready', reason: why });
      return { status: 'ready', load: pipeline.load };
    },
  );
  app.get('/metrics', { config: { role: null }, schema: { hide: true } }, async (_req, reply) => {
    const load = pipeline.load;
    metrics.inflight.set(load.inflight);
    metrics.poolUtilization.set(load.utilization);
    metrics.poolQueue.set(load.queued);
    const st = store.env.getStats() as { pageSize?: number; lastPageNumber?: number; mapSize?: number };
    if (st.pageSize && st.lastPageNumber !== undefined)
      metrics.lmdbUsed.set(st.pageSize * (st.lastPageNumber + 1));
    if (st.mapSize) metrics.lmdbSize.set(st.mapSize);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/docs/json', { config: { role: null }, schema: { hide: true } }, async () => app.swagger());
  return app;
}
