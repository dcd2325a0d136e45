/**
 * The container image and its deployments, checked by reading (no Docker engine runs here):
 * the Dockerfile passes dockerfile-utils' validator (the Dockerfile language server's linter) and
 * has the properties the operability issue asks for; .dockerignore keeps the context to what the
 * image copies; the Kubernetes sidecar manifest and docker-compose.yml say what deploy/README.md says.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { ValidationSeverity, validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { SERVICE_NODE_FLAGS } from '../../api/node-flags.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const DOCKERFILE = read('Dockerfile');
const instructions = DockerfileParser.parse(DOCKERFILE).getInstructions();
const args = (i: Instruction) => (i.getArgumentsContent() ?? '').replace(/\\\n/g, ' ').replace(/\s+/g, ' ');
const all = (kw: string) => instructions.filter((i) => i.getKeyword() === kw);
const flags = (i: Instruction) =>
  ((i as unknown as { getFlags?: () => { toString(): string }[] }).getFlags?.() ?? []).map(String);

/** The stages, in order: name, base image (ARG defaults resolved) and instructions. */
function stages(): { name: string; image: string; body: Instruction[] }[] {
  const argDefaults = new Map<string, string>();
  const out: { name: string; image: string; body: Instruction[] }[] = [];
  for (const i of instructions) {
    if (i.getKeyword() === 'ARG' && out.length === 0) {
      const [k, v] = args(i).split('=');
      if (k && v) argDefaults.set(k.trim(), v.trim());
    } else if (i.getKeyword() === 'FROM') {
      const [image = '', , name = ''] = args(i).split(' ');
      out.push({
        name,
        image: image.replace(/\$\{(\w+)\}/g, (_, k: string) => argDefaults.get(k) ?? ''),
        body: [],
      });
    } else {
      out.at(-1)?.body.push(i);
    }
  }
  return out;
}

describe('Dockerfile', () => {
  it('passes the dockerfile-utils validator with every optional check raised to an error', () => {
    const E = ValidationSeverity.ERROR;
    const problems = validate(DOCKERFILE, {
      deprecatedMaintainer: E,
      directiveCasing: E,
      emptyContinuationLine: E,
      instructionCasing: E,
      instructionCmdMultiple: E,
      instructionEntrypointMultiple: E,
      instructionHealthcheckMultiple: E,
      instructionJSONInSingleQuotes: E,
      instructionWorkdirRelative: E,
    });
    expect(problems.map((p) => `line ${p.range.start.line + 1}: ${p.message}`)).toEqual([]);
  });

  it('is multi-stage on one pinned slim Node 20 base (bookworm), never a floating tag', () => {
    const s = stages();
    expect(s.map((x) => x.name)).toEqual(['deps', 'runtime']);
    for (const { image } of s)
      expect(image).toMatch(/^node:20\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
  });

  it('installs production dependencies only, with the lockfile, in the deps stage', () => {
    const [deps] = stages();
    const runs = (deps?.body ?? []).filter((i) => i.getKeyword() === 'RUN').map(args);
    expect(runs.some((r) => /\bnpm ci --omit=dev\b/.test(r))).toBe(true);
    expect(DOCKERFILE).not.toMatch(/\bnpm (install|i)\b/);
    const copies = (deps?.body ?? []).filter((i) => i.getKeyword() === 'COPY').map(args);
    expect(copies[0]).toBe('package.json package-lock.json ./');
  });

  it('has no Rust: no cargo, rustc, rustup or build-wasm; copies the committed wasm/pkg', () => {
    for (const i of all('RUN')) expect(args(i)).not.toMatch(/\b(cargo|rustc|rustup|build-wasm|wasm-pack)\b/);
    const copies = all('COPY').map(args);
    expect(copies).toContain('wasm/pkg ./wasm/pkg');
    expect(copies.some((c) => /^wasm(\/src)? |^wasm\/?$| \.\/?$/.test(c) && !c.startsWith('package'))).toBe(
      false,
    );
  });

  it('copies the runtime sources and the production node_modules into the runtime stage', () => {
    const runtime = stages()[1]?.body ?? [];
    const copies = runtime.filter((i) => i.getKeyword() === 'COPY');
    const fromDeps = copies.find((c) => flags(c).includes('--from=deps'));
    expect(fromDeps && args(fromDeps)).toBe('/app/node_modules ./node_modules');
    const copied = copies.map(args).join('\n');
    for (const dir of ['bin', 'cli', 'api', 'engine', 'reference'])
      expect(copied).toContain(`${dir} ./${dir}`);
    expect(copied).not.toMatch(/\b(test|bench|scripts) \.\//);
  });

  it('runs as a fixed non-root uid, with the data volume owned by it', () => {
    const users = all('USER').map(args);
    expect(users).toHaveLength(1);
    const [user = ''] = users;
    const uid = user.split(':')[0] ?? '';
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    expect(instructions.at(-1)?.getKeyword()).not.toBe('USER'); // USER precedes the entrypoint
    const runtime = stages()[1]?.body ?? [];
    const userAt = runtime.findIndex((i) => i.getKeyword() === 'USER');
    expect(runtime.slice(userAt).some((i) => i.getKeyword() === 'RUN')).toBe(false);
    expect(all('RUN').map(args).join('\n')).toContain(`chown ${uid}:${uid} /data`);
  });

  it('declares /data as the volume, loopback and the data dir in its environment, and EXPOSE 8080', () => {
    expect(all('VOLUME').map(args)).toEqual(['["/data"]']);
    expect(all('EXPOSE').map(args)).toEqual(['8080']);
    const env = all('ENV').map(args).join(' ');
    expect(env).toContain('SLUICE_HOST=127.0.0.1');
    expect(env).toContain('SLUICE_DATA_DIR=/data');
    expect(env).toContain('NODE_ENV=production');
  });

  it('has one HEALTHCHECK, exec form, probing /healthz with the script the image copies', () => {
    const hc = all('HEALTHCHECK');
    expect(hc).toHaveLength(1);
    const h = args(hc[0] as Instruction);
    expect(h).toBe('CMD ["node", "deploy/docker/healthcheck.mjs", "/healthz"]');
    expect(flags(hc[0] as Instruction).join(' ')).toMatch(/--interval=\d+s .*--timeout=\d+s/);
    expect(all('COPY').map(args)).toContain('deploy/docker/healthcheck.mjs ./deploy/docker/healthcheck.mjs');
  });

  it('starts `node bin/sluice.js serve` in exec form (signals reach node: SIGTERM drains)', () => {
    // With the service's node flags between node and the script (api/node-flags.ts).
    expect(all('ENTRYPOINT').map(args)).toEqual([
      JSON.stringify(['node', ...SERVICE_NODE_FLAGS, 'bin/sluice.js']).replaceAll('","', '", "'),
    ]);
    expect(all('CMD').map(args)).toEqual(['["serve"]']);
    expect(all('STOPSIGNAL').map(args)).toEqual(['SIGTERM']);
  });
});

describe('.dockerignore', () => {
  const lines = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('excludes everything, then lets in exactly what the Dockerfile copies from the context', () => {
    expect(lines[0]).toBe('**');
    const allowed = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const copied = all('COPY')
      .filter((c) => !flags(c).some((f) => f.startsWith('--from')))
      .flatMap((c) => args(c).split(' ').slice(0, -1));
    expect(new Set(copied)).toEqual(new Set(allowed));
    expect(allowed).not.toContain('wasm');
    expect(lines).toContain('**/node_modules');
  });
});

describe('Kubernetes sidecar manifest', () => {
  const docs = parseAllDocuments(read('deploy/kubernetes/sluice-sidecar.yaml')).map((d) => d.toJS());
  const byKind = (k: string) => docs.filter((d) => d.kind === k);
  // biome-ignore lint/suspicious/noExplicitAny: a parsed manifest
  const sts = byKind('StatefulSet')[0] as any;
  const spec = sts?.spec?.template?.spec;
  // biome-ignore lint/suspicious/noExplicitAny: a parsed manifest
  const sluice = spec?.initContainers?.find((c: any) => c.name === 'sluice');

  it('has the core banking pod with Sluice as a native sidecar, and a PodDisruptionBudget for it', () => {
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'Service', 'StatefulSet', 'PodDisruptionBudget']);
    expect(sts.spec.replicas).toBe(1);
    expect(sluice.restartPolicy).toBe('Always');
    expect(spec.containers.map((c: { name: string }) => c.name)).toContain('core-banking');
    const pdb = byKind('PodDisruptionBudget')[0];
    expect(pdb.spec.selector.matchLabels).toEqual(sts.spec.selector.matchLabels);
    expect(sts.spec.template.metadata.labels).toMatchObject(sts.spec.selector.matchLabels);
  });

  it('binds Sluice to loopback, with its data on a persistent volume', () => {
    const env = Object.fromEntries(sluice.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env.SLUICE_HOST).toBe('127.0.0.1');
    expect(sluice.args).toEqual(['serve', '--data-dir', '/data']);
    expect(sluice.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    const claim = sts.spec.volumeClaimTemplates.find(
      (v: { metadata: { name: string } }) => v.metadata.name === 'data',
    );
    expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
  });

  it('has exec liveness, readiness and startup probes on loopback (httpGet would hit the pod IP)', () => {
    expect(sluice.livenessProbe.exec.command).toEqual(['node', 'deploy/docker/healthcheck.mjs', '/healthz']);
    expect(sluice.readinessProbe.exec.command).toEqual(['node', 'deploy/docker/healthcheck.mjs', '/readyz']);
    expect(sluice.startupProbe.exec.command[2]).toBe('/healthz');
  });

  it('limits resources and locks the container down: read-only root, no privilege, non-root', () => {
    expect(sluice.resources.limits.cpu).toBeTruthy();
    expect(sluice.resources.limits.memory).toBeTruthy();
    expect(sluice.resources.requests.memory).toBeTruthy();
    expect(sluice.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(spec.securityContext.runAsUser).toBe(10001);
    expect(DOCKERFILE).toContain('USER 10001:10001');
    expect(sluice.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    const workers = sluice.env.find((e: { name: string }) => e.name === 'SLUICE_WORKERS');
    expect(Number(workers.value)).toBeLessThanOrEqual(Number(sluice.resources.limits.cpu));
  });

  it('exposes only GET /metrics from the pod, through the proxy, on the port the scrape job keeps', () => {
    // biome-ignore lint/suspicious/noExplicitAny: a parsed manifest
    const proxy = spec.initContainers.find((c: any) => c.name === 'sluice-metrics-proxy');
    expect(proxy.ports[0]).toMatchObject({ name: 'sluice-metrics', containerPort: 9464 });
    const conf = byKind('ConfigMap')[0].data['default.conf'] as string;
    expect(conf).toContain('listen 9464;');
    expect(conf).toContain('proxy_pass http://127.0.0.1:8080/metrics;');
    expect(conf.match(/proxy_pass/g)).toHaveLength(1);
    expect(sts.spec.template.metadata.annotations['sluice.io/scrape']).toBe('true');
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('deploy/docker-compose.yml'));
  const s = compose.services;

  it('builds Sluice from the repository Dockerfile, read-only, with a data volume and a tmpfs', () => {
    expect(s.sluice.build).toEqual({ context: '..', dockerfile: 'Dockerfile' });
    expect(s.sluice.read_only).toBe(true);
    expect(s.sluice.tmpfs).toContain('/tmp');
    expect(s.sluice.volumes).toContain('sluice-data:/data');
  });

  it("puts Prometheus in Sluice's network namespace, so it scrapes the loopback listener", () => {
    expect(s.prometheus.network_mode).toBe('service:sluice');
    expect(s.prometheus.ports).toBeUndefined();
    expect(s.sluice.ports).toContain('127.0.0.1:9090:9090');
    expect(s.prometheus.volumes).toContain('./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro');
    expect(s.grafana.volumes).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
    const ds = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml'));
    expect(ds.datasources[0].url).toBe('http://sluice:9090');
  });

  it('pins every image it pulls', () => {
    for (const [name, svc] of Object.entries(s) as [string, { image?: string; build?: unknown }][]) {
      if (svc.build || svc.image === 'sluice:local') continue;
      expect(svc.image, name).toMatch(/:v?\d+\.\d+\.\d+/);
    }
  });
});
