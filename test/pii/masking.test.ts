/**
 * Personal fields in replies: masked for keys without `pii`, in clear (and audited) for keys with
 * it, `[erased]` for everyone once the subject is erased.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addKey, get, post, send, service, type TestService, tempDir } from '../support/service.ts';

const SECRET = {
  account_number: '66374958',
  iban: 'GB29NWBK60161331926819',
  counterparty_name: 'Zebedee Quillfeather',
  reference: 'Quillfeather rent',
};

let dir: ReturnType<typeof tempDir>;
let svc: TestService;
let analyst: string;
let analystPii: string;

beforeAll(async () => {
  dir = tempDir();
  svc = await service(dir.path);
  analyst = await addKey(dir.path, ['analyst'], 'analyst');
  analystPii = await addKey(dir.path, ['analyst', 'pii'], 'analyst-pii');
  const body = JSON.stringify([
    {
      tx_id: 'Q-1',
      ts: new Date(Date.now() - 60_000).toISOString(),
      amount: '10.00',
      currency: 'GBP',
      direction: 'debit',
      channel: 'FPS',
      customer_id: 'CUST-M',
      account_id: 'ACC-M',
      sort_code: '08-99-99',
      ...SECRET,
      counterparty_iban: 'GB83WEST12345698765432', // bad checksum: quarantined
    },
  ]);
  expect((await post(`${svc.url}/v1/batches`, body, 'application/json')).json.quarantined).toBe(1);
});

afterAll(async () => {
  await svc?.close();
  dir?.remove();
});

const auditedReads = async () =>
  (await get(`${svc.url}/v1/audit?action=pii.read`)).json.entries as {
    actor: string;
    details: { records: number };
  }[];

describe('GET /v1/quarantine', () => {
  it('masks personal fields for a key without pii, and leaves no clear value anywhere in the reply', async () => {
    const r = await get(`${svc.url}/v1/quarantine`, {}, { key: analyst });
    expect(r.status).toBe(200);
    const v = r.json.records[0].values;
    expect(v).toMatchObject({
      account_number: '****4958',
      iban: '****6819',
      sort_code: '****99',
      counterparty_name: '****',
      reference: '****',
      counterparty_iban: '****5432',
      // Not personal: kept.
      tx_id: 'Q-1',
      account_id: 'ACC-M',
      amount: '10.00',
    });
    for (const s of [...Object.values(SECRET), 'GB83WEST12345698765432', '08-99-99'])
      expect(r.text).not.toContain(s);
    expect(r.text).not.toContain('sealed');
    expect(await auditedReads()).toEqual([]);
  });

  it('leaks no personal value through any GET route to any key without pii', async () => {
    const admin = await addKey(dir.path, ['admin'], 'admin');
    const auditor = await addKey(dir.path, ['auditor'], 'auditor');
    const batch = (await get(`${svc.url}/v1/quarantine`, {}, { key: analyst })).json.records[0].batch_id;
    const paths = [
      '/v1/quarantine',
      '/v1/quarantine?status=open',
      '/v1/alerts',
      `/v1/batches/${batch}`,
      '/v1/lineage/tx/Q-1',
      '/v1/reports/daily-kpis',
      '/v1/reports/data-quality',
      '/v1/reports/alerts?format=csv',
      '/v1/audit',
      '/v1/audit/verify',
      '/metrics',
    ];
    let served = 0;
    for (const key of [analyst, admin, auditor]) {
      for (const p of paths) {
        const r = await get(`${svc.url}${p}`, {}, { key });
        if (r.status === 200) served++;
        for (const s of [...Object.values(SECRET), 'GB83WEST12345698765432'])
          expect(r.text, `${p}`).not.toContain(s);
      }
    }
    expect(served).toBeGreaterThanOrEqual(paths.length); // the routes answered, so the check saw data
  });

  it('shows them in clear to a key with pii, and audits that read with the key id', async () => {
    const r = await get(`${svc.url}/v1/quarantine`, {}, { key: analystPii });
    expect(r.json.records[0].values).toMatchObject(SECRET);
    const reads = await auditedReads();
    expect(reads).toHaveLength(1);
    expect(reads[0]?.actor).toBe(analystPii.split('_')[1]);
    expect(reads[0]?.details.records).toBe(1);
    expect(JSON.stringify(reads)).not.toContain('Quillfeather');
  });

  it('shows [erased] to every key once the subject is erased', async () => {
    expect((await send('DELETE', `${svc.url}/v1/subjects/CUST-M`)).status).toBe(200);
    for (const key of [analyst, analystPii]) {
      const v = (await get(`${svc.url}/v1/quarantine`, {}, { key })).json.records[0].values;
      expect(v).toMatchObject({
        account_number: '[erased]',
        counterparty_name: '[erased]',
        iban: '[erased]',
      });
    }
  });
});
