/**
 * Runs one task of the callsign job in a worker: the job's entry for the worker pool. The reduce
 * stage (and the S3 client it may load) is loaded on first use.
 */

import { runMapStage } from './map-stage.js';
import type { CallsignTask } from './tasks.js';

/** Dispatches `task` to its stage; `onProgress` receives bytes read and rows decoded as they go. */
export async function runCallsignTask(
  task: CallsignTask,
  onProgress?: (bytes: number, rows: number) => void,
): Promise<unknown> {
  switch (task.stage) {
    case 'map':
      return runMapStage(task, onProgress);
    case 'reduce':
      return (await import('./reduce-stage.js')).runReduceStage(task);
  }
}
