/**
 * The piscina task entry: one message in (an engine task, or a kernel job's task with its module's
 * URL; the shared progress counters), one result out. Byte arrays in a result are moved, not cloned; shared buffers cross
 * as they are.
 */

import { move, transferableSymbol, valueSymbol } from 'piscina';
import { LiveCounters } from '../metrics/live-counters.js';
import { abortWritersOnRequest, configureStorage, type StorageOptions } from '../io/storage.js';
import { runJobTask, runKernelTask, type JobTask } from './job-task.js';
import { errorForThread } from '../errors.js';

/** What the coordinator posts to a worker. */
export interface WorkerMessage {
  /** A kernel job's module: the task goes to its `kernel.runTask`. */
  jobUrl?: string;
  /** An engine task ({@link JobTask}), or a task of the kernel job named by `jobUrl`. */
  task: unknown;
  counters?: SharedArrayBuffer;
  /** How this thread reaches S3 (the coordinator's storage options). */
  storage?: StorageOptions;
}

// A run stopped by a signal asks every thread to abort its uploads before the pool ends them.
abortWritersOnRequest();

/** Collects the non-shared ArrayBuffers of typed arrays directly under `value`. */
function transferables(value: unknown): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  if (value === null || typeof value !== 'object') return out;
  for (const v of Object.values(value)) {
    if (
      ArrayBuffer.isView(v) &&
      v.buffer instanceof ArrayBuffer &&
      v.byteOffset === 0 &&
      v.byteLength === v.buffer.byteLength
    ) {
      out.push(v.buffer);
    }
  }
  return out;
}

/**
 * The piscina entry. A thrown ShardflowError crosses to the pool as a plain object (see
 * errorForThread): the pool needs its code, exit code and whether retrying may help.
 */
export default function task(message: WorkerMessage): Promise<unknown> {
  return runTask(message).catch((err: unknown) => {
    throw errorForThread(err);
  });
}

async function runTask(message: WorkerMessage): Promise<unknown> {
  configureStorage(message.storage ?? {});
  const counters = message.counters ? LiveCounters.from(message.counters) : null;
  const onProgress = counters
    ? (bytes: number, rows: number) => {
        if (bytes > 0) counters.addBytes(bytes);
        if (rows > 0) counters.addRows(rows);
      }
    : undefined;
  const result =
    message.jobUrl !== undefined
      ? await runKernelTask(message.jobUrl, message.task, onProgress)
      : await runJobTask(message.task as JobTask, onProgress);
  const list = transferables(result);
  if (list.length === 0) return result;
  return move({ [transferableSymbol]: list, [valueSymbol]: result } as never);
}
