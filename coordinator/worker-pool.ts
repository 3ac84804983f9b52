/**
 * The run's piscina pool: submits tasks, keeps results in task order, retries a task whose worker
 * died (tasks are idempotent: deterministic outputs, atomic renames), and reports task timings and
 * pool gauges to the run's metrics.
 */

import { Piscina } from 'piscina';
import type { RunMetrics } from '../metrics/run-metrics.js';
import type { WorkerMessage } from '../workers/task.js';
import { abortWorkerWriters, type StorageOptions } from '../io/storage.js';
import { ShardflowError } from '../errors.js';

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** Worker threads; default: available cores. */
  workers: number;
  /** Shared live progress counters handed to every task. */
  counters?: SharedArrayBuffer;
  /** Storage options for the workers (S3 endpoint, …); default: none. */
  storage?: StorageOptions;
  metrics?: RunMetrics;
  /** Attempts per task when a worker fails; default 2. */
  attempts?: number;
}

export class WorkerPool {
  readonly #pool: Piscina;
  readonly #counters: SharedArrayBuffer | undefined;
  readonly #storage: StorageOptions | undefined;
  readonly #metrics: RunMetrics | undefined;
  readonly #attempts: number;
  readonly #sampler: NodeJS.Timeout;

  constructor(options: WorkerPoolOptions) {
    this.#pool = new Piscina({
      filename: new URL('../workers/task.js', import.meta.url).href,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: 60_000,
      // Tasks are coarse (a split or a partition), so the queue is bounded by the plan's size;
      // memory-heavy stages bound their own in-flight tasks (see the write stage's window).
    });
    this.#counters = options.counters;
    this.#storage = options.storage;
    this.#metrics = options.metrics;
    this.#attempts = options.attempts ?? 2;
    this.#sampler = setInterval(() => this.#metrics?.samplePool(this.#pool), 500).unref();
  }

  /** Runs every task of a stage; results come back in task order. */
  async runAll<R>(
    job: WorkerMessage['job'],
    stage: string,
    tasks: readonly WorkerMessage['task'][],
  ): Promise<R[]> {
    return Promise.all(tasks.map((task) => this.run<R>(job, stage, task)));
  }

  /** Runs one task, retrying it when its worker fails. */
  async run<R>(job: WorkerMessage['job'], stage: string, task: WorkerMessage['task']): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        const message: WorkerMessage = { job, task, counters: this.#counters, storage: this.#storage };
        const result = (await this.#pool.run(message)) as R;
        this.#metrics?.recordTask(stage, (performance.now() - started) / 1000, 'ok');
        return result;
      } catch (err) {
        const final = attempt >= this.#attempts || err instanceof ShardflowError || isShardflowLike(err);
        this.#metrics?.recordTask(stage, (performance.now() - started) / 1000, final ? 'failed' : 'retried');
        if (final) throw reviveError(err);
      }
    }
  }

  /**
   * Asks every worker thread to abort its open writers (multipart uploads, temporary files), for a
   * run that is stopping; resolves with how many, once every thread has answered or after
   * `timeoutMs` (default 5 s). Call {@link close} next: it ends the threads and their tasks.
   */
  abortWriters(timeoutMs = 5000): Promise<number> {
    return abortWorkerWriters(this.#pool.threads.length, timeoutMs);
  }

  async close(): Promise<void> {
    clearInterval(this.#sampler);
    await this.#pool.destroy();
  }
}

// Errors cross the thread boundary as plain Errors with their own properties copied; a
// ShardflowError thrown in a worker keeps its `code` and `exitCode` that way.
function isShardflowLike(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'string' &&
    'exitCode' in err
  );
}

function reviveError(err: unknown): unknown {
  if (err instanceof ShardflowError || !isShardflowLike(err)) return err;
  const e = err as Error & { code: string; exitCode: number };
  return new ShardflowError(e.code, e.message, { exitCode: e.exitCode, cause: err });
}
