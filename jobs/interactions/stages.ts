/** Runs one task of the interactions job in a worker: the job's entry for the worker pool. */

import { runMapStage } from './map-stage.js';
import { runDedupStage } from './dedup-stage.js';
import { runCorrectStage } from './correct-stage.js';
import { runMergeStage } from './merge-stage.js';
import { runWriteStage } from './write-stage.js';
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
      return runCorrectStage(task);
    case 'merge':
      return runMergeStage(task);
    case 'write':
      return runWriteStage(task);
  }
}
