/**
 * The service's periodic gold fold (engine/gold.ts), in a thread of its own. After a burst of
 * ingest a fold merges millions of partial rows; on the HTTP thread that was every request's
 * wait (single-row validate p99 after 8k-row ingest rose to 20–45 ms). The service folds on its
 * own thread only at start and at close, when no request waits.
 */
import { foldAll } from './gold.ts';
import { Store } from './store.ts';

export interface FoldTask {
  dataDir: string;
  mapSize?: number;
  /** Close this thread's store (before the pool is destroyed) instead of folding. */
  close?: boolean;
}

let store: Store | null = null;

export default async function fold(task: FoldTask): Promise<void> {
  if (task.close) {
    await store?.close();
    store = null;
    return;
  }
  store ??= new Store({ dataDir: task.dataDir, mapSize: task.mapSize });
  await foldAll(store);
}
