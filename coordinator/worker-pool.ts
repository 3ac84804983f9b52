/**
 * The run's piscina pool: submits tasks, keeps results in task order, retries a task whose worker
 * died or that threw a retryable error (a transient S3 failure; tasks are idempotent:
 * deterministic outputs, atomic renames), and reports task timings and pool gauges to the run's
 * metrics. Any other ShardflowError (bad input, a missing column) is final at once.
 */

import { setTimeout as sleep } from 'node:timers/promises';
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
  /** Attempts per task when a worker dies or a task throws a retryable error; default 2. */
  attempts?: number;
  /** Wait before the second attempt, doubled for each later one, in ms; default 500. */
  retryDelayMs?: number;
  /** The worker module's file URL; default `workers/task.js` (tests load their own). */
  filename?: string;
}

/** Defaults of {@link WorkerPoolOptions}. */
export const WORKER_POOL_DEFAULTS = Object.freeze({ attempts: 2, retryDelayMs: 500 });

export class WorkerPool {
  readonly #pool: Piscina;
  readonly #counters: SharedArrayBuffer | undefined;
  readonly #storage: StorageOptions | undefined;
  readonly #metrics: RunMetrics | undefined;
  readonly #attempts: number;
  readonly #retryDelayMs: number;
  readonly #sampler: NodeJS.Timeout;

  constructor(options: WorkerPoolOptions) {
    this.#pool = new Piscina({
      filename: options.filename ?? new URL('../workers/task.js', import.meta.url).href,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: 60_000,
      // Tasks are coarse (a split or a partition), so the queue is bounded by the plan's size;
      // memory-heavy stages bound their own in-flight tasks (see the write stage's window).
    });
    this.#counters = options.counters;
    this.#storage = options.storage;
    this.#metrics = options.metrics;
    this.#attempts = options.attempts ?? WORKER_POOL_DEFAULTS.attempts;
    this.#retryDelayMs = options.retryDelayMs ?? WORKER_POOL_DEFAULTS.retryDelayMs;
    this.#sampler = setInterval(() => this.#metrics?.samplePool(this.#pool), 500).unref();
  }

  /** Runs every task of a stage; results come back in task order. */
  async runAll<R>(stage: string, tasks: readonly WorkerMessage['task'][], jobUrl?: string): Promise<R[]> {
    return Promise.all(tasks.map((task) => this.run<R>(stage, task, jobUrl)));
  }

  /** Runs one task, retrying it when its worker dies or it throws a retryable error. */
  /** `jobUrl` names a kernel job's module; an engine task names its own. */
  async run<R>(stage: string, task: WorkerMessage['task'], jobUrl?: string): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        const message: WorkerMessage = {
          jobUrl,
          task,
          counters: this.#counters,
          storage: this.#storage,
        };
        const result = (await this.#pool.run(message)) as R;
        this.#metrics?.recordTask(stage, (performance.now() - started) / 1000, 'ok');
        return result;
      } catch (err) {
        // A ShardflowError is final unless it says retrying may help; anything else is a worker
        // that died or a bug, which one more attempt tells from a crash of the moment.
        const shardflow = err instanceof ShardflowError || isShardflowLike(err);
        const retryable = !shardflow || (err as { retryable?: unknown }).retryable === true;
        const final = attempt >= this.#attempts || !retryable;
        this.#metrics?.recordTask(stage, (performance.now() - started) / 1000, final ? 'failed' : 'retried');
        if (final) throw reviveError(err);
        if (shardflow) await sleep(this.#retryDelayMs * 2 ** (attempt - 1));
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

// A ShardflowError thrown in a worker crosses the thread boundary as a plain object with its own
// properties (errorForThread in workers/task.ts): its `code`, `exitCode` and `retryable`.
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
  const e = err as {
    code: string;
    exitCode: number;
    retryable?: unknown;
    message?: unknown;
    stack?: unknown;
  };
  const revived = new ShardflowError(e.code, String(e.message), {
    exitCode: e.exitCode,
    retryable: e.retryable === true,
  });
  if (typeof e.stack === 'string' && e.stack !== '') revived.stack = e.stack; // where the worker threw
  return revived;
}
