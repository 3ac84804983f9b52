/**
 * The one run loop every engine job goes through: plan → map (in the pool, or as shard i of N
 * over a shuffle) → one reduce per stage → sinks → `_SUCCESS`, with the run id, the PostgreSQL
 * ledger, metrics counted as each task finishes, progress and the summary. The job module is
 * named by URL; nothing here knows any job.
 */

import { join } from 'node:path';
import { configureStorage, joinUrl, storageFor, writeObject } from '../io/storage.js';
import { finishPgTable, preparePgTable, type PgTableSpec } from '../io/pg-table-sink.js';
import type { PgServerTarget } from '../io/pg-config.js';
import { startProgress, type Progress } from '../metrics/progress.js';
import { ENGINE_REASONS } from '../engine/schema.js';
import { sectionOf } from '../engine/keyed-state.js';
import type { JobDefinition, KernelSummary, StagedJobDefinition } from '../engine/job-contract.js';
import type { JobMapResult, JobReduceResult, JobTask } from '../workers/job-task.js';
import { rejectsUrl, type RejectsPartTask } from '../workers/rejects-spill.js';
import { planJobInputs, wholeFileSplit, type JobPlan } from './job-plan.js';
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

const SUCCESS = '_SUCCESS';
const REJECTS = 'rejects';

/** Runs a job (staged or a kernel); resolves to its summary. */
export async function runJob(options: JobRunOptions): Promise<JobRunSummary | KernelRunSummary> {
  configureStorage(options.storage); // the plan lists and reads s3:// inputs
  await checkOutDirectory(options.out);
  if (options.job.kernel !== undefined) {
    const { runKernelJob } = await import('./run-kernel.js');
    return runKernelJob(options);
  }
  const plan = await planJobInputs(options.job, options.inputs, options.splitBytes);
  const runId = options.runId ?? jobRunId(options, plan);
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
      const result = await pool.run<R>(undefined, stage, task);
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

type RunTasks = StageRunnerOf<JobTask>;

/** A map task's owner: its split number, set by the run loop. */
const splitNumbers = new WeakMap<object, number>();
function taskIndex(task: JobTask): number {
  if (task.step === 'map') return splitNumbers.get(task.split) ?? 0;
  return task.step === 'rejects' ? task.owner : task.partition;
}

async function runStages(
  options: JobRunOptions,
  plan: JobPlan,
  runId: string,
  runTasks: RunTasks,
  onPhase: (phase: string) => void,
  scratch: string,
): Promise<Omit<JobRunSummary, 'seconds' | 'shuffle_bytes'>> {
  const { shard } = options;
  const job = options.job as StagedJobDefinition;
  const P = options.partitions;
  const base = {
    kind: 'job' as const,
    jobUrl: options.jobUrl,
    options: { ...options.jobOptions },
    partitions: P,
  };
  const leadStep = runTasks.leadShard ?? ((_: string, fn: () => Promise<void>) => fn());
  const pgSinks = pgSpecs(options);

  await leadStep('begin', async () => {
    await (await storageFor(options.out)).delete(joinUrl(options.out, SUCCESS));
    if (options.pg) {
      const { openSqlClient } = await import('../io/sql-client.js');
      const client = await openSqlClient(options.pg, { maxConnections: 1 });
      try {
        for (const spec of Object.values(pgSinks)) await preparePgTable(client, spec, runId);
      } finally {
        await client.close();
      }
    }
  });

  // 1. map every split; a CSV file with a quoted line break is mapped again as one split.
  onPhase('map');
  const mapTasks: JobTask[] = plan.splits.map((split, k) => {
    splitNumbers.set(split, k);
    return { ...base, step: 'map', split, rejectsSpill: join(scratch, `rejects-map-${k}.jsonl`) };
  });
  const maps = await runTasks<JobMapResult>('map', mapTasks);
  const multiline = new Set<number>();
  plan.splits.forEach((s, k) => {
    if (maps[k].sawQuotedNewline && plan.splits.filter((o) => o.fileIndex === s.fileIndex).length > 1)
      multiline.add(s.fileIndex);
  });
  if (multiline.size > 0) {
    const firsts = [...multiline].map((f) => plan.splits.findIndex((s) => s.fileIndex === f));
    const whole = firsts.map((k) => {
      const split = wholeFileSplit(plan.splits[k]);
      splitNumbers.set(split, k);
      return {
        ...base,
        step: 'map' as const,
        split,
        rejectsSpill: join(scratch, `rejects-whole-${k}.jsonl`),
      };
    });
    const again = await runTasks<JobMapResult>('map-whole-files', whole);
    plan.splits.forEach((s, k) => {
      if (multiline.has(s.fileIndex)) maps[k] = emptyMapResult(P);
    });
    firsts.forEach((k, i) => (maps[k] = again[i]));
  }

  // 2. one reduce per stage; the last writes the sinks.
  const keys: Record<string, number> = {};
  let upstream = maps.map((m) => m.partials);
  let reduces: JobReduceResult[] = [];
  // Rows a re-keying stage rejected: written beside the map rejects, never dropped.
  const rekeyRejects: { stage: number; partition: number; spill: string }[] = [];
  // Input records rejected (they reconcile: read = valid + rejected), and rows a re-keying stage
  // rejected, by stage.
  const stageRejects: Record<string, Record<string, number>> = {};
  const rejected: Record<string, number> = {};
  for (const m of maps)
    for (const [reason, n] of Object.entries(m.rejected)) rejected[reason] = (rejected[reason] ?? 0) + n;
  for (let s = 0; s < job.stages.length; s++) {
    const last = s === job.stages.length - 1;
    onPhase(`reduce ${job.stages[s].name}`);
    const tasks: JobTask[] = Array.from({ length: P }, (_, p) => ({
      ...base,
      step: 'reduce' as const,
      stage: s,
      partition: p,
      sections: upstream.map((u) => sectionOf(u, p)),
      out: options.out,
      rejectsSpill: join(scratch, `rejects-stage${s + 1}-${p}.jsonl`),
      ...(last && options.pg ? { pg: { target: options.pg, schema: options.pgSchema, runId } } : {}),
    }));
    reduces = await runTasks<JobReduceResult>(`reduce-${job.stages[s].name}`, tasks);
    keys[job.stages[s].name] = reduces.reduce((n, r) => n + r.keys, 0);
    if (!last) upstream = reduces.map((r) => r.partials ?? emptyMapResult(P).partials);
    reduces.forEach((r, p) => {
      if (r.rejectsSpill !== null) rekeyRejects.push({ stage: s + 1, partition: p, spill: r.rejectsSpill });
      const counts = (stageRejects[job.stages[s + 1]?.name ?? ''] ??= {});
      for (const [reason, n] of Object.entries(r.rejected)) counts[reason] = (counts[reason] ?? 0) + n;
    });
    for (const [name, counts] of Object.entries(stageRejects))
      if (Object.keys(counts).length === 0) delete stageRejects[name];
  }

  // 3. rejects parts, each by the shard that spilled them; strays, tables and `_SUCCESS`, last.
  onPhase('rejects');
  const rejectsFiles = (
    await runTasks<string[]>('rejects', rejectsTasks(options, plan, maps, rekeyRejects))
  ).flat();
  // Rows out count this shard's own partitions; the row counts above are the whole run's.
  const rowsOut: Record<string, number> = {};
  for (const r of reduces.filter((_, p) => p % shard.count === shard.index)) {
    for (const f of r.files) rowsOut[f.output] = (rowsOut[f.output] ?? 0) + f.rows;
    for (const [o, n] of Object.entries(r.pgRows)) rowsOut[o] = (rowsOut[o] ?? 0) + (n ?? 0);
  }
  const outputs: Record<string, string> = {};
  for (const [name, sink] of Object.entries(job.outputs))
    outputs[name] =
      sink.kind === 'pg' ? `${options.pgSchema}.${sink.table}` : joinUrl(options.out, sink.path);
  outputs.rejects = joinUrl(options.out, REJECTS);
  const rowsRejected = Object.values(rejected).reduce((a, b) => a + b, 0);
  const rowsRead = maps.reduce((n, m) => n + m.rowsRead, 0);
  const rowsValid = maps.reduce((n, m) => n + m.rowsValid, 0);
  const rejectedByReason = Object.fromEntries(Object.entries(rejected).sort(([a], [b]) => (a < b ? -1 : 1)));
  await leadStep('commit', async () => {
    await removeStrays(options, reduces, rejectsFiles);
    if (options.pg) {
      const { openSqlClient } = await import('../io/sql-client.js');
      const client = await openSqlClient(options.pg, { maxConnections: 1 });
      try {
        for (const spec of Object.values(pgSinks)) await finishPgTable(client, spec, runId);
      } finally {
        await client.close();
      }
    }
    await writeReports(options, {
      job: job.name,
      rows_read: rowsRead,
      rows_valid: rowsValid,
      rows_rejected: rowsRejected,
      rejected_by_reason: rejectedByReason,
      ...(Object.keys(stageRejects).length > 0 ? { stage_rejects: stageRejects } : {}),
      keys,
      rows: rowsWritten(reduces),
    });
    await writeObject(joinUrl(options.out, SUCCESS), []);
  });

  return {
    job: job.name,
    run_id: runId,
    rows_read: rowsRead,
    rows_valid: rowsValid,
    rows_rejected: rowsRejected,
    rejected_by_reason: rejectedByReason,
    ...(Object.keys(stageRejects).length > 0 ? { stage_rejects: stageRejects } : {}),
    keys,
    rows_out: rowsOut,
    outputs,
    files: plan.files.length,
    bytes: plan.bytes,
    splits: plan.splits.length,
    ...(options.pg
      ? {
          pg: {
            schema: options.pgSchema,
            tables: Object.fromEntries(Object.entries(pgSinks).map(([o, s]) => [o, s.table])),
          },
        }
      : {}),
  };
}

function pgSpecs(options: JobRunOptions): Record<string, PgTableSpec> {
  const out: Record<string, PgTableSpec> = {};
  for (const [name, sink] of Object.entries(options.job.outputs ?? {}))
    if (sink.kind === 'pg')
      out[name] = {
        schema: options.pgSchema,
        table: sink.table,
        columns: sink.columns,
        mode: sink.mode,
        key: sink.key,
      };
  return out;
}

function emptyMapResult(partitions: number): JobMapResult {
  return {
    partials: { offsets: new Uint32Array(partitions + 1), bytes: new Uint8Array(0) },
    rowsRead: 0,
    rowsValid: 0,
    rejected: {},
    rejectsSpill: null,
    lines: 0,
    sawQuotedNewline: false,
  };
}

/**
 * The tasks that write the rejects output from the spills: one part per map task that had rejects
 * (`rejects/part-NNNNN.parquet`, N the split number, more rows in `part-NNNNN-0001.parquet` …),
 * with the file's own 1-based line numbers (each split starts after its file's header and the
 * lines of the file's earlier splits), and one per partition where a re-keying stage rejected rows
 * (`rejects/stage-S-part-PPPPP.parquet`, no line). Each runs on the shard that spilled it.
 */
function rejectsTasks(
  options: JobRunOptions,
  plan: JobPlan,
  maps: readonly JobMapResult[],
  rekeyRejects: readonly { stage: number; partition: number; spill: string }[],
): JobTask[] {
  const tasks: RejectsPartTask[] = [];
  const next = new Map<number, number>();
  plan.splits.forEach((s, k) => {
    const first = next.get(s.fileIndex) ?? plan.files[s.fileIndex].headerLines;
    next.set(s.fileIndex, first + maps[k].lines);
    const spill = maps[k].rejectsSpill;
    if (spill !== null)
      tasks.push({
        kind: 'job',
        step: 'rejects',
        spill,
        source: s.url,
        firstLine: first + 1,
        url: rejectsUrl(options.out, `part-${String(k).padStart(5, '0')}`),
        owner: k,
      });
  });
  const stages = options.job.stages ?? [];
  for (const { stage, partition, spill } of rekeyRejects)
    tasks.push({
      kind: 'job',
      step: 'rejects',
      spill,
      source: `stage ${stages[stage].name}`,
      firstLine: null,
      url: rejectsUrl(options.out, `stage-${stage}-part-${String(partition).padStart(5, '0')}`),
      owner: partition,
    });
  return tasks;
}

/** Rows each file output holds over every partition (every shard's). */
function rowsWritten(reduces: readonly JobReduceResult[]): Record<string, number> {
  const rows: Record<string, number> = {};
  for (const r of reduces) for (const f of r.files) rows[f.output] = (rows[f.output] ?? 0) + f.rows;
  return Object.fromEntries(Object.entries(rows).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The job's report sinks: the run's counts as JSON, the same bytes for the same input. */
async function writeReports(options: JobRunOptions, content: Record<string, unknown>): Promise<void> {
  for (const sink of Object.values(options.job.outputs ?? {}))
    if (sink.kind === 'report')
      await writeObject(joinUrl(options.out, sink.path), [
        Buffer.from(`${JSON.stringify(content, null, 2)}\n`),
      ]);
}

/** Removes files under the job's folders that this run did not write (parts of an earlier run). */
async function removeStrays(
  options: JobRunOptions,
  reduces: JobReduceResult[],
  rejectsFiles: readonly string[],
): Promise<void> {
  const written = new Set<string>(rejectsFiles);
  for (const r of reduces) for (const f of r.files) written.add(f.url);
  const storage = await storageFor(options.out);
  const folders = [
    REJECTS,
    ...Object.values(options.job.outputs ?? {}).flatMap((s) =>
      s.kind === 'pg' || s.kind === 'report' ? [] : [s.path],
    ),
  ];
  for (const folder of folders)
    for (const o of await storage.list(joinUrl(options.out, folder)))
      if (!written.has(o.url)) await storage.delete(o.url);
}

/** The default run id: the job, its inputs' identities and every option that shapes the outputs. */
function jobRunId(options: JobRunOptions, plan: JobPlan): string {
  return computeRunId(
    options.job.name,
    plan.files.map((f) => f.info),
    {
      inputs: plan.files.map((f) => f.input),
      options: options.jobOptions,
      out: options.out,
      partitions: options.partitions,
      splitBytes: options.splitBytes,
    },
  );
}
