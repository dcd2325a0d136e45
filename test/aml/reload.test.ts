/**
 * Hot reload without a restart: a changed rules file or sanctions list takes effect in the
 * running service; a bad one is refused, counted in a metric, and the one in force stays.
 */
import { appendFileSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../api/service.ts';
import { DEFAULT_RULES_PATH } from '../../engine/aml/rules.ts';
import { DEFAULT_SANCTIONS_PATHS } from '../../engine/aml/sanctions.ts';
import { get, post, service, tempDir } from '../support/service.ts';

const NOW = Date.now() - 3_600_000;
let serial = 0;

function tx(extra: Record<string, string> = {}) {
  return {
    tx_id: `R${++serial}`,
    ts: NOW,
    amount: '10.00',
    currency: 'GBP',
    direction: 'debit',
    channel: 'CARD',
    account_id: 'RL-1',
    ...extra,
  };
}

async function rulesOf(url: string, rows: object[]): Promise<string[][]> {
  const r = await post(`${url}/v1/validate`, JSON.stringify(rows), 'application/json');
  expect(r.status).toBe(200);
  return r.json.results.map((v: { aml: { rules: string[] } }) => v.aml.rules);
}

async function metric(url: string, name: string): Promise<number> {
  const text = (await get(`${url}/metrics`)).text;
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : Number.NaN;
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('hot reload', () => {
  const dir = tempDir('sluice-reload-');
  const rulesPath = join(dir.path, 'rules.json');
  const ofsi = join(dir.path, 'ofsi.csv');
  const sdn = join(dir.path, 'sdn.csv');
  let svc: RunningService;

  beforeAll(async () => {
    copyFileSync(DEFAULT_RULES_PATH, rulesPath);
    copyFileSync(DEFAULT_SANCTIONS_PATHS[0] as string, ofsi);
    copyFileSync(DEFAULT_SANCTIONS_PATHS[1] as string, sdn);
    svc = await service(join(dir.path, 'data'), {
      rulesPath,
      sanctionsPaths: [ofsi, sdn],
      reloadPollMs: 100,
    });
  });
  afterAll(async () => {
    await svc.close();
    dir.remove();
  });

  it('applies a changed rules file, and refuses a bad one keeping the rules in force', async () => {
    const three = () => [tx(), tx(), tx()];
    expect((await rulesOf(svc.url, three()))[2]).toEqual([]);
    const doc = JSON.parse(readFileSync(rulesPath, 'utf8'));
    doc.version = 'test-2';
    doc.rules.VELOCITY_COUNT.min_count = 3;
    writeFileSync(rulesPath, JSON.stringify(doc));
    await eventually(
      async () => (await rulesOf(svc.url, three()))[2]?.includes('VELOCITY_COUNT') ?? false,
      'new rules',
    );

    writeFileSync(rulesPath, JSON.stringify({ ...doc, alert_threshold: 'high' }));
    await eventually(
      async () => (await metric(svc.url, 'sluice_aml_rules_reload_failures_total')) >= 1,
      'the refusal metric',
    );
    expect((await rulesOf(svc.url, three()))[2]).toEqual(['VELOCITY_COUNT']);
  });

  it('applies a changed sanctions list, and keeps the old list when the new one is broken', async () => {
    const name = { counterparty_name: 'Petronella Quagmire-Oduya' };
    expect((await rulesOf(svc.url, [tx(name)]))[0]).toEqual([]);
    appendFileSync(
      ofsi,
      'QUAGMIRE-ODUYA,Petronella,,,,,,,,,,,,,,,,,,,,,,,,,,Fictional reload test entry.,Individual,Primary name,Good,Test,01/11/2026,01/11/2026,01/11/2026,99999\n',
    );
    await eventually(
      async () => (await rulesOf(svc.url, [tx(name)]))[0]?.includes('SANCTIONS_MATCH') ?? false,
      'new list',
    );

    const failed = await metric(svc.url, 'sluice_aml_sanctions_reloads_total{outcome="failed"}');
    writeFileSync(ofsi, 'this is not a sanctions list\n');
    await eventually(
      async () => (await metric(svc.url, 'sluice_aml_sanctions_reloads_total{outcome="failed"}')) > failed,
      'the failed-reload metric',
    );
    expect((await rulesOf(svc.url, [tx(name)]))[0]).toEqual(['SANCTIONS_MATCH']);
  });
});
