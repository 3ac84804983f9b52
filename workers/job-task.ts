/**
 * The engine's tasks in a worker thread, for any job: the job module is imported by URL (once per
 * thread), so no list of jobs exists anywhere in the engine.
 *
 * - map: read one split (CSV or JSON Lines), check each record's encoding and schema, call the
 *   first stage's `map`, and fold its updates into per-partition keyed state.
 * - reduce: merge one partition's sections from every upstream task, finalize each key, then
 *   either map the rows into the next stage's keyed state or write them to the job's sinks.
 */

import { ShardflowError } from '../errors.js';
import type { PgServerTarget } from '../io/pg-config.js';
import { isJobDefinition } from '../engine/define-job.js';
import type { EncodedPartials } from '../engine/keyed-state.js';
import type { JobDefinition, StagedJobDefinition } from '../engine/job-contract.js';
import { mapSplit } from './map-split.js';
import { reducePartition } from './reduce-partition.js';
import { writeRejectsParts, type RejectsPartTask } from './rejects-spill.js';

export type { RejectsPartTask };

/** One split of one input file. */
export interface JobSplit {
  input: string;
  format: 'csv' | 'jsonl' | 'json-array';
  url: string;
  /** The file's place in the plan (input order): positions are fileIndex·2^40 + byte offset. */
  fileIndex: number;
  start: number;
  end: number;
  /** `start` is a record start (the first byte after the header, or 0). */
  aligned: boolean;
  gzip: boolean;
  /** The CSV header's names (null for JSON Lines). */
  header: string[] | null;
}

interface JobTaskBase {
  kind: 'job';
  jobUrl: string;
  options: Record<string, unknown>;
  partitions: number;
}

export interface JobMapTask extends JobTaskBase {
  step: 'map';
  split: JobSplit;
  /** Which shard runs it (mod N): its split number, so its spill stays with the rejects task. */
  owner: number;
  /** Where this task spills its rejects (the run's scratch directory). */
  rejectsSpill: string;
}

export interface JobReduceTask extends JobTaskBase {
  step: 'reduce';
  stage: number;
  partition: number;
  /** This partition's section of every upstream task's partials. */
  sections: Uint8Array[];
  /** Where file sinks write (the last stage only). */
  out: string;
  /** Where the next stage's map spills its rejects (a re-key). */
  rejectsSpill: string;
  /** PostgreSQL sinks (the last stage only), with the run's ledger id. */
  pg?: { target: PgServerTarget; schema: string; runId: string };
}

export type JobTask = JobMapTask | JobReduceTask | RejectsPartTask;

export interface JobMapResult {
  partials: EncodedPartials;
  rowsRead: number;
  rowsValid: number;
  rejected: Record<string, number>;
  /** The spill of this task's rejects (lines from the split's first, 0-based); null for none. */
  rejectsSpill: string | null;
  /** Physical lines the split owns (for the next split's first line number). */
  lines: number;
  sawQuotedNewline: boolean;
}

export interface JobReduceResult {
  partials: EncodedPartials | null;
  keys: number;
  rows: number;
  rejected: Record<string, number>;
  /** The spill of the rows the next stage's map rejected; null for none. */
  rejectsSpill: string | null;
  files: { output: string; url: string; rows: number; bytes: number }[];
  pgRows: Record<string, number | null>;
}

const jobs = new Map<string, Promise<JobDefinition>>();

/** The job module at `url`, imported once per thread. */
export function loadJob(url: string): Promise<JobDefinition> {
  let job = jobs.get(url);
  if (job === undefined) {
    job = import(url).then((mod: { default?: unknown }) => {
      if (!isJobDefinition(mod.default))
        throw new ShardflowError(
          'E_NOT_A_JOB',
          `${url}: its default export is not a job (export default defineJob({...}))`,
          { exitCode: 2 },
        );
      return mod.default;
    });
    jobs.set(url, job);
  }
  return job;
}

/** A task of a kernel job: its module's `kernel.runTask`. */
export async function runKernelTask(
  jobUrl: string,
  task: unknown,
  onProgress?: (bytes: number, rows: number) => void,
): Promise<unknown> {
  const job = await loadJob(jobUrl);
  if (job.kernel === undefined)
    throw new ShardflowError('E_NOT_A_JOB', `${jobUrl}: a kernel task for a job without a kernel`);
  return job.kernel.runTask(task, onProgress);
}

export async function runJobTask(
  task: JobTask,
  onProgress?: (bytes: number, rows: number) => void,
): Promise<unknown> {
  if (task.step === 'rejects') return writeRejectsParts(task, 'engine');
  const job = (await loadJob(task.jobUrl)) as StagedJobDefinition;
  return task.step === 'map' ? mapSplit(job, task, onProgress) : reducePartition(job, task);
}
