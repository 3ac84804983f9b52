/**
 * What every `shardflow run <job>` sets up around its job: the run's metrics (with its run id and
 * reject reasons), the optional `/metrics` server, the storage options, the worker pool, and the
 * live feed of the workers' shared row and byte counters into Prometheus while the run lasts.
 */

import { WorkerPool } from './worker-pool.js';
import { configureStorage, type StorageOptions } from '../io/storage.js';
import { createRunMetrics, type RunMetrics } from '../metrics/run-metrics.js';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server.js';
import { LiveCounters } from '../metrics/live-counters.js';

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
  log?: (line: string) => void;
}

export interface RunSession {
  readonly metrics: RunMetrics;
  readonly pool: WorkerPool;
  readonly counters: LiveCounters;
  /** Rows and bytes already fed to the metrics from the live counters. */
  readonly live: { rows: number; bytes: number };
  /** Stops the live feed (before the run tops the counters up to its exact totals). */
  stopFeed(): void;
  /** Stops the feed, the pool and the metrics server. */
  close(): Promise<void>;
}

export async function openRunSession(options: RunSessionOptions): Promise<RunSession> {
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
  return {
    metrics,
    pool,
    counters,
    live,
    stopFeed,
    async close() {
      stopFeed();
      try {
        await pool.close();
      } finally {
        await server?.close();
      }
    },
  };
}
