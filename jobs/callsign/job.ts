/**
 * The callsign job on the engine (issue #5, seed 004): a kernel job (its stages are its own code,
 * run.ts, map-stage.ts and reduce-stage.ts) behind the job contract, so `shardflow run callsign`
 * gets the engine's command line, inputs, run id, pool, scratch, signals, metrics, Pushgateway,
 * progress, `_SUCCESS` and `--json` summary like every job. This module stays light (it is loaded
 * for `--help` and `jobs` and by every worker thread): the kernel's modules (the stages, the outputs
 * and their Parquet writer) load inside the functions that use them.
 */

import { defineJob, jsonl, UsageError } from 'shardflow';
import type { KernelContext, KernelSummary, PgServerTarget } from 'shardflow/kernel';
import { REJECT_REASONS } from './normalize-record.js';
import type { CallsignTask, SplitCounts } from './tasks.js';

const MiB = 1024 * 1024;

/** Where a run's validation report table rides in its summary: a symbol key, so not in `--json`. */
const REPORT_TABLE = Symbol.for('shardflow.callsign.report');

/** The metadata ids every line may carry, for `--help` (the kernel parses the lines itself). */
const IDS = {
  profile_id: { aliases: ['profileId'] },
  session_id: { required: false, aliases: ['sessionId'] },
  collection_id: { required: false, aliases: ['collectionId'] },
} as const;

export default defineJob({
  name: 'callsign',
  description:
    'collections and predictions by profile (seed 004): per-profile folders and session aggregates',
  // For --help and the engine's input expansion; the kernel reads and checks the lines itself.
  inputs: {
    collections: jsonl({ columns: { ...IDS, behaviour: { required: false } } }),
    predictions: jsonl({ columns: { ...IDS, prediction: { required: false } } }),
  },
  // Smaller splits than the CSV job's: a map task holds its split's normalised lines (2–3× the
  // split), and JSON decoding is slow enough (~8 MB/s a worker) that 32 MiB splits left workers
  // idle at the end of the map stage.
  defaults: { partitions: 64, splitBytes: 8 * MiB, maxPartitions: 4096 },
  kernel: {
    reasons: REJECT_REASONS,
    owner: (task) => {
      const t = task as CallsignTask;
      return t.stage === 'map' ? t.taskId : t.partition;
    },
    async runTask(task, onProgress) {
      const { runCallsignTask } = await import('./stages.js');
      return runCallsignTask(task as CallsignTask, onProgress);
    },
    run: runKernel,
    report: (summary) => (summary as { [REPORT_TABLE]?: string })[REPORT_TABLE] ?? '',
    summaryLines: (summary) => [['profiles', summary.profiles as number]],
  },
});

async function runKernel(ctx: KernelContext): Promise<KernelSummary> {
  // The reduce reads every split's spill from this process's scratch directory: until spills go
  // through the shuffle storage, callsign runs in one process (issue #10, §5).
  if (ctx.shard.count > 1 || ctx.runTasks.leadShard !== undefined)
    throw new UsageError(
      'callsign runs in one process: --shard/--shards with more than one shard and --shuffle are not supported for it yet',
    );
  const { runCallsign } = await import('./run.js');
  const { formatReport } = await import('./validation-report.js');
  const pg =
    ctx.pg === undefined
      ? undefined
      : await (
          await import('./pg-tables.js')
        ).openCallsignPgSink(ctx.pg.target as PgServerTarget, ctx.pg.schema, ctx.runId);
  try {
    const { summary, report } = await runCallsign(
      {
        collections: ctx.inputs.collections ?? [],
        predictions: ctx.inputs.predictions ?? [],
        out: ctx.out,
        partitions: ctx.partitions,
        splitBytes: ctx.splitBytes,
        tmpDir: ctx.scratch,
        onPlan: (bytes) => ctx.onPlan(bytes),
        onPhase: (phase) => ctx.onPhase(phase),
        // Rows read and bytes reach the metrics from the workers' live counters as they go.
        onSplitDone: (counts) => ctx.recordRows(splitRows(counts)),
        ...(pg ? { tables: pg.tables } : {}),
      },
      ctx.runTasks,
    );
    const stats = await pg?.finish();
    return Object.assign(
      { ...summary, ...(stats ? { pg: stats } : {}) },
      { [REPORT_TABLE]: `validation report\n${formatReport(report)}` },
    );
  } finally {
    await pg?.close();
  }
}

/** A split's valid and rejected rows, as the metrics count them. */
function splitRows(counts: SplitCounts): { rowsValid: number; rejected: Record<string, number> } {
  const rejected: Record<string, number> = {};
  counts.rejected.forEach((n, r) => {
    if (n > 0) rejected[REJECT_REASONS[r]] = n;
  });
  return { rowsValid: counts.accepted, rejected };
}
