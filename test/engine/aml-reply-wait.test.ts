/**
 * A batch's reply waits for the AML shards to count its alerts, but not for ever: a shard that
 * cannot write (a full volume) must not hold a client whose batch is already durable.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AmlShards } from '../../engine/aml/shards.ts';
import { resolveConfig } from '../../engine/config.ts';
import { Pipeline } from '../../engine/pipeline.ts';
import { Store } from '../../engine/store.ts';
import { tempDir } from '../support/service.ts';

const dir = tempDir();
afterEach(() => dir.remove());

/** Shards that take the batch and answer after `ms`, or never (null). */
function shards(ms: number | null, alerts = 2): AmlShards {
  return {
    notify: () => {},
    scored: () =>
      new Promise<number>((resolve) => {
        if (ms !== null) setTimeout(() => resolve(alerts), ms);
      }),
  } as unknown as AmlShards;
}

const body = (txId: string) =>
  Buffer.from(
    JSON.stringify([
      {
        tx_id: txId,
        ts: new Date().toISOString(),
        amount: '12.50',
        currency: 'GBP',
        direction: 'debit',
        channel: 'FPS',
        account_id: 'ACC-1',
        sort_code: '089999',
        account_number: '66374958',
      },
    ]),
  );

async function ingest(aml: AmlShards, waitMs: number, txId: string) {
  const store = new Store({ dataDir: dir.path });
  const p = new Pipeline(store, { workers: 1, aml, amlReplyWaitMs: waitMs });
  try {
    const t0 = Date.now();
    const out = await p.ingest({ body: body(txId), format: 'json', contentType: 'application/json' });
    return { out, ms: Date.now() - t0, stored: store.batches.get(out.reply.batch_id) };
  } finally {
    await p.drain();
    await store.close();
  }
}

describe('the AML wait of a batch reply', () => {
  it('counts the alerts when the shards answer within the wait', async () => {
    const { out } = await ingest(shards(10, 2), 5000, 'T-WAIT-1');
    expect(out.status).toBe(201);
    expect(out.reply.alerts).toBe(2);
    expect(out.reply.aml_pending).toBeUndefined();
  });

  it('acknowledges a durable batch as aml_pending when the shards do not answer', async () => {
    const { out, ms, stored } = await ingest(shards(null), 200, 'T-WAIT-2');
    expect(out.status).toBe(201);
    expect(out.reply.aml_pending).toBe(true);
    expect(out.reply.alerts).toBe(0);
    expect(out.reply.accepted + out.reply.quarantined).toBe(1);
    expect(ms).toBeLessThan(5000);
    expect(stored).toBeDefined(); // durable before the reply, whatever AML does
  });

  it('is a setting, checked at start', () => {
    expect(resolveConfig({}, {}).amlReplyWaitMs).toBe(10_000);
    expect(resolveConfig({ 'aml-reply-wait-ms': '250' }, {}).amlReplyWaitMs).toBe(250);
    expect(() => resolveConfig({ 'aml-reply-wait-ms': '0' }, {})).toThrow(/aml-reply-wait-ms/);
  });
});
