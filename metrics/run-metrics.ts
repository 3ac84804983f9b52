import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { UsageError } from '../errors.js';

/** Options for {@link createRunMetrics}. */
export interface RunMetricsOptions {
  /** Job name, set as the `job` default label on every series. Required, non-empty. */
  job: string;
  /** Extra default labels on every series, e.g. `{ shard: '0/3' }`. Default: none. */
  labels?: Record<string, string>;
}

/** How a task ended, the `status` label of `shardflow_tasks_total`. */
export type TaskStatus = 'ok' | 'failed' | 'retried';

/** Row counts from one task (or any slice of work); added to the run's counters. */
export interface RowStats {
  rowsRead: number;
  rowsValid: number;
  bytesRead: number;
  /** Rejected rows by reason, e.g. `{ bad_date: 3 }`. */
  rejected: Record<string, number>;
}

/** The subset of a piscina pool that {@link RunMetrics.samplePool} reads. */
export interface PoolSample {
  utilization: number;
  queueSize: number;
  threads: unknown[];
}

/** One run's metrics on a private registry, plus helpers the coordinator calls. */
export interface RunMetrics {
  /** The fresh registry holding every metric below and the process default metrics. */
  readonly registry: Registry;
  readonly rowsRead: Counter;
  readonly rowsValid: Counter;
  readonly rowsRejected: Counter<'reason'>;
  readonly bytesRead: Counter;
  readonly tasks: Counter<'stage' | 'status'>;
  readonly taskDuration: Histogram<'stage'>;
  readonly poolUtilization: Gauge;
  readonly poolQueueSize: Gauge;
  readonly poolThreads: Gauge;
  readonly runInfo: Gauge<'run_id'>;
  /** Bytes of shuffle objects written and read (`--shuffle` runs), by direction. */
  readonly shuffleBytes: Counter<'direction'>;
  /** Counts one finished task attempt and observes its duration in seconds. */
  recordTask(stage: string, seconds: number, status: TaskStatus): void;
  /** Adds one slice of row stats to the row, byte and rejection counters. */
  recordRows(stats: RowStats): void;
  /** Copies a piscina pool's utilization, queue size and thread count into the gauges. */
  samplePool(pool: PoolSample): void;
  /** Sets `shardflow_run_info{run_id}` to 1, replacing any earlier run id. */
  setRunId(id: string): void;
  /** Makes every reason appear in `shardflow_rows_rejected_total` with 0 before any rejection. */
  initReasons(reasons: readonly string[]): void;
  /** The registry in Prometheus text exposition format. */
  snapshot(): Promise<string>;
}

/** Task duration buckets in seconds: 1 ms to 5 min, roughly 1-2.5-5 steps. */
export const TASK_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
]);

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Default labels that collide with a metric's own labels would silently merge or duplicate series.
const RESERVED_LABELS = new Set([
  'job',
  'reason',
  'stage',
  'status',
  'run_id',
  'direction',
  'le',
  'quantile',
]);

/** Creates the run's metrics on a fresh registry (never prom-client's global one). */
export function createRunMetrics(options: RunMetricsOptions): RunMetrics {
  const defaultLabels = validate(options);
  const registry = new Registry();
  registry.setDefaultLabels(defaultLabels);
  collectDefaultMetrics({ register: registry });

  const registers = [registry];
  const rowsRead = new Counter({
    name: 'shardflow_rows_read_total',
    help: 'Data rows read from input (empty lines excluded).',
    registers,
  });
  const rowsValid = new Counter({
    name: 'shardflow_rows_valid_total',
    help: 'Rows that passed validation.',
    registers,
  });
  const rowsRejected = new Counter({
    name: 'shardflow_rows_rejected_total',
    help: 'Rows rejected by validation, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const bytesRead = new Counter({
    name: 'shardflow_bytes_read_total',
    help: 'Input bytes read.',
    registers,
  });
  const tasks = new Counter({
    name: 'shardflow_tasks_total',
    help: 'Task attempts by stage and status (ok, failed, retried).',
    labelNames: ['stage', 'status'] as const,
    registers,
  });
  const taskDuration = new Histogram({
    name: 'shardflow_task_duration_seconds',
    help: 'Task duration in seconds by stage.',
    labelNames: ['stage'] as const,
    buckets: [...TASK_DURATION_BUCKETS],
    registers,
  });
  const poolUtilization = new Gauge({
    name: 'shardflow_pool_utilization',
    help: 'Worker pool utilization, 0..1.',
    registers,
  });
  const poolQueueSize = new Gauge({
    name: 'shardflow_pool_queue_size',
    help: 'Tasks queued in the worker pool.',
    registers,
  });
  const poolThreads = new Gauge({
    name: 'shardflow_pool_threads',
    help: 'Worker threads in the pool.',
    registers,
  });
  const runInfo = new Gauge({
    name: 'shardflow_run_info',
    help: 'Always 1; labels identify the run.',
    labelNames: ['run_id'] as const,
    registers,
  });

  const shuffleBytes = new Counter({
    name: 'shardflow_shuffle_bytes_total',
    help: 'Bytes of shuffle objects written and read by this shard, by direction (written, read).',
    labelNames: ['direction'] as const,
    registers,
  });
  shuffleBytes.inc({ direction: 'written' }, 0);
  shuffleBytes.inc({ direction: 'read' }, 0);

  return {
    registry,
    rowsRead,
    rowsValid,
    rowsRejected,
    bytesRead,
    tasks,
    taskDuration,
    poolUtilization,
    poolQueueSize,
    poolThreads,
    runInfo,
    shuffleBytes,
    recordTask(stage, seconds, status) {
      tasks.inc({ stage, status });
      taskDuration.observe({ stage }, seconds);
    },
    recordRows(stats) {
      rowsRead.inc(stats.rowsRead);
      rowsValid.inc(stats.rowsValid);
      bytesRead.inc(stats.bytesRead);
      for (const [reason, count] of Object.entries(stats.rejected)) rowsRejected.inc({ reason }, count);
    },
    samplePool(pool) {
      poolUtilization.set(pool.utilization);
      poolQueueSize.set(pool.queueSize);
      poolThreads.set(pool.threads.length);
    },
    setRunId(id) {
      // An info metric carries exactly one series; a stale run id would look like two runs.
      runInfo.reset();
      runInfo.set({ run_id: id }, 1);
    },
    initReasons(reasons) {
      for (const reason of reasons) rowsRejected.inc({ reason }, 0);
    },
    snapshot: () => registry.metrics(),
  };
}

function validate(options: RunMetricsOptions): Record<string, string> {
  if (typeof options.job !== 'string' || options.job === '') {
    throw new UsageError('metrics option `job` must be a non-empty string');
  }
  const labels = options.labels ?? {};
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) {
      throw new UsageError(`metrics option \`labels\`: "${name}" is not a valid Prometheus label name`);
    }
    if (RESERVED_LABELS.has(name)) {
      throw new UsageError(`metrics option \`labels\`: "${name}" is reserved by shardflow metrics`);
    }
    if (typeof value !== 'string') {
      throw new UsageError(`metrics option \`labels\`: value of "${name}" must be a string`);
    }
  }
  return { job: options.job, ...labels };
}
