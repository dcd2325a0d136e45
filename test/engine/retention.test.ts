/**
 * Retention: the purge deletes each layer's data once, and only once, it has outlived that layer's
 * retention, never a body whose batch is still staged, and records what it deleted in the audit log.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../engine/audit/verify.ts';
import { DEFAULT_RETENTION, purgeExpired } from '../../engine/retention.ts';
import { type SilverFile, Store } from '../../engine/store.ts';
import { post, service, tempDir } from '../support/service.ts';

const DAY = 86_400_000;
const now = Date.now();
const row = (tx: string, extra: Record<string, string> = {}) => ({
  tx_id: tx,
  ts: new Date(now - 3_600_000).toISOString(),
  amount: '20000.00', // high value and round: an alert
  currency: 'GBP',
  direction: 'debit',
  channel: 'FPS',
  account_id: 'ACC-R',
  counterparty_country: 'KP',
  ...extra,
});

let dir: ReturnType<typeof tempDir>;
let store: Store;

beforeAll(async () => {
  dir = tempDir();
  const svc = await service(dir.path);
  const body = JSON.stringify([row('R-1'), row('R-2', { iban: 'GB00NOPE' })]);
  expect((await post(`${svc.url}/v1/batches`, body, 'application/json')).json).toMatchObject({
    accepted: 1,
    quarantined: 1,
  });
  await svc.close(); // rolls silver
  store = new Store({ dataDir: dir.path });
});

afterAll(async () => {
  await store?.close();
  dir?.remove();
});

const counts = () => ({
  bronze: [...store.bronze.getKeys()].length,
  quarantine: [...store.quarantine.getKeys()].length,
  alerts: [...store.alerts.getKeys()].length,
  silver: [...store.silverFiles.getRange()].map((e) => e.value as SilverFile),
});

describe('purgeExpired', () => {
  it('deletes nothing inside every retention', async () => {
    const before = counts();
    expect(before).toMatchObject({ bronze: 1, quarantine: 1, alerts: 1 });
    expect(before.silver.length).toBe(1);
    const r = await purgeExpired(store, DEFAULT_RETENTION, now + DAY);
    expect(r).toMatchObject({ bronze_bodies: 0, quarantine_records: 0, alerts: 0, silver_files: 0 });
    expect(counts()).toEqual(before);
  });

  it('deletes bronze after its days, and the rest only after theirs', async () => {
    const r = await purgeExpired(store, DEFAULT_RETENTION, now + (DEFAULT_RETENTION.bronzeDays + 1) * DAY);
    expect(r.bronze_bodies).toBe(1);
    expect(counts()).toMatchObject({ bronze: 0, quarantine: 1, alerts: 1 });
  });

  it('deletes quarantine records, alerts and silver files (manifest and file) past theirs', async () => {
    const file = counts().silver[0] as SilverFile;
    expect(existsSync(join(dir.path, file.path))).toBe(true);
    const r = await purgeExpired(store, DEFAULT_RETENTION, now + (DEFAULT_RETENTION.silverDays + 2) * DAY);
    expect(r).toMatchObject({ quarantine_records: 1, alerts: 1, silver_files: 1, silver_rows: 1 });
    expect(counts()).toMatchObject({ bronze: 0, quarantine: 0, alerts: 0, silver: [] });
    expect(existsSync(join(dir.path, file.path))).toBe(false);
    expect([...store.quarantineByTx.getKeys()]).toEqual([]);
  });

  it('records each run in the audit log, and the chain still verifies', async () => {
    const purges = [...store.audit.getRange()]
      .map((e) => e.value as { action: string; details: Record<string, number> })
      .filter((e) => e.action === 'retention.purge');
    expect(purges.map((p) => p.details.bronze_bodies)).toEqual([0, 1, 0]);
    expect(purges[2]?.details.silver_files).toBe(1);
    expect((await verifyAudit(store)).ok).toBe(true);
  });
});
