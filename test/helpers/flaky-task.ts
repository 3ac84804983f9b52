/**
 * A worker module for WorkerPool tests (`filename` option): task `id` throws a ShardflowError on
 * its first `failures` attempts, then returns how many attempts it took. Attempts are counted in a
 * SharedArrayBuffer, so a retry on another thread sees them.
 */

import { errorForThread, ShardflowError } from '../../errors.js';

/** What the test posts as a task. */
export interface FlakyTask {
  id: number;
  /** Attempts that throw before one succeeds. */
  failures: number;
  /** Whether the thrown error says retrying may help. */
  retryable: boolean;
  /** Int32 attempt counters, one per task id. */
  attempts: SharedArrayBuffer;
}

export default function flakyTask(message: { task: FlakyTask }): { id: number; attempt: number } {
  const { id, failures, retryable, attempts } = message.task;
  const attempt = Atomics.add(new Int32Array(attempts), id, 1) + 1;
  if (attempt <= failures) {
    // As workers/task.ts hands it to the pool.
    throw errorForThread(
      new ShardflowError(retryable ? 'E_S3_UNAVAILABLE' : 'E_S3', `task ${id}: attempt ${attempt} failed`, {
        retryable,
      }),
    );
  }
  return { id, attempt };
}
