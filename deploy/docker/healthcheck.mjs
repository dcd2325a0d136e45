#!/usr/bin/env node
// Container health probe: GET a path on Sluice's loopback listener and exit 0 on a 2xx answer,
// 1 otherwise. The service binds 127.0.0.1 only, so Docker's HEALTHCHECK and Kubernetes exec
// probes run this inside the container (an httpGet probe would hit the pod IP and fail).
//   node deploy/docker/healthcheck.mjs [/healthz|/readyz] [timeout-ms]
const path = process.argv[2] ?? '/healthz';
const timeoutMs = Number(process.argv[3] ?? 3000);
const host = process.env.SLUICE_HOST ?? '127.0.0.1';
const port = process.env.SLUICE_PORT ?? '8080';
const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

try {
  const res = await fetch(`http://${authority}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) process.stderr.write(`healthcheck: ${path} answered ${res.status}\n`);
  process.exitCode = res.ok ? 0 : 1;
} catch (e) {
  process.stderr.write(`healthcheck: ${path}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
