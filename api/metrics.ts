/**
 * Prometheus metrics (prom-client). Names follow Prometheus conventions: `sluice_` prefix, base
 * units, `_total` counters, `_seconds` histograms; labels have bounded cardinality (format,
 * outcome, reason code, route template), never a tx id, account or key.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { REASON_CODES } from '../engine/codes.ts';

export class Metrics {
  readonly registry = new Registry();
  readonly batches = new Counter({
    name: 'sluice_batches_total',
    help: 'Batches received, by format and outcome (completed, repeat, rejected).',
    labelNames: ['format', 'outcome'],
    registers: [this.registry],
  });
  readonly rows = new Counter({
    name: 'sluice_rows_total',
    help: 'Rows by outcome: accepted, quarantined, duplicate.',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly bytes = new Counter({
    name: 'sluice_ingest_bytes_total',
    help: 'Request body bytes ingested, by format.',
    labelNames: ['format'],
    registers: [this.registry],
  });
  readonly reasons = new Counter({
    name: 'sluice_quarantined_reasons_total',
    help: 'Quarantined rows by reason code (a row with several codes counts once per code).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'sluice_http_request_duration_seconds',
    help: 'HTTP request latency by route template and status code.',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly inflight = new Gauge({
    name: 'sluice_pipeline_inflight_requests',
    help: 'Requests admitted and not yet finished.',
    registers: [this.registry],
  });
  readonly lastBatch = new Gauge({
    name: 'sluice_last_batch_timestamp_seconds',
    help: 'Unix time of the last batch made durable (its age is the pipeline SLA).',
    registers: [this.registry],
  });

  readonly alerts = new Counter({
    name: 'sluice_aml_alerts_total',
    help: 'AML alerts raised (rows scoring at or above the alert threshold).',
    registers: [this.registry],
  });
  readonly sanctionsSize = new Gauge({
    name: 'sluice_aml_sanctions_names',
    help: 'Names on the sanctions lists in force.',
    registers: [this.registry],
  });
  readonly sanctionsReloads = new Counter({
    name: 'sluice_aml_sanctions_reloads_total',
    help: 'Sanctions list reloads by outcome (ok, failed: the old list stays), counted per shard.',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly sanctionsLoadedAt = new Gauge({
    name: 'sluice_aml_sanctions_last_reload_timestamp_seconds',
    help: 'Unix time of the last successful sanctions list load.',
    registers: [this.registry],
  });
  readonly rulesInfo = new Gauge({
    name: 'sluice_aml_rules_info',
    help: 'The AML rules file in force (1 for its sha-256 prefix).',
    labelNames: ['sha256'],
    registers: [this.registry],
  });
  readonly rulesReloadFailures = new Counter({
    name: 'sluice_aml_rules_reload_failures_total',
    help: 'Rules file reloads refused as invalid (the rules in force stay).',
    registers: [this.registry],
  });

  sanctionsReload(ok: boolean, size: number, _version: string): void {
    this.sanctionsReloads.inc({ outcome: ok ? 'ok' : 'failed' });
    if (ok) {
      this.sanctionsSize.set(size);
      this.sanctionsLoadedAt.set(Date.now() / 1000);
    }
  }

  rulesLoaded(hash: string): void {
    this.rulesInfo.reset();
    this.rulesInfo.set({ sha256: hash.slice(0, 12) }, 1);
  }

  rulesReloadFailed(): void {
    this.rulesReloadFailures.inc();
  }

  constructor() {
    for (const o of ['ok', 'failed']) this.sanctionsReloads.inc({ outcome: o }, 0);
    collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' });
    for (const r of REASON_CODES.slice(1)) this.reasons.inc({ reason: r }, 0);
    for (const o of ['accepted', 'quarantined', 'duplicate']) this.rows.inc({ outcome: o }, 0);
  }
}
