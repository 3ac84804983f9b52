/**
 * The run loop of a kernel job (a job whose stages are its own code, behind the contract): the
 * engine expands its inputs, makes the run id, opens the session (pool, metrics, scratch,
 * signals, progress, shuffle) and hands the kernel a context to run its stages with; then it
 * writes `_SUCCESS` last and completes the summary. See engine/job-contract.ts, KernelSpec.
 */

import type { InputFile } from '../io/input-paths.js';
import { expandJobInputs } from './job-plan.js';
import { joinUrl, storageFor, writeObject } from '../io/storage.js';
import type { KernelContext, KernelSpec } from '../engine/job-contract.js';
import { jobRunId, withRunSession, type JobRunOptions, type KernelRunSummary } from './run-job.js';

const SUCCESS = '_SUCCESS';

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
