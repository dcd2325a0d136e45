/**
 * `sluice demo [--rows 1000000] [--data-dir DIR] [--keep]`: generates synthetic transactions,
 * starts a local service on an ephemeral port, ingests them through the same code as
 * `sluice ingest`, then prints the summary and where each layer lives.
 */
import { once } from 'node:events';
import { type Dirent, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { request } from 'undici';
import { startService } from '../api/service.ts';
import { createKeyIn } from '../engine/auth/keys.ts';
import { intFlag, parse } from './args.ts';
import { generateCommand } from './generate.ts';
import { ingestFiles } from './ingest.ts';

export const DEMO_USAGE = `usage: sluice demo [--rows 1000000] [--seed 1] [--data-dir DIR] [--keep]
  Generates data, runs it through a local service, prints the summary and where the layers are.
  --keep leaves the service running (Ctrl-C stops it).`;

function walk(dir: string, out: { path: string; bytes: number }[] = []) {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push({ path: p, bytes: statSync(p).size });
  }
  return out;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A report's first characters, or why it could not be read. */
async function peek(url: string, key: string): Promise<string> {
  try {
    const res = await request(url, {
      headers: { authorization: `Bearer ${key}` },
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const text = await res.body.text();
    const short = text.length > 300 ? `${text.slice(0, 300)}…` : text;
    return `${res.statusCode} ${short.replace(/\s+/g, ' ')}`;
  } catch (e) {
    return `unreachable (${(e as Error).message})`;
  }
}

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      rows: { type: 'string' },
      seed: { type: 'string' },
      'data-dir': { type: 'string' },
      keep: { type: 'boolean' },
    },
    false,
  );
  const rows = intFlag(values.rows as string | undefined, 'rows', 1_000_000, 1, 100_000_000);
  const seed = intFlag(values.seed as string | undefined, 'seed', 1, 0, 2 ** 31);
  const dataDir = resolve(
    (values['data-dir'] as string | undefined) ?? mkdtempSync(join(tmpdir(), 'sluice-demo-')),
  );
  const keep = values.keep === true;
  const err = process.stderr;
  const out = process.stdout;

  const inputDir = mkdtempSync(join(tmpdir(), 'sluice-demo-input-'));
  const file = join(inputDir, 'transactions.arrow');
  try {
    err.write(`sluice demo: generating ${rows} rows…\n`);
    const g = await generateCommand([
      '--rows',
      String(rows),
      '--seed',
      String(seed),
      '--format',
      'arrow',
      '--out',
      file,
    ]);
    if (g !== 0) return g;

    // The demo's own key: it sends the batches and reads the reports back.
    const key = await createKeyIn(dataDir, { roles: ['ingest', 'analyst'], label: 'demo', actor: 'cli' });
    const service = await startService({ port: 0, dataDir, quiet: true });
    err.write(`sluice demo: service at ${service.url}, data in ${service.dataDir}\n`);
    let closed = false;
    try {
      const summary = await ingestFiles([file], { url: service.url, key, batchRows: 8192, concurrency: 4 });
      out.write(`${JSON.stringify(summary)}\n`);
      const reports = ['daily-kpis', 'data-quality'].map((r) => `${service.url}/v1/reports/${r}`);
      const peeks = await Promise.all(reports.map((r) => peek(r, key)));
      if (!keep) {
        // closing drains in-flight work and rolls staged silver rows into Parquet
        await service.close();
        closed = true;
      }
      const lmdb = walk(join(service.dataDir, 'lmdb'));
      const silver = walk(join(service.dataDir, 'silver')).filter((f) => f.path.endsWith('.parquet'));
      const silverBytes = silver.reduce((a, f) => a + f.bytes, 0);
      const partitions = new Set(
        silver.map((f) => relative(join(service.dataDir, 'silver'), f.path).split('/')[0]),
      );
      const glob = join(service.dataDir, 'silver', '**', '*.parquet');
      out.write(`
Ingested ${summary.rows} rows in ${summary.batches} batches: ${summary.accepted} accepted, ${summary.quarantined} quarantined, ${summary.duplicates} duplicates, ${summary.alerts} AML alerts (${summary.rows_per_s} rows/s, ${summary.elapsed_s} s).

Where the layers are:
  bronze      raw request bodies, sealed, in LMDB (database "bronze"): ${join(service.dataDir, 'lmdb')} (${mib(lmdb.reduce((a, f) => a + f.bytes, 0))})
  silver      accepted rows as Parquet, partitioned by event date: ${join(service.dataDir, 'silver')}
              ${silver.length} files in ${partitions.size} partitions, ${mib(silverBytes)}${silver.length === 0 && keep ? ' (rows wait in LMDB staging; they roll into Parquet within about 30 s, or at shutdown)' : ''}
  quarantine  ${summary.quarantined} rows held for review, in LMDB: GET ${service.url}/v1/quarantine, POST …/v1/quarantine/{tx_id}/resolve
              (and ${summary.duplicates} rows repeating a stored tx_id, kept out of silver)
  alerts      ${summary.alerts} AML alerts with their reasons, in LMDB: GET ${service.url}/v1/alerts (while the service runs)
  keys        per-subject keys for the sealed personal fields: ${join(service.dataDir, 'keys')}
  audit       the hash-chained log: npx sluice audit verify --data-dir ${service.dataDir}
  gold        ${reports[0]}
                ${peeks[0]}
              ${reports[1]}
                ${peeks[1]}

Query silver with DuckDB (personal fields read as sealed BLOBs):
  duckdb -c "SELECT currency, channel, count(*) AS n, sum(amount_gbp_minor) / 100 AS gbp
             FROM read_parquet('${glob}', hive_partitioning = true)
             GROUP BY ALL ORDER BY n DESC"
`);
      if (keep) {
        out.write(
          `\nThe service keeps running at ${service.url} (data in ${service.dataDir}); Ctrl-C stops it.\n` +
            `Its ingest+analyst key: ${key}\n` +
            `  curl -H 'Authorization: Bearer ${key}' '${service.url}/v1/alerts?limit=3'\n`,
        );
        await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
        err.write('sluice demo: stopping…\n');
      } else {
        out.write(`\nThe service has stopped; the data stays in ${service.dataDir}.\n`);
      }
      return summary.failed_batches === 0 && summary.aborted === null ? 0 : 1;
    } finally {
      if (!closed) await service.close();
    }
  } finally {
    rmSync(inputDir, { recursive: true, force: true });
  }
}
