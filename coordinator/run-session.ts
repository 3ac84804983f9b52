/**
 * What every `shardflow run <job>` sets up around its job: the run's metrics (with its run id and
 * reject reasons), the optional `/metrics` server, the storage options, the worker pool, the
 * live feed of the workers' shared row and byte counters into Prometheus while the run lasts, the
 * run's scratch directory for spill files (coordinator/scratch-dir.ts), and the SIGTERM / SIGINT
 * handlers that stop the run in order (coordinator/signals.ts).
 */

import { WorkerPool } from './worker-pool.js';
import { configureStorage, type StorageOptions } from '../io/storage.js';
import { createRunMetrics, type RunMetrics } from '../metrics/run-metrics.js';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server.js';
import { LiveCounters } from '../metrics/live-counters.js';
import { abortOpenWriters } from '../io/storage.js';
import { openScratchDir, type ScratchDir } from './scratch-dir.js';
import { handleStopSignals } from './signals.js';

/** Options of {@link openRunSession}. */
export interface RunSessionOptions {
  job: string;
  runId: string;
  reasons: readonly string[];
  /** Default labels of every series (e.g. `shard`). */
  labels?: Record<string, string>;
  workers: number;
  storage: StorageOptions;
  metricsPort?: number;
  /** Where the run's scratch directory is made (`--tmp-dir`); default the OS temp directory. */
  tmpDir?: string;
  /** How long a stop on SIGTERM / SIGINT may take before the process exits anyway; default 10 s. */
  stopTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface RunSession {
  readonly metrics: RunMetrics;
  readonly pool: WorkerPool;
  readonly counters: LiveCounters;
  /** The run's own scratch directory: spill files go under `scratch.path`; removed at close. */
  readonly scratch: ScratchDir;
  /** Rows and bytes already fed to the metrics from the live counters. */
  readonly live: { rows: number; bytes: number };
  /** Aborted when SIGTERM/SIGINT starts the stop: long-running jobs stop taking work. */
  readonly stopSignal: AbortSignal;
  /** Stops the live feed (before the run tops the counters up to its exact totals). */
  stopFeed(): void;
  /**
   * Stops the feed, the pool and the metrics server, removes the scratch directory and the signal
   * handlers. During a stop by a signal it never settles: the stop ends the process.
   */
  close(): Promise<void>;
}

export async function openRunSession(options: RunSessionOptions): Promise<RunSession> {
  const scratch = await openScratchDir(options.tmpDir, { log: options.log });
  try {
    return await openWithScratch(options, scratch);
  } catch (err) {
    await scratch.remove();
    throw err;
  }
}

async function openWithScratch(options: RunSessionOptions, scratch: ScratchDir): Promise<RunSession> {
  const metrics = createRunMetrics({
    job: options.job,
    ...(options.labels ? { labels: options.labels } : {}),
  });
  metrics.setRunId(options.runId);
  metrics.initReasons(options.reasons);
  let server: MetricsServer | undefined;
  if (options.metricsPort !== undefined) {
    server = await startMetricsServer(metrics.registry, { port: options.metricsPort });
    options.log?.(`metrics: serving ${server.url}`);
  }
  const counters = LiveCounters.create();
  configureStorage(options.storage);
  const pool = new WorkerPool({
    workers: options.workers,
    counters: counters.buffer,
    storage: options.storage,
    metrics,
  });
  // Rows and bytes reach Prometheus while the run lasts, from the counters the workers share.
  const live = { rows: 0, bytes: 0 };
  const feed = setInterval(() => {
    const now = counters.read();
    metrics.rowsRead.inc(now.rows - live.rows);
    metrics.bytesRead.inc(now.bytes - live.bytes);
    live.rows = now.rows;
    live.bytes = now.bytes;
  }, 500).unref();
  const stopFeed = () => clearInterval(feed);
  const stopping = new AbortController();
  const signals = handleStopSignals({
    ...(options.stopTimeoutMs === undefined ? {} : { timeoutMs: options.stopTimeoutMs }),
    async stop() {
      stopping.abort();
      stopFeed();
      // The workers abort their uploads before the pool ends them (a terminated thread would leave
      // its multipart uploads open); only then is no thread writing into the scratch directory.
      const [inWorkers, inMain] = await Promise.all([pool.abortWriters(), abortOpenWriters()]);
      await pool.close();
      await scratch.remove();
      await server?.close();
      return inWorkers + inMain;
    },
    lastResort: () => scratch.removeSync(),
  });
  return {
    metrics,
    pool,
    counters,
    scratch,
    live,
    stopSignal: stopping.signal,
    stopFeed,
    async close() {
      if (signals.stopping !== null) return signals.stopping;
      signals.uninstall();
      stopFeed();
      try {
        await pool.close();
      } finally {
        try {
          await server?.close();
        } finally {
          await scratch.remove();
        }
      }
    },
  };
}
