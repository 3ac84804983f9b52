/**
 * Plans a job's inputs: expands each declared input's paths (files, directories, globs, s3://),
 * binds its schema to each CSV file's header (a missing column or an ambiguous header stops here,
 * before any work), and cuts every file into splits. The same input gives the same plan on every
 * shard.
 */

import { InputError } from '../errors.js';
import { expandInputs, type InputFile } from '../io/input-paths.js';
import { readCsvHeader } from '../io/csv-header.js';
import { planSplitRanges } from '../partitioners/plan-splits.js';
import { bindSchema } from '../engine/schema.js';
import type { JobDefinition } from '../engine/job-contract.js';
import type { JobSplit } from '../workers/job-task.js';

/** One input file in the plan. */
export interface PlannedFile {
  input: string;
  info: InputFile;
  /** Lines before the first data line (the header's), for reject line numbers. */
  headerLines: number;
}

export interface JobPlan {
  files: PlannedFile[];
  splits: JobSplit[];
  /** Bytes of every file. */
  bytes: number;
}

/** Each declared input's files, expanded (files, directories, globs, s3://), in input order. */
export async function expandJobInputs(
  job: JobDefinition,
  paths: Readonly<Record<string, readonly string[]>>,
): Promise<{ input: string; info: InputFile }[]> {
  const files: { input: string; info: InputFile }[] = [];
  for (const input of Object.keys(job.inputs))
    for (const info of await expandInputs(paths[input] ?? [])) files.push({ input, info });
  return files;
}

/** Plans `paths` (input name → paths as given) for `job`. */
export async function planJobInputs(
  job: JobDefinition,
  paths: Readonly<Record<string, readonly string[]>>,
  splitBytes: number,
): Promise<JobPlan> {
  const files: PlannedFile[] = [];
  const splits: JobSplit[] = [];
  let bytes = 0;
  for (const { input, info } of await expandJobInputs(job, paths)) {
    const spec = job.inputs[input];
    const fileIndex = files.length;
    const gzip = info.path.endsWith('.gz');
    bytes += info.size;
    if (spec.format === 'csv') {
      const header = await readCsvHeader(info.path, [], gzip);
      bindSchema(spec.schema, info.path, header.names); // fails early on a bad header
      const headerLines = 1 + header.names.reduce((n, name) => n + (name.split('\n').length - 1), 0);
      files.push({ input, info, headerLines });
      const ranges = gzip
        ? [{ start: header.dataStart, end: Infinity }]
        : planSplitRanges(info.size, splitBytes, header.dataStart);
      ranges.forEach((r, k) =>
        splits.push({
          input,
          format: 'csv',
          url: info.path,
          fileIndex,
          start: r.start,
          end: r.end,
          aligned: k === 0,
          gzip,
          header: header.names,
        }),
      );
    } else {
      if (gzip)
        throw new InputError(
          'E_UNSUPPORTED_INPUT',
          `${info.path}: gzip JSON inputs are not read yet; decompress it first`,
          { file: info.path },
        );
      files.push({ input, info, headerLines: 0 });
      // A JSON array is one split, streamed; JSON Lines are cut like CSV.
      const ranges =
        spec.format === 'json-array'
          ? [{ start: 0, end: info.size }]
          : planSplitRanges(info.size, splitBytes, 0);
      for (const r of ranges)
        splits.push({
          input,
          format: spec.format,
          url: info.path,
          fileIndex,
          start: r.start,
          end: r.end,
          aligned: r.start === 0,
          gzip: false,
          header: null,
        });
    }
  }
  return { files, splits, bytes };
}

/** The single split that replaces a CSV file's splits when a quoted field spans lines. */
export function wholeFileSplit(split: JobSplit): JobSplit {
  return { ...split, end: Infinity, aligned: true };
}
