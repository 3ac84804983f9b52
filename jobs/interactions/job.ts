/**
 * The interactions job on the engine: a kernel job (its stages are its own code, jobs/interactions
 * run.ts and stages.ts) behind the job contract, so `shardflow run interactions` gets the engine's
 * command line, inputs, run id, pool, shuffle, scratch, signals, metrics, progress, `_SUCCESS` and
 * `--json` summary like every job. This module stays light (it is loaded for `--help` and `jobs`
 * and by every worker thread): the kernel's modules load inside the functions that use them.
 */

import { csv, defineJob, UsageError } from 'shardflow';
import type { KernelContext, KernelSummary, SqlClient } from 'shardflow/kernel';
import { OUTPUT_NAMES, type OutputName } from './outputs.js';
import { INTERACTION_COLUMNS, REJECT_REASONS } from './rules.js';
import { interactionsTaskOwner, type InteractionsTask } from './tasks.js';
import type { InteractionsLoader, ShardedInteractionsLoader, TaskRunner } from './run.js';
import type { PgLoadStats } from './pg-interactions-loader.js';

/** The job's own option. */
interface InteractionsJobOptions {
  /** Comma-separated subset of {@link OUTPUT_NAMES}; default all. */
  outputs: string;
}

const MiB = 1024 * 1024;

export default defineJob<InteractionsJobOptions>({
  name: 'interactions',
  description:
    'user interactions (seeds 000, 002): clean rows, per-user/product/day counts, Parquet and PostgreSQL',
  options: {
    outputs: {
      type: 'string',
      help: `a subset of ${OUTPUT_NAMES.join(',')}; counts only: users,products,daily`,
      default: OUTPUT_NAMES.join(','),
    },
  },
  // For --help and the engine's input expansion; the kernel reads and checks the CSV itself. The
  // one input is also `--input`, the documented flag. (Named `input`, it would be read twice:
  // coordinator/job-command.ts adds `--input` to a single input's paths even when it is that input.)
  inputs: {
    interactions: csv({
      columns: {
        [INTERACTION_COLUMNS[0]]: { type: 'integer' },
        [INTERACTION_COLUMNS[1]]: { type: 'integer' },
        [INTERACTION_COLUMNS[2]]: { type: 'integer' },
        [INTERACTION_COLUMNS[3]]: { type: 'string' },
        [INTERACTION_COLUMNS[4]]: { type: 'timestamp' },
      },
    }),
  },
  defaults: { partitions: 64, splitBytes: 32 * MiB, maxPartitions: 65535 },
  kernel: {
    reasons: REJECT_REASONS,
    owner: (task) => interactionsTaskOwner(task as InteractionsTask),
    async runTask(task, onProgress) {
      const { runInteractionsTask } = await import('./stages.js');
      return runInteractionsTask(task as InteractionsTask, onProgress);
    },
    run: runKernel,
  },
});

/** `--outputs` as a set; a bad list is one line naming the option (exit 2). */
export function parseOutputs(list: string): ReadonlySet<OutputName> {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!(OUTPUT_NAMES as readonly string[]).includes(n))
      throw new UsageError(`--outputs: unknown output "${n}"; choose from ${OUTPUT_NAMES.join(',')}`);
  if (names.length === 0)
    throw new UsageError(`--outputs must name at least one of ${OUTPUT_NAMES.join(',')}`);
  return new Set(names as OutputName[]);
}

async function runKernel(ctx: KernelContext<InteractionsJobOptions>): Promise<KernelSummary> {
  const outputs = parseOutputs(ctx.options.outputs);
  const files = (ctx.inputs.interactions ?? []).map((f) => ({ ...f, version: f.version ?? '' }));
  const { runInteractions } = await import('./run.js');
  const sink = ctx.pg === undefined ? undefined : await openPgSink(ctx, ctx.pg);
  try {
    let plannedBytes = 0;
    const summary = await runInteractions(
      {
        inputs: files.map((f) => f.path),
        files,
        out: ctx.out,
        outputs,
        partitions: ctx.partitions,
        splitBytes: ctx.splitBytes,
        tmpDir: ctx.scratch,
        loader: sink?.loader,
        shardedLoader: sink?.shardedLoader,
        onPlan: (bytes) => {
          plannedBytes = bytes;
          ctx.onPlan(bytes);
        },
        onPhase: (phase) => ctx.onPhase(phase),
        shard: ctx.shard,
      },
      traced(ctx),
    );
    // Rows read and bytes reach the metrics from the workers' live counters as they go; a shard
    // counts its own splits, so summed over shards the metrics give the run's totals. The plan's
    // progress bytes leave out the CSV headers: one process tops the bytes up to the files' size.
    const own = summary.shard ?? summary;
    ctx.recordRows({
      rowsValid: own.rows_valid,
      rejected: own.rejected_by_reason,
      bytesRead: summary.shard === undefined ? Math.max(0, summary.bytes - plannedBytes) : 0,
    });
    return { ...summary, ...(sink ? { pg: sink.stats() } : {}) };
  } finally {
    await sink?.close();
  }
}

/** The engine's task runner, with a line per stage on the log when SHARDFLOW_TRACE is set. */
function traced(ctx: KernelContext<InteractionsJobOptions>): TaskRunner {
  if (!process.env.SHARDFLOW_TRACE) return ctx.runTasks;
  const run = async <R>(stage: string, tasks: InteractionsTask[]): Promise<R[]> => {
    const t0 = performance.now();
    const results = await ctx.runTasks<R>(stage, tasks);
    ctx.log(
      `trace: ${stage} ${tasks.length} tasks ${((performance.now() - t0) / 1000).toFixed(3)} s, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
    );
    return results;
  };
  return Object.assign(run, {
    everyShard: ctx.runTasks.everyShard?.bind(ctx.runTasks),
    leadShard: ctx.runTasks.leadShard?.bind(ctx.runTasks),
  });
}

/** The PostgreSQL sink of a run: the job's loader in one process, the ledger loader with several shards. */
interface PgSink {
  loader?: InteractionsLoader;
  shardedLoader?: ShardedInteractionsLoader;
  stats(): PgLoadStats;
  close(): Promise<void>;
}

async function openPgSink(
  ctx: KernelContext<InteractionsJobOptions>,
  pg: NonNullable<KernelContext['pg']>,
): Promise<PgSink> {
  const { openSqlClient } = await import('shardflow/kernel');
  // A client already open is the demo's embedded PGlite, which lives in that process's memory
  // only: it is used as it is and left open for the demo's queries (coordinator/demo-command.ts).
  const given = isSqlClient(pg.target) ? pg.target : undefined;
  const client =
    given ?? (await openSqlClient(pg.target as Parameters<typeof openSqlClient>[0], { maxConnections: 4 }));
  const closeClient = () => (given === undefined ? client.close() : Promise.resolve());
  try {
    if (ctx.shard.count > 1) {
      const { createShardedInteractionsLoader } = await import('./pg-sharded-loader.js');
      const loader = createShardedInteractionsLoader(client, { schema: pg.schema, runId: ctx.runId });
      return { shardedLoader: loader, stats: () => loader.stats(), close: closeClient };
    }
    const { createInteractionsLoader } = await import('./pg-interactions-loader.js');
    const loader = createInteractionsLoader(client, { schema: pg.schema });
    return {
      loader,
      stats: () => loader.stats(),
      async close() {
        try {
          await loader.close();
        } finally {
          await closeClient();
        }
      },
    };
  } catch (err) {
    await closeClient();
    throw err;
  }
}

function isSqlClient(value: unknown): value is SqlClient {
  const v = value as Partial<SqlClient> | null;
  return typeof v?.query === 'function' && typeof v.copyFrom === 'function';
}
