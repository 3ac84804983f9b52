/**
 * The one run loop every engine job goes through: plan → map (in the pool, or as shard i of N
 * over a shuffle) → one reduce per stage → sinks → `_SUCCESS`, with the run id, the PostgreSQL
 * ledger, metrics counted as each task finishes, progress and the summary. The job module is
 * named by URL; nothing here knows any job.
 */

import { configureStorage, joinUrl } from '../io/storage.js';
import type { InputFile } from '../io/input-paths.js';
import type { PgServerTarget } from '../io/pg-config.js';
import { startProgress, type Progress } from '../metrics/progress.js';
import { ENGINE_REASONS } from '../engine/schema.js';
import type { JobDefinition, KernelSummary } from '../engine/job-contract.js';
import type { JobMapResult, JobTask } from '../workers/job-task.js';
import { planJobInputs } from './job-plan.js';
import { runStages, taskIndex } from './staged-run.js';
import { openRunSession, type RunSession } from './run-session.js';
import { createShuffleRunner } from './shuffle-runner.js';
import { computeRunId } from './run-id.js';
import { checkOutDirectory, type CommonRunOptions, type RunOptions } from './run-options.js';

/** Everything `shardflow run <job>` decided before the run starts. */
export interface JobRunOptions
  extends
    CommonRunOptions,
    Pick<RunOptions, 'shard' | 'shuffle' | 'runId' | 'barrierTimeoutSeconds' | 'pushgateway' | 'pgSchema'> {
  job: JobDefinition;
  /** The job module's URL, which every worker imports. */
  jobUrl: string;
  /** The job's own options, validated. */
  jobOptions: Readonly<Record<string, unknown>>;
  /** Paths of each declared input, as given. */
  inputs: Readonly<Record<string, readonly string[]>>;
  out: string;
  /** The PostgreSQL server of the job's table sinks; none skips them. */
  pg?: PgServerTarget;
  log?: (line: string) => void;
}

/** The `--json` summary of an engine job. */
export interface JobRunSummary {
  job: string;
  run_id: string;
  rows_read: number;
  rows_valid: number;
  rows_rejected: number;
  rejected_by_reason: Record<string, number>;
  /** Rows a re-keying stage rejected, by stage and reason (not input records: not in rows_rejected). */
  stage_rejects?: Record<string, Record<string, number>>;
  /** Distinct keys of each stage. */
  keys: Record<string, number>;
  /** Rows written by each output (file sinks: this shard's parts; tables: rows loaded now). */
  rows_out: Record<string, number>;
  outputs: Record<string, string>;
  files: number;
  bytes: number;
  splits: number;
  pg?: { schema: string; tables: Record<string, string> };
  shuffle_bytes?: { written: number; read: number };
  seconds: number;
}

/** Runs a job (staged or a kernel); resolves to its summary. */
export async function runJob(options: JobRunOptions): Promise<JobRunSummary | KernelRunSummary> {
  configureStorage(options.storage); // the plan lists and reads s3:// inputs
  await checkOutDirectory(options.out);
  if (options.job.kernel !== undefined) {
    const { runKernelJob } = await import('./run-kernel.js');
    return runKernelJob(options);
  }
  const plan = await planJobInputs(options.job, options.inputs, options.splitBytes);
  const runId = options.runId ?? jobRunId(options, plan.files);
  return withRunSession(options, runId, ENGINE_REASONS, async (run) => {
    run.startProgress(plan.bytes);
    const runTasks = run.runner<JobTask>(taskIndex, (stage, tasks) => runCounted(run.session, stage, tasks));
    return runStages(options, plan, runId, runTasks, run.setPhase, run.session.scratch.path);
  });
}

/** A kernel job's summary: the kernel's own fields, the run id and the seconds. */
export type KernelRunSummary = KernelSummary & {
  job: string;
  run_id: string;
  seconds: number;
  shuffle_bytes?: { written: number; read: number };
};

/** What {@link withRunSession} hands the run's body. */
export interface RunInSession {
  readonly session: RunSession;
  /** Starts the progress line once the bytes to read are known. */
  startProgress(totalBytes: number): void;
  setPhase(phase: string): void;
  /** The stage runner: this process's tasks through `run`, or one shard of many over the shuffle. */
  runner<T>(
    owner: (task: T) => number,
    run: <R>(stage: string, tasks: T[]) => Promise<R[]>,
  ): StageRunnerOf<T>;
}

/** A stage runner, with the shard steps when the run has a shuffle. */
export type StageRunnerOf<T> = (<R>(stage: string, tasks: T[]) => Promise<R[]>) & {
  everyShard?: (step: string, fn: () => Promise<void>) => Promise<void>;
  leadShard?: (step: string, fn: () => Promise<void>) => Promise<void>;
};

/**
 * Everything a run needs around its stages, the same for every job: the run session (metrics,
 * `/metrics`, pool, scratch, signals), progress, the shuffle, the final push to a Pushgateway, and
 * the summary's `seconds` and `shuffle_bytes`.
 */
export async function withRunSession<
  S extends { rows_read: number; rows_valid: number; rows_rejected: number },
>(
  options: JobRunOptions,
  runId: string,
  reasons: readonly string[],
  body: (run: RunInSession) => Promise<S>,
): Promise<S & { seconds: number; shuffle_bytes?: { written: number; read: number } }> {
  const started = performance.now();
  const { job, shard } = options;
  const sharded = shard.count > 1 || options.shuffle !== undefined;
  const shardLabel = `${shard.index}/${shard.count}`;
  const session = await openRunSession({
    job: job.name,
    runId,
    reasons,
    ...(sharded ? { labels: { shard: shardLabel } } : {}),
    workers: options.workers,
    storage: options.storage,
    metricsPort: options.metricsPort,
    tmpDir: options.tmpDir,
    log: options.log,
  });
  let progress: Progress | undefined;
  const shuffleBytes = { written: 0, read: 0 };
  const run: RunInSession = {
    session,
    startProgress(totalBytes) {
      if (options.progress && progress === undefined)
        progress = startProgress({ label: job.name, totalBytes, read: () => session.counters.read() });
    },
    setPhase: (phase) => progress?.setPhase(phase),
    runner<T>(owner: (task: T) => number, runLocal: <R>(stage: string, tasks: T[]) => Promise<R[]>) {
      if (options.shuffle === undefined) return runLocal;
      return createShuffleRunner<T>({
        shard,
        root: joinUrl(options.shuffle, runId),
        owner,
        run: runLocal,
        barrierTimeoutMs: options.barrierTimeoutSeconds * 1000,
        onBytes: (direction, bytes) => {
          session.metrics.shuffleBytes.inc({ direction }, bytes);
          shuffleBytes[direction] += bytes;
        },
        onWait: (stage, missing) => {
          progress?.setPhase(`waiting for ${missing} ${stage} tasks of other shards`);
          if (!options.progress)
            options.log?.(`shard ${shardLabel}: waiting for ${missing} ${stage} tasks of other shards`);
        },
      });
    },
  };
  try {
    const summary = await body(run);
    session.stopFeed();
    // The feed samples every 0.5 s: what the workers counted since its last sample is added now,
    // so a short run's metrics end at its totals.
    const counted = session.counters.read();
    session.metrics.rowsRead.inc(Math.max(0, counted.rows - session.live.rows));
    session.metrics.bytesRead.inc(Math.max(0, counted.bytes - session.live.bytes));
    const seconds = (performance.now() - started) / 1000;
    progress?.stop(
      `${job.name}: ${summary.rows_read} rows read, ${summary.rows_valid} valid, ${summary.rows_rejected} rejected in ${seconds.toFixed(2)} s`,
    );
    progress = undefined;
    return {
      ...summary,
      ...(options.shuffle === undefined ? {} : { shuffle_bytes: shuffleBytes }),
      seconds: Math.round(seconds * 1000) / 1000,
    };
  } finally {
    progress?.stop();
    await session.close();
    if (options.pushgateway !== undefined) {
      const { pushRunMetrics } = await import('../metrics/pushgateway.js');
      await pushRunMetrics(session.metrics.registry, {
        url: options.pushgateway,
        job: job.name,
        runId,
        ...(sharded ? { shard: shardLabel } : {}),
      }).catch((err: unknown) => options.log?.(`warning: ${(err as Error).message}`));
    }
  }
}

/** Runs engine tasks in the pool; rows count in the metrics as each task finishes. */
function runCounted<R>(session: RunSession, stage: string, tasks: JobTask[]): Promise<R[]> {
  const { metrics, pool } = session;
  return Promise.all(
    tasks.map(async (task) => {
      const result = await pool.run<R>(stage, task);
      const r = result as Partial<JobMapResult>;
      if (task.step === 'map')
        metrics.recordRows({
          rowsRead: 0,
          bytesRead: 0,
          rowsValid: r.rowsValid ?? 0,
          rejected: r.rejected ?? {},
        });
      else if (r.rejected && Object.keys(r.rejected).length > 0)
        metrics.recordRows({ rowsRead: 0, bytesRead: 0, rowsValid: 0, rejected: r.rejected });
      return result;
    }),
  );
}

/**
 * The default run id of every job, staged or kernel: the job, its inputs' identities (which input
 * each file is) and every option that shapes the outputs.
 */
export function jobRunId(
  options: JobRunOptions,
  files: readonly { input: string; info: InputFile }[],
): string {
  return computeRunId(
    options.job.name,
    files.map((f) => f.info),
    {
      inputs: files.map((f) => f.input),
      options: options.jobOptions,
      out: options.out,
      partitions: options.partitions,
      splitBytes: options.splitBytes,
    },
  );
}
