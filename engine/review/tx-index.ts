/**
 * tx_id → quarantine ids. The resolve route names a row by its tx_id, but records are keyed by
 * batch and row, so the commit adds one index entry per quarantined row (the `quarantineByTx`
 * dupSort db). Several records share a tx_id only when the id was not claimed (malformed, so no
 * dedup) or in data written before the index existed, which `ensureTxIndex` backfills once.
 */
import type { Store } from '../store.ts';
import type { QuarantineRecord } from './record.ts';

/**
 * Longer tx ids are not indexed (they are malformed anyway: CONTRACT allows 64 characters), so a
 * hostile 10 MB id can never exceed LMDB's key size and fail a whole batch's commit.
 */
export const MAX_INDEXED_TX_ID_BYTES = 256;

export function indexable(txId: string | null): txId is string {
  return txId !== null && txId.length > 0 && Buffer.byteLength(txId) <= MAX_INDEXED_TX_ID_BYTES;
}

/** Call inside the commit's write transaction, once per quarantined row. */
export function indexQuarantined(store: Store, txId: string | null, id: string): void {
  if (indexable(txId)) store.quarantineByTx.put(txId, id);
}

/** The ids of every quarantine record with this tx_id, in id order. */
export function idsOfTx(store: Store, txId: string): string[] {
  if (!indexable(txId)) return [];
  return [...store.quarantineByTx.getValues(txId)].sort();
}

const BUILT = 'quarantineByTx|built';

/** Indexes the records of a data dir written before the index existed; once, at start. */
export async function ensureTxIndex(store: Store): Promise<number> {
  if (store.meta.get(BUILT)) return 0;
  let added = 0;
  await store.env.transaction(() => {
    if (store.meta.get(BUILT)) return;
    for (const { key, value } of store.quarantine.getRange()) {
      const tx = (value as QuarantineRecord).tx_id;
      if (!indexable(tx)) continue;
      store.quarantineByTx.put(tx, key as string);
      added++;
    }
    store.meta.put(BUILT, true);
  });
  return added;
}
