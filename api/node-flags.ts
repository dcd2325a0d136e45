/**
 * Node flags the service runs with, wherever it is started: `npm start`, the `sluice` command's
 * shebang, the Docker image's entrypoint and `bench/e2e.ts` (test/api/node-flags.test.ts checks
 * they agree).
 *
 * `--v8-pool-size=1`: one V8 platform thread per process instead of four. Every isolate (the HTTP
 * thread, two pool workers, two AML shards, the Parquet worker) hands GC and compile tasks to that
 * pool; on two cores, four such threads woke in bursts beside six busy ones and stretched the HTTP
 * thread's pauses. Single-row validate at 2,000 req/s (bench/e2e.ts scenario d, 60 s, fresh
 * service): p99 3.86 and 4.18 ms with it, 7.02 and 4.73 ms without; the service's own replies
 * within 2.5 ms went from 99.2–99.5 % to 99.7–99.8 %. Throughput on 8k-row Arrow stayed within the
 * run-to-run spread (159,607 and 164,932 tx/s with it; 171,622 and 162,202 without).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--v8-pool-size=1'];
