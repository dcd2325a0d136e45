/**
 * Each CONTRACT §6 rule at the edges of its parameters, through the whole scoring path the CLI
 * uses (JSON body → Arrow → validation → WASM scoring), with the shipped rules file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalAml } from '../../engine/aml/local.ts';
import { rulesOf } from '../../engine/aml/rule-names.ts';
import { DEFAULT_RULES_PATH, loadRules } from '../../engine/aml/rules.ts';
import { columnsOf } from '../../engine/columns.ts';
import { parseBody } from '../../engine/formats/index.ts';
import { Kernels } from '../../engine/kernels.ts';
import { loadReferenceData } from '../../engine/reference-data.ts';
import { Validator } from '../../engine/validator.ts';
import { tempDir } from '../support/service.ts';

const T0 = Date.parse('2026-11-20T09:00:00Z');
const MIN = 60_000;
const validator = new Validator(new Kernels(loadReferenceData({})), { now: () => T0 + 30 * 86_400_000 });

interface Row {
  tx_id?: string;
  ts: number;
  amount: string;
  currency?: string;
  direction?: 'debit' | 'credit';
  account_id?: string;
  counterparty_name?: string;
  counterparty_country?: string;
  counterparty_iban?: string;
}

let serial = 0;

/** A fresh stream (state) per test; `send` scores one request's rows and returns their rules. */
function stream(opts: { rulesPath?: string; capacity?: number } = {}) {
  const aml = LocalAml.open({ rulesPath: opts.rulesPath, capacity: opts.capacity });
  const seen = new Set<string>();
  return (rows: Row[]) => {
    const body = JSON.stringify(
      rows.map((r) => ({
        tx_id: r.tx_id ?? `TX${++serial}`,
        currency: 'GBP',
        direction: 'debit',
        channel: 'FPS',
        account_id: 'ACC-1',
        ...r,
      })),
    );
    const out: { score: number; rules: string[] }[] = [];
    for (const batch of parseBody('json', new TextEncoder().encode(body))) {
      const v = validator.validate(batch, seen);
      expect([...v.mask]).toEqual(new Array(batch.numRows).fill(0));
      const s = aml.score(columnsOf(batch), v);
      for (let i = 0; i < batch.numRows; i++) {
        out.push({ score: s.score[i] as number, rules: rulesOf(s.rules[i] as number) });
      }
    }
    return out;
  };
}

const one = (send: ReturnType<typeof stream>, row: Row) =>
  send([row])[0] as { score: number; rules: string[] };

describe('VELOCITY_COUNT', () => {
  it('fires on the 11th transaction within 5 minutes, not the 10th', () => {
    const send = stream();
    const out = send(Array.from({ length: 11 }, (_, k) => ({ ts: T0 + k * 20_000, amount: '12.34' })));
    expect(out[9]?.rules).not.toContain('VELOCITY_COUNT');
    expect(out[10]?.rules).toContain('VELOCITY_COUNT');
    expect(out[10]?.score).toBe(30);
  });

  it('counts a row exactly 5 minutes earlier, and not one 5 minutes and 1 ms earlier', () => {
    const a = stream();
    a(Array.from({ length: 10 }, (_, k) => ({ ts: T0 + k, amount: '1.00' })));
    expect(one(a, { ts: T0 + 5 * MIN, amount: '1.00' }).rules).toContain('VELOCITY_COUNT');
    const b = stream();
    b(Array.from({ length: 10 }, (_, k) => ({ ts: T0 + k, amount: '1.00' })));
    expect(one(b, { ts: T0 + 5 * MIN + 1, amount: '1.00' }).rules).not.toContain('VELOCITY_COUNT');
  });
});

describe('STRUCTURING', () => {
  it('fires from the third amount in [£9,000, £10,000) within 24 h; £8,999.99 is outside the band', () => {
    const send = stream();
    const out = send([
      { ts: T0, amount: '9000.00', direction: 'credit' },
      { ts: T0 + 60 * MIN, amount: '8999.99', direction: 'credit' },
      { ts: T0 + 120 * MIN, amount: '9999.99', direction: 'credit' },
      { ts: T0 + 180 * MIN, amount: '9500.00', direction: 'credit' },
      { ts: T0 + 240 * MIN, amount: '10000.00', direction: 'credit' },
    ]);
    expect(out.map((o) => o.rules.includes('STRUCTURING'))).toEqual([false, false, false, true, false]);
    // £9,000.00 is also a round amount; £10,000.00 is high value and round.
    expect(out[0]?.rules).toEqual(['ROUND_AMOUNT']);
    expect(out[4]?.rules).toEqual(['HIGH_VALUE', 'ROUND_AMOUNT']);
    expect(out[3]?.score).toBe(60);
  });

  it('forgets band amounts older than 24 hours', () => {
    const send = stream();
    send([
      { ts: T0, amount: '9100.00' },
      { ts: T0 + 1000, amount: '9200.00' },
    ]);
    expect(one(send, { ts: T0 + 86_400_000 + 1, amount: '9300.00' }).rules).not.toContain('STRUCTURING');
  });
});

describe('RAPID_PASS_THROUGH', () => {
  const credit = { ts: T0, amount: '10000.01', direction: 'credit' as const };
  it('fires on the debit that brings debits to 90% of a credit 59 minutes after it', () => {
    const send = stream();
    send([credit, { ts: T0 + 10 * MIN, amount: '5000.00' }]);
    const hit = one(send, { ts: T0 + 59 * MIN, amount: '4000.01' });
    expect(hit.rules).toContain('RAPID_PASS_THROUGH');
    expect(hit.score).toBe(50);
    // Fires once: the next debit does not cross 90% again.
    expect(one(send, { ts: T0 + 59 * MIN + 1, amount: '10.00' }).rules).not.toContain('RAPID_PASS_THROUGH');
  });

  it('does not fire 61 minutes after the credit', () => {
    const send = stream();
    send([credit, { ts: T0 + 10 * MIN, amount: '5000.00' }]);
    expect(one(send, { ts: T0 + 61 * MIN, amount: '4000.01' }).rules).not.toContain('RAPID_PASS_THROUGH');
  });

  it('does not fire below 90%, or after a credit under £1,000', () => {
    const send = stream();
    send([credit]);
    expect(one(send, { ts: T0 + MIN, amount: '8999.99' }).rules).not.toContain('RAPID_PASS_THROUGH');
    const small = stream();
    small([{ ts: T0, amount: '999.99', direction: 'credit' }]);
    expect(one(small, { ts: T0 + MIN, amount: '999.99' }).rules).not.toContain('RAPID_PASS_THROUGH');
  });
});

describe('VELOCITY_AMOUNT', () => {
  it('fires when the 5-minute sum goes above £50,000, not at exactly £50,000', () => {
    const send = stream();
    const out = send([
      { ts: T0, amount: '24999.99', direction: 'credit' },
      { ts: T0 + MIN, amount: '25000.01' },
      { ts: T0 + 2 * MIN, amount: '0.01' },
    ]);
    expect(out.map((o) => o.rules.includes('VELOCITY_AMOUNT'))).toEqual([false, false, true]);
  });
});

describe('AMOUNT_ANOMALY', () => {
  const history = (n: number) =>
    Array.from({ length: n }, (_, k) => ({ ts: T0 + k * 3_600_000, amount: `${40 + (k % 3)}.00` }));
  it('needs 20 earlier rows: the 20th row is never an anomaly, the 21st can be', () => {
    const a = stream();
    a(history(19));
    expect(one(a, { ts: T0 + 19 * 3_600_000, amount: '900.00' }).rules).not.toContain('AMOUNT_ANOMALY');
    const b = stream();
    b(history(20));
    expect(one(b, { ts: T0 + 20 * 3_600_000, amount: '900.00' }).rules).toContain('AMOUNT_ANOMALY');
  });

  it('does not fire within mean + 4σ', () => {
    const send = stream();
    send(history(30));
    expect(one(send, { ts: T0 + 31 * 3_600_000, amount: '42.50' }).rules).not.toContain('AMOUNT_ANOMALY');
  });
});

describe('stateless rules', () => {
  it('HIGH_VALUE starts at £10,000.00 in GBP-equivalent', () => {
    const send = stream();
    expect(one(send, { ts: T0, amount: '9999.99' }).rules).not.toContain('HIGH_VALUE');
    expect(one(send, { ts: T0 + 1, amount: '10000.00', account_id: 'B' }).rules).toContain('HIGH_VALUE');
  });

  it('ROUND_AMOUNT is a whole thousand of its own currency worth at least £1,000', () => {
    const send = stream();
    // €5,000 at 0.8712 is £4,356: round in euros, above £1,000.
    expect(one(send, { ts: T0, amount: '5000.00', currency: 'EUR' }).rules).toEqual(['ROUND_AMOUNT']);
    // ¥1,000 is round but worth about £5.
    expect(one(send, { ts: T0 + 1, amount: '1000', currency: 'JPY' }).rules).toEqual([]);
    expect(one(send, { ts: T0 + 2, amount: '1000.01' }).rules).toEqual([]);
  });

  it('HIGH_RISK_COUNTRY reads the given country, else the counterparty IBAN', () => {
    const send = stream();
    expect(one(send, { ts: T0, amount: '12.00', counterparty_country: 'KP' }).rules).toEqual([
      'HIGH_RISK_COUNTRY',
    ]);
    expect(
      one(send, { ts: T0 + 1, amount: '12.00', counterparty_iban: 'BG80BNBG96611020345678' }).rules,
    ).toEqual(['HIGH_RISK_COUNTRY']);
    expect(one(send, { ts: T0 + 2, amount: '12.00', counterparty_country: 'FR' }).rules).toEqual([]);
  });

  it('SANCTIONS_MATCH sees through case, accents, order, honorifics and a typo; the score caps at 100', () => {
    const send = stream();
    for (const name of [
      'viktor draganov aleksandrovich',
      'Mr VIKTOR ALEKSANDROVICH DRAGONOV',
      'Zoltan Kemenyi',
    ]) {
      expect(one(send, { ts: T0, amount: '10.00', counterparty_name: name, account_id: name }).rules).toEqual(
        ['SANCTIONS_MATCH'],
      );
    }
    const all = one(send, {
      ts: T0,
      amount: '10000.00',
      counterparty_name: 'Hamid Reza Tavakoli',
      counterparty_country: 'IR',
      account_id: 'X',
    });
    expect(all.rules).toEqual(['SANCTIONS_MATCH', 'HIGH_RISK_COUNTRY', 'HIGH_VALUE', 'ROUND_AMOUNT']);
    expect(all.score).toBe(100);
    expect(
      one(send, { ts: T0, amount: '10.00', counterparty_name: 'Victoria Drake', account_id: 'Y' }).rules,
    ).toEqual([]);
  });
});

describe('event-time order', () => {
  it('scores the rows of one request in event-time order, whatever their order in the body', () => {
    const send = stream();
    const rows = Array.from({ length: 11 }, (_, k) => ({ ts: T0 + k * 1000, amount: '5.00' })).reverse();
    const out = send(rows);
    // The first row in the body is the latest in time: the 11th.
    expect(out[0]?.rules).toContain('VELOCITY_COUNT');
    expect(out.slice(1).every((o) => !o.rules.includes('VELOCITY_COUNT'))).toBe(true);
  });

  it('scores a late row as of its event time: it does not see rows after it', () => {
    const send = stream();
    send(Array.from({ length: 10 }, (_, k) => ({ ts: T0 + 30 * MIN + k * 1000, amount: '5.00' })));
    expect(one(send, { ts: T0, amount: '5.00' }).rules).not.toContain('VELOCITY_COUNT');
    // But a late row still counts for rows after it in time, when they come.
    expect(one(send, { ts: T0 + 30 * MIN + 10_000, amount: '5.00' }).rules).toContain('VELOCITY_COUNT');
  });

  it('does not apply a row later than the allowed lateness (1 h) to the state', () => {
    const send = stream();
    const at = T0 + 3 * 3_600_000;
    send([{ ts: at, amount: '9100.00' }]);
    // Two hours behind the account's latest row: scored and flagged late, but not applied.
    expect(one(send, { ts: at - 2 * 3_600_000, amount: '9200.00' }).rules).not.toContain('STRUCTURING');
    // Had it been applied, this would be the third band amount in 24 h.
    expect(one(send, { ts: at + 1, amount: '9300.00' }).rules).not.toContain('STRUCTURING');
    expect(one(send, { ts: at + 2, amount: '9400.00' }).rules).toContain('STRUCTURING');
  });

  it('applies a row within the allowed lateness as of its event time', () => {
    const send = stream();
    const at = T0 + 3 * 3_600_000;
    send([{ ts: at, amount: '9100.00' }]);
    one(send, { ts: at - 30 * MIN, amount: '9200.00' });
    expect(one(send, { ts: at + 1, amount: '9300.00' }).rules).toContain('STRUCTURING');
  });
});

describe('bounded state', () => {
  it('evicts idle accounts when full and restores them exactly when they come back', () => {
    // 64 resident accounts at most; 600 accounts each send two band amounts, then a third.
    const send = stream({ capacity: 64 });
    const accounts = Array.from({ length: 600 }, (_, k) => `EV-${k}`);
    for (const [round, amount] of [
      [0, '9100.00'],
      [1, '9200.00'],
    ] as const) {
      for (let at = 0; at < accounts.length; at += 50) {
        send(accounts.slice(at, at + 50).map((a) => ({ ts: T0 + round * MIN, amount, account_id: a })));
      }
    }
    const third = accounts.map((a) => one(send, { ts: T0 + 2 * MIN, amount: '9300.00', account_id: a }));
    expect(third.every((o) => o.rules.includes('STRUCTURING'))).toBe(true);
  });
});

describe('the rules file', () => {
  const dir = tempDir('sluice-rules-');
  afterAll(() => dir.remove());

  it('drives every parameter: a lower count threshold fires earlier', () => {
    const doc = JSON.parse(readFileSync(DEFAULT_RULES_PATH, 'utf8'));
    doc.rules.VELOCITY_COUNT.min_count = 3;
    doc.rules.VELOCITY_COUNT.weight = 55;
    const path = join(dir.path, 'rules.json');
    writeFileSync(path, JSON.stringify(doc));
    const send = stream({ rulesPath: path });
    const out = send(Array.from({ length: 3 }, (_, k) => ({ ts: T0 + k, amount: '1.00' })));
    expect(out[2]).toEqual({ score: 55, rules: ['VELOCITY_COUNT'] });
  });

  it('is refused with the path of the bad value', () => {
    const doc = JSON.parse(readFileSync(DEFAULT_RULES_PATH, 'utf8'));
    doc.rules.STRUCTURING.weight = 'sixty';
    doc.rules.HIGH_VALUE.extra = 1;
    const path = join(dir.path, 'bad.json');
    writeFileSync(path, JSON.stringify(doc));
    expect(() => loadRules(path)).toThrow(/\/rules\/STRUCTURING\/weight must be integer/);
    expect(() => loadRules(path)).toThrow(/additional properties \(extra\)/);
    writeFileSync(path, '{ not json');
    expect(() => loadRules(path)).toThrow(/not JSON/);
  });
});
