import type { WorkTask } from '../../engine/worker.ts';

/**
 * A valid FPS debit a minute old (sort code and account number pass the modulus checks), for
 * tests that need rows to be accepted and care only about their id and account.
 */
export function validRow(tx: string, account = 'ACC-1'): Record<string, string> {
  return {
    tx_id: tx,
    ts: new Date(Date.now() - 60_000).toISOString(),
    amount: '12.50',
    currency: 'GBP',
    direction: 'debit',
    channel: 'FPS',
    account_id: account,
    sort_code: '08-99-99',
    account_number: '66374958',
  };
}

/** A pool worker's ingest task for these records as a JSON body. */
export function jsonIngest(
  records: Record<string, string>[],
  batchId: string,
  receivedAt = Date.now(),
): WorkTask {
  const body = Buffer.from(JSON.stringify(records));
  return {
    kind: 'ingest',
    body: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength),
    format: 'json',
    batchId,
    receivedAt,
  };
}
