/**
 * `shardflow run callsign`: wires the job to the worker pool, live progress and metrics, and
 * returns the summary and the validation report the CLI prints.
 */

import { startProgress, type Progress } from '../metrics/progress.js';
import { openRunSession } from './run-session.js';
import { expandCallsignInputs, runCallsign, type CallsignSummary } from '../jobs/callsign/run.js';
import { computeRunId } from './run-id.js';
import { checkOutDirectory } from './run-options.js';
import { configureStorage } from '../io/storage.js';
import { REJECT_REASONS } from '../jobs/callsign/normalize-record.js';
import type { ValidationReport } from '../jobs/callsign/validation-report.js';
import type { CallsignTask } from '../jobs/callsign/tasks.js';
import type { CallsignRunOptions } from './callsign-options.js';

export interface RunCallsignHooks {
  log?: (line: string) => void;
}

export async function runCallsignCommand(
  options: CallsignRunOptions,
  hooks: RunCallsignHooks = {},
): Promise<{ summary: CallsignSummary & { seconds: number; run_id: string }; report: ValidationReport }> {
  const started = performance.now();
  // The inputs are expanded once, first: the run id is made of their identity.
  configureStorage(options.storage);
  await checkOutDirectory(options.out);
  const files = await expandCallsignInputs(options);
  const runId = computeRunId(
    'callsign',
    files.map(({ info }) => ({ path: info.url, size: info.size, version: info.version })),
    {
      // Which files are collections: the same files split differently are another run.
      collectionFiles: files.filter((f) => f.kind === 'collections').length,
      out: options.out,
      partitions: options.partitions,
      splitBytes: options.splitBytes,
    },
  );
  const session = await openRunSession({
    job: 'callsign',
    runId,
    reasons: REJECT_REASONS,
    workers: options.workers,
    storage: options.storage,
    metricsPort: options.metricsPort,
    tmpDir: options.tmpDir,
    log: hooks.log,
  });
  const { metrics, pool, counters, live } = session;
  let progress: Progress | undefined;
  try {
    const { summary, report } = await runCallsign(
      {
        collections: options.collections,
        predictions: options.predictions,
        files,
        out: options.out,
        partitions: options.partitions,
        splitBytes: options.splitBytes,
        tmpDir: session.scratch.path,
        onPlan: (totalBytes) => {
          if (options.progress)
            progress = startProgress({ label: 'callsign', totalBytes, read: () => counters.read() });
        },
        onPhase: (phase) => progress?.setPhase(phase),
      },
      <R>(stage: string, tasks: CallsignTask[]) => pool.runAll<R>('callsign', stage, tasks),
    );
    session.stopFeed();
    metrics.recordRows({
      rowsRead: Math.max(0, summary.rows_read - live.rows),
      rowsValid: summary.rows_valid,
      bytesRead: Math.max(0, summary.bytes - live.bytes),
      rejected: summary.rejected_by_reason,
    });
    const seconds = (performance.now() - started) / 1000;
    progress?.stop(
      `callsign: ${summary.rows_read} lines read, ${summary.rows_valid} accepted, ${summary.rows_rejected} rejected in ${seconds.toFixed(2)} s`,
    );
    progress = undefined;
    return { summary: { ...summary, seconds: Math.round(seconds * 1000) / 1000, run_id: runId }, report };
  } finally {
    progress?.stop();
    await session.close();
  }
}
