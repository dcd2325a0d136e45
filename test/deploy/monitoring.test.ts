/**
 * deploy/: the Prometheus rules and config, the Grafana dashboard and its provisioning parse; every
 * metric their PromQL names is one Sluice exports (read from a live `Metrics` registry, so
 * prom-client's defaults and every metric in api/metrics.ts count) or one that deploy/README.md
 * declares as expected later; label matchers name labels those metrics have; and, where `promtool`
 * is on PATH (.ci/run installs Debian's `prometheus`), the rules pass `promtool check rules` and
 * their unit tests (deploy/prometheus/alerts.test.yml).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Metrics } from '../../api/metrics.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DEPLOY = join(ROOT, 'deploy');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

/** Series Prometheus writes itself for every target. */
const PROMETHEUS_SERIES = new Set(['up']);
/** Labels a scrape adds (job, instance) or that the scrape configs in deploy/ attach. */
const TARGET_LABELS = new Set(['job', 'instance', 'deployment', 'namespace', 'pod']);

/** Every series name Sluice exports now, with the label names of each. */
function exportedSeries(): Map<string, Set<string>> {
  const m = new Metrics();
  const out = new Map<string, Set<string>>();
  for (const metric of m.registry.getMetricsAsArray()) {
    const { name, labelNames = [] } = metric as unknown as { name: string; labelNames?: string[] };
    const type = (metric as unknown as { type?: string }).type ?? '';
    const labels = new Set(labelNames);
    out.set(name, labels);
    if (type === 'histogram') {
      out.set(`${name}_bucket`, new Set([...labels, 'le']));
      out.set(`${name}_sum`, labels);
      out.set(`${name}_count`, labels);
    } else if (type === 'summary') {
      out.set(`${name}_sum`, labels);
      out.set(`${name}_count`, labels);
    }
  }
  return out;
}

/** The names listed under deploy/README.md's "Metrics these files expect that do not exist yet". */
function expectedLater(): Set<string> {
  const readme = read('deploy/README.md');
  const start = readme.search(/^## Metrics these files expect that do not exist yet/m);
  expect(start, 'deploy/README.md lacks its "expected later" section').toBeGreaterThanOrEqual(0);
  const section = readme.slice(start).split(/^## /m)[1] ?? '';
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    const m = /^- `([a-zA-Z_:][a-zA-Z0-9_:]*)`/.exec(line);
    if (m?.[1]) names.add(m[1]);
  }
  return names;
}

interface Selector {
  metric: string;
  labels: string[];
}

/** Parses PromQL (Grafana's range variables replaced) and returns its vector selectors. */
function selectors(expr: string): Selector[] {
  const q = expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h');
  const tree = parser.parse(q);
  const errors: string[] = [];
  const out: Selector[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: '${q.slice(node.from, node.to + 10)}'`);
      if (node.name === 'VectorSelector') {
        const sel: Selector = { metric: '', labels: [] };
        const id = node.node.getChild('Identifier');
        if (id) sel.metric = q.slice(id.from, id.to);
        const matchers = node.node.getChild('LabelMatchers');
        if (matchers) {
          for (const m of matchers.getChildren('UnquotedLabelMatcher')) {
            const l = m.getChild('LabelName');
            if (l) sel.labels.push(q.slice(l.from, l.to));
          }
        }
        out.push(sel);
      }
    },
  });
  expect(errors, `PromQL does not parse: ${expr}`).toEqual([]);
  return out;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const rules = (): Rule[] =>
  (
    parse(read('deploy/prometheus/alerts.yml')) as { groups: { name: string; rules: Rule[] }[] }
  ).groups.flatMap((g) => g.rules);

interface Panel {
  type: string;
  title: string;
  panels?: Panel[];
  targets?: { expr?: string; refId?: string }[];
  gridPos?: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
}
interface Dashboard {
  title: string;
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query: string } }[] };
}
const dashboard = () => JSON.parse(read('deploy/grafana/sluice.json')) as Dashboard;
const allPanels = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

/** Every PromQL expression of the dashboard: panel targets and the template variables' selectors. */
function dashboardExprs(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of allPanels(d)) {
    for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel '${p.title}'`, expr: t.expr });
  }
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    const m = /^label_values\((.+),\s*[a-zA-Z_]\w*\)$/.exec(q);
    expect(m, `variable ${v.name}: expected label_values(selector, label), got ${q}`).not.toBeNull();
    out.push({ where: `variable $${v.name}`, expr: m?.[1] ?? '' });
  }
  return out;
}

function checkNames(exprs: { where: string; expr: string }[]): { used: Set<string>; later: Set<string> } {
  const exported = exportedSeries();
  const later = expectedLater();
  const used = new Set<string>();
  const problems: string[] = [];
  for (const { where, expr } of exprs) {
    for (const s of selectors(expr)) {
      used.add(s.metric);
      const labels = exported.get(s.metric);
      if (!labels && !later.has(s.metric) && !PROMETHEUS_SERIES.has(s.metric)) {
        problems.push(`${where}: ${s.metric} is neither exported nor declared as expected later`);
        continue;
      }
      if (!labels) continue;
      for (const l of s.labels) {
        if (!labels.has(l) && !TARGET_LABELS.has(l) && l !== '__name__') {
          problems.push(
            `${where}: ${s.metric} has no label '${l}' (it has ${[...labels].join(', ') || 'none'})`,
          );
        }
      }
    }
  }
  expect(problems).toEqual([]);
  return { used, later };
}

describe('deploy/ YAML', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
      .map((e) => join(e.parentPath, e.name));

  it('every YAML file parses, every document without errors or warnings', () => {
    const all = files(DEPLOY);
    expect(all.length).toBeGreaterThanOrEqual(6);
    for (const f of all) {
      const docs = parseAllDocuments(readFileSync(f, 'utf8'));
      const list = Array.isArray(docs) ? docs : [docs];
      expect(list.length, f).toBeGreaterThan(0);
      for (const d of list) {
        expect(
          d.errors.map((e) => e.message),
          f,
        ).toEqual([]);
        expect(
          d.warnings.map((e) => e.message),
          f,
        ).toEqual([]);
        expect(d.toJS(), f).toBeTypeOf('object');
      }
    }
  });

  it('the scrape configs scrape Sluice under job="sluice", as the rules and dashboard expect', () => {
    const local = parse(read('deploy/prometheus/prometheus.yml'));
    expect(local.rule_files).toContain('alerts.yml');
    const job = local.scrape_configs.find((j: { job_name: string }) => j.job_name === 'sluice');
    expect(job.static_configs[0].targets).toEqual(['127.0.0.1:8080']);
    const k8s = parse(read('deploy/kubernetes/prometheus-scrape.yml'));
    expect(k8s.scrape_configs[0].job_name).toBe('sluice');
    expect(JSON.stringify(k8s.scrape_configs[0].relabel_configs)).toContain('sluice-metrics');
  });
});

describe('Prometheus alert rules', () => {
  it('are well formed: a name, an expression, a severity and a summary each, names unique', () => {
    const all = rules();
    const names = all.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const r of all) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^Sluice[A-Z]\w+$/);
      expect(r.expr.trim().length).toBeGreaterThan(0);
      expect(['critical', 'warning']).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      if (r.for) expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
    }
  });

  it('cover what the operability issue asks for', () => {
    const names = rules().map((r) => r.alert);
    for (const a of [
      'SluiceDown',
      'SluicePipelineStalled',
      'SluiceErrorRateSpike',
      'SluiceQualityBelowTarget',
      'SluiceQueueSaturated',
      'SluiceLmdbMapNearlyFull',
      'SluiceAuditVerificationFailing',
    ]) {
      expect(names).toContain(a);
    }
  });

  it('name only metrics Sluice exports or deploy/README.md declares as expected later', () => {
    checkNames(rules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
  });
});

describe('Grafana dashboard', () => {
  it('is a Grafana dashboard: uid, title, schema version, panels with Prometheus targets', () => {
    const d = dashboard();
    expect(d.uid).toBe('sluice-overview');
    expect(d.title).toBe('Sluice');
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    const panels = allPanels(d);
    const ids = panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
    const data = panels.filter((p) => p.type !== 'row');
    expect(data.length).toBeGreaterThanOrEqual(20);
    for (const p of data) {
      expect(['timeseries', 'stat', 'bargauge', 'table', 'gauge']).toContain(p.type);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(p.datasource?.type).toBe('prometheus');
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets ?? []) expect(t.expr, p.title).toBeTruthy();
      const g = p.gridPos;
      expect(g && g.x + g.w <= 24 && g.w > 0 && g.h > 0, p.title).toBe(true);
    }
    expect(d.templating.list.map((v) => v.name)).toEqual(['datasource', 'job', 'instance']);
  });

  it('shows throughput, latency percentiles, quality ratios, reasons, AML alerts and saturation', () => {
    const { used } = checkNames(dashboardExprs(dashboard()));
    const exprs = dashboardExprs(dashboard())
      .map((e) => e.expr)
      .join('\n');
    for (const m of [
      'sluice_rows_total',
      'sluice_batches_total',
      'sluice_http_request_duration_seconds_bucket',
      'sluice_quality_ratio',
      'sluice_quarantined_reasons_total',
      'sluice_aml_alerts_total',
      'sluice_pipeline_inflight_requests',
      'sluice_pool_queue_depth',
      'sluice_lmdb_map_used_bytes',
    ]) {
      expect(used, m).toContain(m);
    }
    for (const q of ['0.5', '0.9', '0.99']) expect(exprs).toContain(`histogram_quantile(${q},`);
  });

  it('names only exported metrics or declared ones, with labels they have', () => {
    checkNames(dashboardExprs(dashboard()));
  });

  it('the provisioning points Grafana at the dashboard file and a Prometheus datasource', () => {
    const ds = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml'));
    expect(ds.datasources[0].type).toBe('prometheus');
    const prov = parse(read('deploy/grafana/provisioning/dashboards/sluice.yml'));
    expect(prov.providers[0].options.path).toBe('/var/lib/grafana/dashboards/sluice');
    expect(read('deploy/docker-compose.yml')).toContain(
      './grafana/sluice.json:/var/lib/grafana/dashboards/sluice/sluice.json',
    );
  });
});

describe('metrics declared as expected later', () => {
  it('are listed, and none of them exists yet (move a name out of the list once it lands)', () => {
    const later = expectedLater();
    expect(later.size).toBeGreaterThan(0);
    const exported = exportedSeries();
    const landed = [...later].filter((n) => exported.has(n));
    expect(landed, 'these now exist: remove them from deploy/README.md "expected later"').toEqual([]);
  });
});

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
const PROMTOOL = which('promtool');
if (!PROMTOOL) {
  console.warn(
    'promtool is not on PATH: `promtool check rules` and the rule unit tests are skipped ' +
      "(.ci/run installs Debian's prometheus package, which has it)",
  );
}

describe.skipIf(!PROMTOOL)('promtool', () => {
  const run = (...args: string[]) => execFileSync('promtool', args, { cwd: ROOT, encoding: 'utf8' });

  it('check rules deploy/prometheus/alerts.yml', () => {
    expect(run('check', 'rules', 'deploy/prometheus/alerts.yml')).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('check config deploy/prometheus/prometheus.yml (and the rules it loads)', () => {
    expect(run('check', 'config', 'deploy/prometheus/prometheus.yml')).toContain('SUCCESS');
  });

  it('test rules deploy/prometheus/alerts.test.yml: the alerts fire on the series they are for', () => {
    expect(run('test', 'rules', 'deploy/prometheus/alerts.test.yml')).toContain('SUCCESS');
  });
});

describe('the dashboard against a live scrape', () => {
  it('names only metrics a running Sluice exposes on /metrics', async () => {
    const { service, tempDir, get } = await import('../support/service.ts');
    const dir = tempDir('sluice-dash-');
    const svc = await service(dir.path, { workers: 1 });
    try {
      const text = (await get(`${svc.url}/metrics`)).text;
      // Every family the exposition declares, with its histogram/summary series names.
      const live = new Set<string>();
      for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        const [name, type] = [m[1] as string, m[2] as string];
        live.add(name);
        if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) live.add(`${name}${s}`);
        if (type === 'summary') for (const s of ['_sum', '_count']) live.add(`${name}${s}`);
      }
      const later = expectedLater();
      const missing = new Set<string>();
      for (const { expr } of dashboardExprs(dashboard())) {
        for (const s of selectors(expr)) {
          if (!live.has(s.metric) && !later.has(s.metric) && !PROMETHEUS_SERIES.has(s.metric))
            missing.add(s.metric);
        }
      }
      expect([...missing]).toEqual([]);
    } finally {
      await svc.close();
      dir.remove();
    }
  }, 60_000);
});
