/**
 * `shardflow run interactions`: wires the job to the worker pool, live progress, metrics and the
 * PostgreSQL loader, and returns the summary the CLI prints.
 */

import { createShuffleRunner } from './shuffle-runner.js';
import { computeRunId } from './run-id.js';
import { expandInputs } from '../io/input-paths.js';
import { configureStorage, joinUrl } from '../io/storage.js';
import { openRunSession } from './run-session.js';
import { startProgress, type Progress } from '../metrics/progress.js';
import { runInteractions, type InteractionsSummary } from '../jobs/interactions/run.js';
import type { PgInteractionsLoader, PgLoadStats } from './pg-interactions-loader.js';
import type { PgShardedLoader } from './pg-sharded-loader.js';
import { REJECT_REASONS } from '../jobs/interactions/rules.js';
import { interactionsTaskOwner, type InteractionsTask } from '../jobs/interactions/tasks.js';
import { checkOutDirectory, type RunOptions } from './run-options.js';

export interface RunInteractionsHooks {
  /** Opens the PostgreSQL loader when the run loads a database. */
  openLoader?: () => Promise<PgInteractionsLoader>;
  /** Opens the PostgreSQL loader of a run shared by several shards. */
  openShardedLoader?: (runId: string) => Promise<PgShardedLoader>;
  log?: (line: string) => void;
}

export async function runInteractionsCommand(
  options: RunOptions,
  hooks: RunInteractionsHooks = {},
): Promise<
  InteractionsSummary & {
    seconds: number;
    run_id: string;
    pg?: PgLoadStats;
    shuffle_bytes?: { written: number; read: number };
  }
> {
  const started = performance.now();
  const sharded = options.shard.count > 1 || options.shuffle !== undefined;
  const shuffleBytes = { written: 0, read: 0 };
  const shardLabel = `${options.shard.index}/${options.shard.count}`;
  // The inputs are expanded once, first: the default run id is made of their identity.
  configureStorage(options.storage);
  await checkOutDirectory(options.out);
  const files = await expandInputs(options.inputs);
  const runId =
    options.runId ??
    computeRunId('interactions', files, {
      out: options.out,
      outputs: [...options.outputs].sort(),
      partitions: options.partitions,
      splitBytes: options.splitBytes,
    });
  const session = await openRunSession({
    job: 'interactions',
    runId,
    reasons: REJECT_REASONS,
    ...(sharded ? { labels: { shard: shardLabel } } : {}),
    workers: options.workers,
    storage: options.storage,
    metricsPort: options.metricsPort,
    tmpDir: options.tmpDir,
    log: hooks.log,
  });
  const { metrics, pool, counters, live } = session;
  let progress: Progress | undefined;
  const shardedLoad = options.shard.count > 1 && hooks.openShardedLoader !== undefined;
  const loader = !shardedLoad && hooks.openLoader ? await hooks.openLoader() : undefined;
  const shardedLoader = shardedLoad ? await hooks.openShardedLoader!(runId) : undefined;
  try {
    const trace = process.env.SHARDFLOW_TRACE ? hooks.log : undefined;
    const runLocal = async <R>(stage: string, tasks: InteractionsTask[]) => {
      const t0 = performance.now();
      const results = await pool.runAll<R>('interactions', stage, tasks);
      trace?.(
        `trace: ${stage} ${tasks.length} tasks ${((performance.now() - t0) / 1000).toFixed(3)} s, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
      );
      return results;
    };
    const runTasks =
      options.shuffle === undefined
        ? runLocal
        : createShuffleRunner<InteractionsTask>({
            shard: options.shard,
            root: joinUrl(options.shuffle, runId),
            owner: interactionsTaskOwner,
            run: runLocal,
            barrierTimeoutMs: options.barrierTimeoutSeconds * 1000,
            onBytes: (direction, bytes) => {
              metrics.shuffleBytes.inc({ direction }, bytes);
              shuffleBytes[direction] += bytes;
            },
            onWait: (stage, missing) => {
              progress?.setPhase(`waiting for ${missing} ${stage} tasks of other shards`);
              if (!options.progress)
                hooks.log?.(`shard ${shardLabel}: waiting for ${missing} ${stage} tasks of other shards`);
            },
          });
    const summary = await runInteractions(
      {
        inputs: options.inputs,
        files,
        out: options.out,
        outputs: options.outputs,
        partitions: options.partitions,
        splitBytes: options.splitBytes,
        tmpDir: session.scratch.path,
        loader,
        shardedLoader,
        onPlan: (totalBytes) => {
          if (options.progress)
            progress = startProgress({ label: 'interactions', totalBytes, read: () => counters.read() });
        },
        onPhase: (phase) => progress?.setPhase(phase),
        shard: options.shard,
      },
      runTasks,
    );
    session.stopFeed();
    // A shard's metrics count its own splits: summed over shards they give the run's totals.
    const own = summary.shard ?? summary;
    metrics.recordRows({
      rowsRead: Math.max(0, own.rows_read - live.rows),
      rowsValid: own.rows_valid,
      bytesRead: summary.shard === undefined ? Math.max(0, summary.bytes - live.bytes) : 0,
      rejected: own.rejected_by_reason,
    });
    const seconds = (performance.now() - started) / 1000;
    progress?.stop(
      `interactions: ${summary.rows_read} rows read, ${summary.rows_valid} valid, ${summary.rows_rejected} rejected in ${seconds.toFixed(2)} s`,
    );
    progress = undefined;
    return {
      ...summary,
      seconds: Math.round(seconds * 1000) / 1000,
      run_id: runId,
      ...(loader ? { pg: loader.stats() } : {}),
      ...(shardedLoader ? { pg: shardedLoader.stats() } : {}),
      ...(options.shuffle === undefined ? {} : { shuffle_bytes: shuffleBytes }),
    };
  } finally {
    progress?.stop();
    await loader?.close();
    await shardedLoader?.close();
    await session.close();
    if (options.pushgateway !== undefined) {
      // The final counters, for a job whose pods are gone before the next scrape; a failed push
      // is a warning, never the run's failure.
      const { pushRunMetrics } = await import('../metrics/pushgateway.js');
      await pushRunMetrics(metrics.registry, {
        url: options.pushgateway,
        job: 'interactions',
        runId,
        ...(sharded ? { shard: shardLabel } : {}),
      }).catch((err: unknown) => hooks.log?.(`warning: ${(err as Error).message}`));
    }
  }
}
