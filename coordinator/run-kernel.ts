/**
 * The run loop of a kernel job (a job whose stages are its own code, behind the contract): the
 * engine expands its inputs, makes the run id, opens the session (pool, metrics, scratch,
 * signals, progress, shuffle) and hands the kernel a context to run its stages with; then it
 * writes `_SUCCESS` last and completes the summary. See engine/job-contract.ts, KernelSpec.
 */

import type { InputFile } from '../io/input-paths.js';
import { expandJobInputs } from './job-plan.js';
import { joinUrl, storageFor, writeObject } from '../io/storage.js';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { JobMetric, KernelContext, KernelSpec } from '../engine/job-contract.js';
import type { PgServerTarget } from '../io/pg-config.js';
import type { SqlClient } from '../io/sql-client.js';
import { jobRunId, withRunSession, type JobRunOptions, type KernelRunSummary } from './run-job.js';

const SUCCESS = '_SUCCESS';

/** The configured server, else PGlite persisted in `stateDir` (see KernelContext.openSql). */
async function openJobSql(server: PgServerTarget | undefined, stateDir: string): Promise<SqlClient> {
  const { openSqlClient } = await import('../io/sql-client.js');
  if (server !== undefined) return openSqlClient(server);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(stateDir, { recursive: true });
  return openSqlClient({ kind: 'embedded', dataDir: stateDir, display: `pglite:${stateDir}` });
}

/** A job's own counter or gauge in the run's registry; asking twice for a name returns the same one. */
function jobMetric(
  registry: Registry,
  kind: 'counter' | 'gauge',
  name: string,
  help: string,
  labelNames: readonly string[] = [],
): JobMetric {
  const metric =
    (registry.getSingleMetric(name) as Counter | Gauge | undefined) ??
    (kind === 'counter'
      ? new Counter({ name, help, labelNames, registers: [registry] })
      : new Gauge({ name, help, labelNames, registers: [registry] }));
  return {
    inc: (labels = {}, value = 1) => metric.inc(labels, value),
    set: (labels = {}, value) => {
      if (!(metric instanceof Gauge)) throw new TypeError(`${name} is a counter; only a gauge is set`);
      metric.set(labels, value);
    },
  };
}

export async function runKernelJob(options: JobRunOptions): Promise<KernelRunSummary> {
  const { job } = options;
  const kernel = job.kernel as KernelSpec;
  const files = await expandJobInputs(job, options.inputs);
  const inputs: Record<string, InputFile[]> = Object.fromEntries(Object.keys(job.inputs).map((n) => [n, []]));
  for (const { input, info } of files) inputs[input].push(info);
  const runId = options.runId ?? jobRunId(options, files);
  const summary = await withRunSession(options, runId, kernel.reasons, async (run) => {
    const { pool, metrics } = run.session;
    const runTasks = run.runner<unknown>(kernel.owner, (stage, tasks) =>
      pool.runAll(stage, tasks as never[], options.jobUrl),
    );
    const lead = runTasks.leadShard ?? ((_step: string, fn: () => Promise<void>) => fn());
    // A failed rerun must not leave the last run's marker: it goes first and comes back last.
    await lead('begin', async () => (await storageFor(options.out)).delete(joinUrl(options.out, SUCCESS)));
    const ctx: KernelContext = Object.freeze({
      options: options.jobOptions,
      inputs,
      out: options.out,
      partitions: options.partitions,
      splitBytes: options.splitBytes,
      shard: options.shard,
      runId,
      scratch: run.session.scratch.path,
      ...(options.pg ? { pg: { target: options.pg, schema: options.pgSchema } } : {}),
      runTasks,
      signal: run.session.stopSignal,
      openSql: (stateDir: string) => openJobSql(options.pg, stateDir),
      metric: (kind, name, help, labelNames) => jobMetric(metrics.registry, kind, name, help, labelNames),
      onPlan: (bytes: number) => run.startProgress(bytes),
      onPhase: (phase: string) => run.setPhase(phase),
      recordRows: (s) =>
        metrics.recordRows({
          rowsRead: s.rowsRead ?? 0,
          rowsValid: s.rowsValid,
          bytesRead: s.bytesRead ?? 0,
          rejected: s.rejected,
        }),
      log: (line: string) => options.log?.(line),
    } satisfies KernelContext);
    const result = await kernel.run(ctx);
    await lead('success', async () => {
      // A run killed while writing `_SUCCESS` left its temporary file beside it.
      await (await storageFor(options.out)).deleteUnfinished(options.out, false);
      await writeObject(joinUrl(options.out, SUCCESS), []);
    });
    return { job: job.name, ...result, run_id: runId };
  });
  return summary as KernelRunSummary;
}
