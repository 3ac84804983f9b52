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
import { readCsvSplit } from '../io/split-reader.js';
import { readJsonlSplit } from '../io/jsonl-split-reader.js';
import { fieldText, type CsvRecord } from '../io/csv-decoder.js';
import { joinUrl, writeObject } from '../io/storage.js';
import { escapeNul, isCleanText, storableText } from '../io/utf8-check.js';
import { hiveFolder, MAX_FOLDER_NAME_BYTES } from '../io/hive-path.js';
import { columnText, encodeRowsJsonl, encodeRowsParquet, encodeRowsCsv } from '../io/row-encode.js';
import { loadPgPart, type PgTableSpec } from '../io/pg-table-sink.js';
import { openSqlClient, type SqlClient } from '../io/sql-client.js';
import type { PgServerTarget } from '../io/pg-config.js';
import { isJobDefinition, isReject, stageState } from '../engine/define-job.js';
import { KeyedState, type EncodedPartials } from '../engine/keyed-state.js';
import {
  bindSchema,
  convertJson,
  convertText,
  normalizeHeaderName,
  type BoundSchema,
} from '../engine/schema.js';
import type {
  JobContext,
  JobDefinition,
  MapResult,
  OutputRow,
  StagedJobDefinition,
  StageSpec,
  Update,
} from '../engine/job-contract.js';

/** One split of one input file. */
export interface JobSplit {
  input: string;
  format: 'csv' | 'jsonl';
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
}

export interface JobReduceTask extends JobTaskBase {
  step: 'reduce';
  stage: number;
  partition: number;
  /** This partition's section of every upstream task's partials. */
  sections: Uint8Array[];
  /** Where file sinks write (the last stage only). */
  out: string;
  /** PostgreSQL sinks (the last stage only), with the run's ledger id. */
  pg?: { target: PgServerTarget; schema: string; runId: string };
}

export type JobTask = JobMapTask | JobReduceTask;

/** A reject as a task reports it; `line` counts from the split's first line (0-based). */
export interface TaskReject {
  line: number;
  reason: string;
  raw: string;
}

export interface JobMapResult {
  partials: EncodedPartials;
  rowsRead: number;
  rowsValid: number;
  rejected: Record<string, number>;
  rejects: TaskReject[];
  /** Physical lines the split owns (for the next split's first line number). */
  lines: number;
  sawQuotedNewline: boolean;
}

export interface JobReduceResult {
  partials: EncodedPartials | null;
  keys: number;
  rows: number;
  rejected: Record<string, number>;
  rejects: TaskReject[];
  files: { output: string; url: string; rows: number; bytes: number }[];
  pgRows: Record<string, number | null>;
}

/** Raw text kept for a reject. */
const RAW_CHARS = 4096;
/** A JSON Lines line longer than this is a reject `line_too_long`. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;
const POSITION_FILE = 2 ** 40;

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
  const job = (await loadJob(task.jobUrl)) as StagedJobDefinition;
  return task.step === 'map' ? mapSplit(job, task, onProgress) : reducePartition(job, task);
}

/** Applies a map result: counts, rejects, updates. */
class Folder {
  rowsRead = 0;
  rowsValid = 0;
  readonly rejected: Record<string, number> = {};
  readonly rejects: TaskReject[] = [];
  constructor(readonly state: KeyedState) {}

  reject(line: number, reason: string, raw: () => string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    this.rejects.push({ line, reason, raw: raw().slice(0, RAW_CHARS) });
  }

  apply(result: MapResult, line: number, position: number, raw: () => string): void {
    if (isReject(result)) return this.reject(line, result.reject, raw);
    this.rowsValid++;
    if (result === null || result === undefined) return;
    if (Array.isArray(result))
      for (const u of result as readonly Update[]) this.state.update(u.key, u.values, position);
    else this.state.update((result as Update).key, (result as Update).values, position);
  }
}

async function mapSplit(
  job: StagedJobDefinition,
  task: JobMapTask,
  onProgress?: (bytes: number, rows: number) => void,
): Promise<JobMapResult> {
  const { split } = task;
  const stage = job.stages[0];
  const folder = new Folder(new KeyedState(stageState(job, 0, task.options), task.partitions));
  const ctx: JobContext = Object.freeze({ options: task.options, input: split.input });
  const bound = bindSchema(job.inputs[split.input].schema, split.url, split.header);
  const base = split.fileIndex * POSITION_FILE;
  let reported = 0;
  const tick = () => {
    if (onProgress && folder.rowsRead - reported >= 4096) {
      onProgress(0, folder.rowsRead - reported);
      reported = folder.rowsRead;
    }
  };
  let lines: number;
  let sawQuotedNewline = false;
  if (split.format === 'csv') {
    const width = split.header?.length ?? 0;
    const read = await readCsvSplit({
      path: split.url,
      start: split.start,
      end: split.end,
      alignedStart: split.aligned,
      gzip: split.gzip,
      onBytes: (b) => onProgress?.(b, 0),
      onRecord: (rec) => {
        folder.rowsRead++;
        const raw = () =>
          Buffer.from(rec.buf.buffer, rec.buf.byteOffset, rec.buf.byteLength).toString(
            'utf8',
            rec.rawStart,
            rec.rawEnd,
          );
        const record = csvRecord(rec, bound, width);
        if (typeof record === 'string') folder.reject(rec.line, record, raw);
        else folder.apply(callMap(stage, record, ctx), rec.line, base + rec.offset, raw);
        tick();
      },
    });
    lines = read.lines;
    sawQuotedNewline = read.sawQuotedNewline;
  } else {
    let line = -1;
    let offset = split.start;
    const read = await readJsonlSplit({
      url: split.url,
      start: split.start,
      end: split.end,
      maxLineBytes: MAX_LINE_BYTES,
      onBytes: (b) => onProgress?.(b, 0),
      onLine: (text, tooLong) => {
        line++;
        if (!tooLong && text.trim() === '') return;
        folder.rowsRead++;
        if (tooLong) folder.reject(line, 'line_too_long', () => escapeNul(text));
        else folder.apply(jsonRecordResult(text, bound, stage, ctx), line, base + offset++, () => text);
        tick();
      },
      onLineBytes: (buf, start, end) => {
        line++;
        const position = base + offset++;
        if (isBlank(buf, start, end)) return;
        folder.rowsRead++;
        const raw = () => storableText(buf, start, end);
        if (!isCleanText(buf, start, end)) return folder.reject(line, 'bad_encoding', raw);
        folder.apply(
          jsonRecordResult(buf.toString('utf8', start, end), bound, stage, ctx),
          line,
          position,
          raw,
        );
        tick();
      },
    });
    lines = read.lines;
  }
  onProgress?.(0, folder.rowsRead - reported);
  return {
    partials: folder.state.encode(),
    rowsRead: folder.rowsRead,
    rowsValid: folder.rowsValid,
    rejected: folder.rejected,
    rejects: folder.rejects,
    lines,
    sawQuotedNewline,
  };
}

function callMap(stage: StageSpec, record: Readonly<Record<string, unknown>>, ctx: JobContext): MapResult {
  try {
    return stage.map(record, ctx);
  } catch (err) {
    throw new ShardflowError(
      'E_JOB_MAP',
      `stage "${stage.name}": map threw on a record: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

function isBlank(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 32 && buf[i] !== 9 && buf[i] !== 13) return false;
  return true;
}

/** A CSV record as the schema's object, or the reason it is rejected. */
function csvRecord(rec: CsvRecord, bound: BoundSchema, width: number): Record<string, unknown> | string {
  if (rec.malformed || rec.fieldCount !== width) return 'malformed_row';
  if (!isCleanText(rec.buf, rec.rawStart, rec.rawEnd)) return 'bad_encoding';
  const out: Record<string, unknown> = {};
  for (let c = 0; c < bound.names.length; c++) {
    const i = bound.fieldIndex[c];
    const text = i < 0 ? null : fieldText(rec, i);
    if (text === null || bound.nulls.has(text)) {
      if (bound.required[c]) return 'missing_field';
      out[bound.names[c]] = null;
      continue;
    }
    const v = convertText(text, bound.types[c]);
    if (typeof v === 'object') return v.reason;
    out[bound.names[c]] = v;
  }
  return out;
}

/** A JSON Lines record through the schema and the stage's map. */
function jsonRecordResult(text: string, bound: BoundSchema, stage: StageSpec, ctx: JobContext): MapResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { reject: 'bad_json' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { reject: 'not_an_object' };
  const out: Record<string, unknown> = {};
  for (const n of bound.names) out[n] = null;
  const seen = new Set<number>();
  for (const [k, v] of Object.entries(value)) {
    const c = bound.spellings.get(normalizeHeaderName(k, bound.rule));
    if (c === undefined) continue;
    if (seen.has(c)) return { reject: 'ambiguous_field' };
    seen.add(c);
    if (v === null || (typeof v === 'string' && bound.nulls.has(v.trim()))) continue;
    const converted = convertJson(v, bound.types[c]);
    if (typeof converted === 'object') return { reject: converted.reason };
    out[bound.names[c]] = converted;
  }
  for (let c = 0; c < bound.names.length; c++)
    if (bound.required[c] && out[bound.names[c]] === null) return { reject: 'missing_field' };
  return callMap(stage, out, ctx);
}

async function reducePartition(job: StagedJobDefinition, task: JobReduceTask): Promise<JobReduceResult> {
  const stage = job.stages[task.stage];
  const p = task.partition;
  const state = new KeyedState(stageState(job, task.stage, task.options), task.partitions);
  for (const section of task.sections) if (section.length > 0) state.mergeSection(p, section);
  const ctx: JobContext = Object.freeze({ options: task.options, input: stage.name });
  const rows: OutputRow[] = [];
  let keys = 0;
  for (const [key, values] of state.finalized(p)) {
    keys++;
    const out = stage.finalize ? stage.finalize(key, values, ctx) : { key, ...values };
    if (out === null || out === undefined) continue;
    if (Array.isArray(out)) rows.push(...(out as OutputRow[]));
    else rows.push(out as OutputRow);
  }
  const next = job.stages[task.stage + 1];
  if (next !== undefined) {
    const folder = new Folder(new KeyedState(stageState(job, task.stage + 1, task.options), task.partitions));
    const nextCtx: JobContext = Object.freeze({ options: task.options, input: stage.name });
    rows.forEach((row, i) => {
      folder.rowsRead++;
      folder.apply(callMap(next, row, nextCtx), i, p * 2 ** 32 + i, () => JSON.stringify(row));
    });
    return {
      partials: folder.state.encode(),
      keys,
      rows: rows.length,
      rejected: folder.rejected,
      rejects: folder.rejects,
      files: [],
      pgRows: {},
    };
  }
  return {
    partials: null,
    keys,
    rows: rows.length,
    rejected: {},
    rejects: [],
    ...(await writeSinks(job, task, rows)),
  };
}

const ENCODERS = { parquet: encodeRowsParquet, jsonl: encodeRowsJsonl, csv: encodeRowsCsv } as const;
const EXTENSIONS = { parquet: 'parquet', jsonl: 'jsonl', csv: 'csv' } as const;

/** Writes one partition's rows to every sink of the job. */
async function writeSinks(
  job: StagedJobDefinition,
  task: JobReduceTask,
  rows: OutputRow[],
): Promise<Pick<JobReduceResult, 'files' | 'pgRows'>> {
  const files: JobReduceResult['files'] = [];
  const pgRows: Record<string, number | null> = {};
  const part = `part-${String(task.partition).padStart(5, '0')}`;
  for (const [output, sink] of Object.entries(job.outputs)) {
    const where = `job "${job.name}", output "${output}", partition ${task.partition}`;
    if (sink.kind === 'pg') {
      if (task.pg === undefined) continue;
      const spec: PgTableSpec = {
        schema: task.pg.schema,
        table: sink.table,
        columns: sink.columns,
        mode: sink.mode,
        key: sink.key,
      };
      const client = await pgClient(task.pg.target);
      pgRows[output] = await loadPgPart(client, spec, task.pg.runId, task.partition, rows, where);
      continue;
    }
    if (sink.kind === 'report' || rows.length === 0) continue;
    if (sink.kind === 'hive') {
      // One part per folder value, the folders in sorted order.
      const groups = new Map<string, OutputRow[]>();
      for (const row of rows) {
        const value = columnText(row, sink.columns, sink.by, where) ?? '__HIVE_DEFAULT_PARTITION__'; // Hive's name for null
        let group = groups.get(value);
        if (group === undefined) groups.set(value, (group = []));
        group.push(row);
      }
      const columns = Object.fromEntries(Object.entries(sink.columns).filter(([c]) => c !== sink.by));
      for (const value of [...groups.keys()].sort()) {
        const folder = hiveFolder(sink.by, value);
        if (Buffer.byteLength(folder) > MAX_FOLDER_NAME_BYTES)
          throw new ShardflowError(
            'E_JOB_OUTPUT',
            `${where}: the folder name for "${value.slice(0, 40)}…" is over ${MAX_FOLDER_NAME_BYTES} bytes`,
          );
        const group = groups.get(value) as OutputRow[];
        const url = joinUrl(task.out, sink.path, folder, `${part}.${EXTENSIONS[sink.format]}`);
        const bytes = ENCODERS[sink.format](group, columns, `${where}, ${folder}`);
        await writeObject(url, [bytes]);
        files.push({ output, url, rows: group.length, bytes: bytes.length });
      }
      continue;
    }
    const url = joinUrl(task.out, sink.path, `${part}.${EXTENSIONS[sink.kind]}`);
    const bytes = ENCODERS[sink.kind](rows, sink.columns, where);
    await writeObject(url, [bytes]);
    files.push({ output, url, rows: rows.length, bytes: bytes.length });
  }
  return { files, pgRows };
}

const clients = new Map<string, Promise<SqlClient>>();

/** One small pool per worker thread and server; closed when the thread ends. */
function pgClient(target: PgServerTarget): Promise<SqlClient> {
  const id = JSON.stringify(target.config);
  let client = clients.get(id);
  if (client === undefined) {
    client = openSqlClient(target, { maxConnections: 1 });
    clients.set(id, client);
  }
  return client;
}
