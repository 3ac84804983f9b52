/**
 * Runs one task of the interactions job in a worker: the job's entry for the worker pool. The
 * stages after map and dedup are loaded on first use.
 */

import { runMapStage } from './map-stage.js';
import { runDedupStage } from './dedup-stage.js';
import type { InteractionsTask } from './tasks.js';

/** Dispatches `task` to its stage; `onProgress` receives bytes read and rows decoded as they go. */
export async function runInteractionsTask(
  task: InteractionsTask,
  onProgress?: (bytes: number, rows: number) => void,
): Promise<unknown> {
  switch (task.stage) {
    case 'map':
      return runMapStage(task, onProgress);
    case 'dedup':
      return runDedupStage(task);
    case 'correct':
      return (await import('./correct-stage.js')).runCorrectStage(task);
    case 'rejects':
      return (await import('./rejects-stage.js')).runRejectsStage(task);
    case 'merge':
      return (await import('./merge-stage.js')).runMergeStage(task);
    case 'write':
      return (await import('./write-stage.js')).runWriteStage(task);
  }
}
