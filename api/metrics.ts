/**
 * Prometheus metrics (prom-client). Names follow Prometheus conventions: `sluice_` prefix, base
 * units, `_total` counters, `_seconds` histograms; labels have bounded cardinality (format,
 * outcome, reason code, route template), never a tx id, account or key.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { RULE_NAMES } from '../engine/aml/rule-names.ts';
import { REASON_CODES } from '../engine/codes.ts';
import { FORMATS } from '../engine/formats/index.ts';
import type { StageTimings } from '../engine/worker.ts';

const BANDS = ['50-69', '70-89', '90-100'];
const FORMAT_NAMES = Object.keys(FORMATS);

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
    help: 'Rows by format and outcome: accepted, quarantined, duplicate.',
    labelNames: ['format', 'outcome'],
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
    help: 'Sanctions list loads and reloads by outcome (ok, failed: the old list stays).',
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

  readonly stageSeconds = new Histogram({
    name: 'sluice_stage_duration_seconds',
    help: 'Time per batch in each pipeline stage: parse, validate, build (silver, quarantine, gold inputs), persist (the LMDB commit), score (AML, per shard).',
    labelNames: ['stage'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly poolUtilization = new Gauge({
    name: 'sluice_pool_utilization_ratio',
    help: 'Share of the worker pool busy (piscina utilization).',
    registers: [this.registry],
  });
  readonly poolQueue = new Gauge({
    name: 'sluice_pool_queue_depth',
    help: 'Tasks waiting for a pool worker.',
    registers: [this.registry],
  });
  readonly wasmBytes = new Gauge({
    name: 'sluice_wasm_memory_bytes',
    help: 'Linear memory of each WASM instance, by thread (pool worker thread id, AML shard, main).',
    labelNames: ['thread'],
    registers: [this.registry],
  });
  readonly lmdbUsed = new Gauge({
    name: 'sluice_lmdb_map_used_bytes',
    help: 'Bytes of the LMDB map in use (last page number × page size).',
    registers: [this.registry],
  });
  readonly lmdbSize = new Gauge({
    name: 'sluice_lmdb_map_size_bytes',
    help: 'Size of the LMDB map (it grows on demand).',
    registers: [this.registry],
  });
  readonly silverFiles = new Counter({
    name: 'sluice_silver_files_total',
    help: 'Parquet files written to silver.',
    registers: [this.registry],
  });
  readonly silverBytes = new Counter({
    name: 'sluice_silver_bytes_total',
    help: 'Bytes of Parquet written to silver.',
    registers: [this.registry],
  });
  readonly silverRows = new Counter({
    name: 'sluice_silver_rows_total',
    help: 'Rows written to silver Parquet.',
    registers: [this.registry],
  });
  readonly quality = new Gauge({
    name: 'sluice_quality_ratio',
    help: 'Data-quality KPIs of the last batch: completeness, validity, uniqueness (0–1).',
    labelNames: ['kpi'],
    registers: [this.registry],
  });
  readonly timeliness = new Gauge({
    name: 'sluice_quality_timeliness_seconds',
    help: 'Median lateness (received − event time) of the last batch.',
    registers: [this.registry],
  });
  readonly alertsByRule = new Counter({
    name: 'sluice_aml_alerts_by_rule_total',
    help: 'AML alerts each rule contributed to.',
    labelNames: ['rule'],
    registers: [this.registry],
  });
  readonly alertsByBand = new Counter({
    name: 'sluice_aml_alerts_by_score_total',
    help: 'AML alerts by score band: 50-69, 70-89, 90-100.',
    labelNames: ['band'],
    registers: [this.registry],
  });

  readonly jobRuns = new Counter({
    name: 'sluice_job_runs_total',
    // `name`, not `job`: Prometheus sets `job` on every scraped series itself.
    help: 'Scheduled job runs by job name and outcome (ok, failed: retried with backoff).',
    labelNames: ['name', 'outcome'],
    registers: [this.registry],
  });
  readonly jobSeconds = new Histogram({
    name: 'sluice_job_duration_seconds',
    help: 'Scheduled job run time, by job name.',
    labelNames: ['name'],
    buckets: [0.01, 0.1, 0.5, 1, 5, 30, 120],
    registers: [this.registry],
  });
  readonly jobLastSuccess = new Gauge({
    name: 'sluice_job_last_success_timestamp_seconds',
    help: 'Unix time of each job’s last successful run, by job name.',
    labelNames: ['name'],
    registers: [this.registry],
  });

  jobRun(name: string, outcome: 'ok' | 'failed', ms: number): void {
    this.jobRuns.inc({ name, outcome });
    this.jobSeconds.observe({ name }, ms / 1000);
    if (outcome === 'ok') this.jobLastSuccess.set({ name }, Date.now() / 1000);
  }

  /** A batch a pool worker (or the main thread) did: its stage timings and WASM memory. */
  batchStages(t: StageTimings | undefined): void {
    if (!t) return;
    this.stageSeconds.observe({ stage: 'parse' }, t.parseMs / 1000);
    this.stageSeconds.observe({ stage: 'validate' }, t.validateMs / 1000);
    this.stageSeconds.observe({ stage: 'build' }, t.buildMs / 1000);
    if (t.persistMs !== undefined) this.stageSeconds.observe({ stage: 'persist' }, t.persistMs / 1000);
    this.wasmBytes.set({ thread: t.thread === 0 ? 'main' : `worker-${t.thread}` }, t.wasmBytes);
  }

  /** A batch an AML shard scored. */
  shardScored(m: { shard: number; ms: number; byRule: number[]; bands: number[]; wasmBytes: number }): void {
    this.stageSeconds.observe({ stage: 'score' }, m.ms / 1000);
    this.wasmBytes.set({ thread: `aml-shard-${m.shard}` }, m.wasmBytes);
    m.byRule.forEach((n, b) => {
      if (n > 0) this.alertsByRule.inc({ rule: RULE_NAMES[b] as string }, n);
    });
    m.bands.forEach((n, b) => {
      if (n > 0) this.alertsByBand.inc({ band: BANDS[b] as string }, n);
    });
  }

  constructor() {
    for (const r of RULE_NAMES) this.alertsByRule.inc({ rule: r }, 0);
    for (const b of BANDS) this.alertsByBand.inc({ band: b }, 0);
    for (const st of ['parse', 'validate', 'build', 'persist', 'score'])
      this.stageSeconds.zero({ stage: st });
    for (const o of ['ok', 'failed']) this.sanctionsReloads.inc({ outcome: o }, 0);
    collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' });
    for (const r of REASON_CODES.slice(1)) this.reasons.inc({ reason: r }, 0);
    for (const f of FORMAT_NAMES) {
      for (const o of ['accepted', 'quarantined', 'duplicate']) this.rows.inc({ format: f, outcome: o }, 0);
    }
  }
}
