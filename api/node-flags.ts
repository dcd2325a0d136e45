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
 *
 * `--initial-old-space-size=128`: each isolate's old generation may reach 128 MiB before its first
 * full collection, instead of V8 sizing the limit from a small live heap. The AML shards and the
 * HTTP thread hold 13–30 MB live; V8 set their limits ~24 MB above that and started a full
 * collection every ~0.3 s in each (`--trace-gc`, 105–111 per shard in a 35 s run of scenario b),
 * with its marking on the mutators and on the one platform thread (24 % of a core). With the flag,
 * scenario (b) went from 161–174k to 203–208k tx/s and from 10.5–11.3 to 8.4–8.6 µs of service
 * CPU per row (30 s runs, alternating); peak anonymous memory from 1.27 to 1.45–1.57 GiB, still
 * bounded (the limit is where collection starts, not a reservation). Values of 256, 512 and
 * 1,024 gave the same throughput with more memory; 64 gave 197k. Semi-spaces of 8 or 32 MiB beside
 * it changed nothing. Single-row validate p99 with it: 3.76 ms (60 s, fresh service).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--v8-pool-size=1', '--initial-old-space-size=128'];
