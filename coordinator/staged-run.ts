/**
 * The stages of a job declared with stages and outputs, as one process or one shard of many:
 * begin (the tables prepared, the old `_SUCCESS` gone) → map every split (a CSV file with a quoted
 * line break mapped again as one split) → one reduce per stage (the last writes the sinks) →
 * rejects parts from the spills → commit (strays removed, tables swapped in, reports, `_SUCCESS`
 * last) → the summary.
 */

import { join } from 'node:path';
import { joinUrl, storageFor, writeObject } from '../io/storage.js';
import { finishPgTable, preparePgTable, type PgTableSpec } from '../io/pg-table-sink.js';
import { sectionOf } from '../engine/keyed-state.js';
import type { StagedJobDefinition } from '../engine/job-contract.js';
import type { JobMapResult, JobReduceResult, JobSplit, JobTask } from '../workers/job-task.js';
import { rejectsUrl, type RejectsPartTask } from '../workers/rejects-spill.js';
import { wholeFileSplit, type JobPlan } from './job-plan.js';
import type { JobRunOptions, JobRunSummary, StageRunnerOf } from './run-job.js';

const SUCCESS = '_SUCCESS';
const REJECTS = 'rejects';

/** What every step of one staged run shares. */
interface StagedRun {
  readonly options: JobRunOptions;
  readonly job: StagedJobDefinition;
  readonly plan: JobPlan;
  readonly runId: string;
  readonly runTasks: StageRunnerOf<JobTask>;
  readonly onPhase: (phase: string) => void;
  /** This process's scratch directory: the rejects spills. */
  readonly scratch: string;
  /** What every engine task carries. */
  readonly base: { kind: 'job'; jobUrl: string; options: Record<string, unknown>; partitions: number };
  readonly leadStep: (step: string, fn: () => Promise<void>) => Promise<void>;
  readonly tables: Record<string, PgTableSpec>;
}

/** What the reduces found, for the rejects, the commit and the summary. */
interface Reduced {
  /** The last stage's results, one per partition. */
  reduces: JobReduceResult[];
  keys: Record<string, number>;
  /** Spills of rows a re-keying stage rejected, by stage and partition. */
  rekeyRejects: { stage: number; partition: number; spill: string }[];
  /** Counts of those rows, by stage and reason. */
  stageRejects: Record<string, Record<string, number>>;
}

export function taskIndex(task: JobTask): number {
  return task.step === 'reduce' ? task.partition : task.owner;
}

export async function runStages(
  options: JobRunOptions,
  plan: JobPlan,
  runId: string,
  runTasks: StageRunnerOf<JobTask>,
  onPhase: (phase: string) => void,
  scratch: string,
): Promise<Omit<JobRunSummary, 'seconds' | 'shuffle_bytes'>> {
  const run: StagedRun = {
    options,
    job: options.job as StagedJobDefinition,
    plan,
    runId,
    runTasks,
    onPhase,
    scratch,
    base: {
      kind: 'job',
      jobUrl: options.jobUrl,
      options: { ...options.jobOptions },
      partitions: options.partitions,
    },
    leadStep: runTasks.leadShard ?? ((_: string, fn: () => Promise<void>) => fn()),
    tables: pgSpecs(options),
  };
  await run.leadStep('begin', async () => {
    await (await storageFor(options.out)).delete(joinUrl(options.out, SUCCESS));
    await withTables(run, (client, spec) => preparePgTable(client, spec, runId));
  });
  const maps = await mapAll(run);
  const reduced = await reduceAll(run, maps);
  onPhase('rejects');
  const rejectsFiles = (await runTasks<string[]>('rejects', rejectsTasks(run, maps, reduced))).flat();
  const counts = countRows(run, maps, reduced);
  await run.leadStep('commit', async () => {
    await removeStrays(run, reduced.reduces, rejectsFiles);
    await withTables(run, (client, spec) => finishPgTable(client, spec, runId));
    await writeReports(run, { ...counts, rows: rowsWritten(reduced.reduces) });
    await writeObject(joinUrl(options.out, SUCCESS), []);
  });
  return summarize(run, counts, reduced);
}

/** Maps every split; a CSV file whose splits saw a quoted line break is mapped again whole. */
async function mapAll(run: StagedRun): Promise<JobMapResult[]> {
  const { plan, base, scratch } = run;
  run.onPhase('map');
  const task = (split: JobSplit, k: number, name: string): JobTask => ({
    ...base,
    step: 'map',
    split,
    owner: k,
    rejectsSpill: join(scratch, `rejects-${name}-${k}.jsonl`),
  });
  const maps = await run.runTasks<JobMapResult>(
    'map',
    plan.splits.map((split, k) => task(split, k, 'map')),
  );
  const multiline = new Set<number>();
  plan.splits.forEach((s, k) => {
    if (maps[k].sawQuotedNewline && plan.splits.filter((o) => o.fileIndex === s.fileIndex).length > 1)
      multiline.add(s.fileIndex);
  });
  if (multiline.size === 0) return maps;
  const firsts = [...multiline].map((f) => plan.splits.findIndex((s) => s.fileIndex === f));
  const again = await run.runTasks<JobMapResult>(
    'map-whole-files',
    firsts.map((k) => task(wholeFileSplit(plan.splits[k]), k, 'whole')),
  );
  plan.splits.forEach((s, k) => {
    if (multiline.has(s.fileIndex)) maps[k] = emptyMapResult(run.options.partitions);
  });
  firsts.forEach((k, i) => (maps[k] = again[i]));
  return maps;
}

/** One reduce per stage: each merges a partition's partials; the last writes the sinks. */
async function reduceAll(run: StagedRun, maps: readonly JobMapResult[]): Promise<Reduced> {
  const { job, options } = run;
  const P = options.partitions;
  const out: Reduced = { reduces: [], keys: {}, rekeyRejects: [], stageRejects: {} };
  let upstream = maps.map((m) => m.partials);
  for (let s = 0; s < job.stages.length; s++) {
    const last = s === job.stages.length - 1;
    run.onPhase(`reduce ${job.stages[s].name}`);
    const tasks: JobTask[] = Array.from({ length: P }, (_, p) => ({
      ...run.base,
      step: 'reduce' as const,
      stage: s,
      partition: p,
      sections: upstream.map((u) => sectionOf(u, p)),
      out: options.out,
      rejectsSpill: join(run.scratch, `rejects-stage${s + 1}-${p}.jsonl`),
      ...(last && options.pg
        ? { pg: { target: options.pg, schema: options.pgSchema, runId: run.runId } }
        : {}),
    }));
    out.reduces = await run.runTasks<JobReduceResult>(`reduce-${job.stages[s].name}`, tasks);
    out.keys[job.stages[s].name] = out.reduces.reduce((n, r) => n + r.keys, 0);
    if (last) break;
    upstream = out.reduces.map((r) => r.partials ?? emptyMapResult(P).partials);
    // Rows the next stage's map rejected: spilled, counted, written beside the map rejects.
    out.reduces.forEach((r, p) => {
      if (r.rejectsSpill === null) return;
      out.rekeyRejects.push({ stage: s + 1, partition: p, spill: r.rejectsSpill });
      const counts = (out.stageRejects[job.stages[s + 1].name] ??= {});
      for (const [reason, n] of Object.entries(r.rejected)) counts[reason] = (counts[reason] ?? 0) + n;
    });
  }
  return out;
}

/** The run's counts: input records (they reconcile: read = valid + rejected), keys, stage rejects. */
function countRows(run: StagedRun, maps: readonly JobMapResult[], reduced: Reduced) {
  const rejected: Record<string, number> = {};
  for (const m of maps)
    for (const [reason, n] of Object.entries(m.rejected)) rejected[reason] = (rejected[reason] ?? 0) + n;
  return {
    job: run.job.name,
    rows_read: maps.reduce((n, m) => n + m.rowsRead, 0),
    rows_valid: maps.reduce((n, m) => n + m.rowsValid, 0),
    rows_rejected: Object.values(rejected).reduce((a, b) => a + b, 0),
    rejected_by_reason: Object.fromEntries(Object.entries(rejected).sort(([a], [b]) => (a < b ? -1 : 1))),
    ...(Object.keys(reduced.stageRejects).length > 0 ? { stage_rejects: reduced.stageRejects } : {}),
    keys: reduced.keys,
  };
}

/** The summary: the counts, this shard's rows out, where each output went, the plan's size. */
function summarize(
  run: StagedRun,
  counts: ReturnType<typeof countRows>,
  reduced: Reduced,
): Omit<JobRunSummary, 'seconds' | 'shuffle_bytes'> {
  const { options, plan, job } = run;
  const rowsOut: Record<string, number> = {};
  for (const r of reduced.reduces.filter((_, p) => p % options.shard.count === options.shard.index)) {
    for (const f of r.files) rowsOut[f.output] = (rowsOut[f.output] ?? 0) + f.rows;
    for (const [o, n] of Object.entries(r.pgRows)) rowsOut[o] = (rowsOut[o] ?? 0) + (n ?? 0);
  }
  const outputs: Record<string, string> = {};
  for (const [name, sink] of Object.entries(job.outputs))
    outputs[name] =
      sink.kind === 'pg' ? `${options.pgSchema}.${sink.table}` : joinUrl(options.out, sink.path);
  outputs.rejects = joinUrl(options.out, REJECTS);
  return {
    ...counts,
    run_id: run.runId,
    rows_out: rowsOut,
    outputs,
    files: plan.files.length,
    bytes: plan.bytes,
    splits: plan.splits.length,
    ...(options.pg
      ? {
          pg: {
            schema: options.pgSchema,
            tables: Object.fromEntries(Object.entries(run.tables).map(([o, s]) => [o, s.table])),
          },
        }
      : {}),
  };
}

/** Runs `fn` on each of the job's tables over one connection (nothing without a server). */
async function withTables(
  run: StagedRun,
  fn: (client: import('../io/sql-client.js').SqlClient, spec: PgTableSpec) => Promise<unknown>,
): Promise<void> {
  if (run.options.pg === undefined || Object.keys(run.tables).length === 0) return;
  const { openSqlClient } = await import('../io/sql-client.js');
  const client = await openSqlClient(run.options.pg, { maxConnections: 1 });
  try {
    for (const spec of Object.values(run.tables)) await fn(client, spec);
  } finally {
    await client.close();
  }
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
function rejectsTasks(run: StagedRun, maps: readonly JobMapResult[], reduced: Reduced): JobTask[] {
  const { options, plan } = run;
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
  const stages = run.job.stages;
  for (const { stage, partition, spill } of reduced.rekeyRejects)
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
async function writeReports(run: StagedRun, content: Record<string, unknown>): Promise<void> {
  const { options } = run;
  for (const sink of Object.values(run.job.outputs))
    if (sink.kind === 'report')
      await writeObject(joinUrl(options.out, sink.path), [
        Buffer.from(`${JSON.stringify(content, null, 2)}\n`),
      ]);
}

/**
 * Removes files under the job's folders that this run did not write (parts of an earlier run) and
 * the temporary files of writers killed before they finished.
 */
async function removeStrays(
  run: StagedRun,
  reduces: readonly JobReduceResult[],
  rejectsFiles: readonly string[],
): Promise<void> {
  const { options } = run;
  const written = new Set<string>(rejectsFiles);
  for (const r of reduces) for (const f of r.files) written.add(f.url);
  const storage = await storageFor(options.out);
  const folders = [
    REJECTS,
    ...Object.values(run.job.outputs).flatMap((s) =>
      s.kind === 'pg' || s.kind === 'report' ? [] : [s.path],
    ),
  ];
  for (const folder of folders) {
    for (const o of await storage.list(joinUrl(options.out, folder)))
      if (!written.has(o.url)) await storage.delete(o.url);
    // Every task has committed (this is the lead's step after the last barrier): a temporary file
    // left here is a killed writer's, never a running one's.
    await storage.deleteUnfinished(joinUrl(options.out, folder));
  }
  // Reports and `_SUCCESS` are written beside the folders, in --out itself.
  await storage.deleteUnfinished(options.out, false);
}
