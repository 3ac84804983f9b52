/**
 * The map task of an engine job: reads one split (CSV or JSON Lines), applies the rules before
 * `map` (field count, encoding, JSON, the schema's types and required values), calls the first
 * stage's `map` on each record and folds its updates into per-partition keyed state.
 *
 * Memory: one read block and the split's distinct keys with their states; rejects are spilled.
 */

import { readCsvSplit } from '../io/split-reader.js';
import { readJsonlSplit } from '../io/jsonl-split-reader.js';
import { readJsonArray } from '../io/json-array-reader.js';
import { fieldText, type CsvRecord } from '../io/csv-decoder.js';
import { escapeNul, isCleanText, storableText } from '../io/utf8-check.js';
import { stageState } from '../engine/define-job.js';
import { KeyedState } from '../engine/keyed-state.js';
import {
  bindSchema,
  convertJson,
  convertText,
  normalizeHeaderName,
  type BoundSchema,
} from '../engine/schema.js';
import type { JobContext, MapResult, StagedJobDefinition, StageSpec } from '../engine/job-contract.js';
import { RecordFolder, callMap } from './record-folder.js';
import { RejectsSpill } from './rejects-spill.js';
import type { JobMapResult, JobMapTask } from './job-task.js';

/** A JSON Lines line longer than this is a reject `line_too_long`. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** Positions (for `first()`): file index · 2^40 + byte offset. */
const POSITION_FILE = 2 ** 40;

/** What the format readers share: the stage, its context, the schema, counts and progress. */
interface SplitMapper {
  readonly task: JobMapTask;
  readonly stage: StageSpec;
  readonly ctx: JobContext;
  readonly bound: BoundSchema;
  readonly folder: RecordFolder;
  /** This file's positions start here (for `first()`): file index · 2^40. */
  readonly base: number;
  readonly onBytes: (bytes: number) => void;
  /** Counts one record read (live progress in batches). */
  tick(): void;
}

export async function mapSplit(
  job: StagedJobDefinition,
  task: JobMapTask,
  onProgress?: (bytes: number, rows: number) => void,
): Promise<JobMapResult> {
  const { split } = task;
  const folder = new RecordFolder(
    new KeyedState(stageState(job, 0, task.options), task.partitions),
    new RejectsSpill(task.rejectsSpill),
  );
  let reported = 0;
  const mapper: SplitMapper = {
    task,
    stage: job.stages[0],
    ctx: Object.freeze({ options: task.options, input: split.input }),
    bound: bindSchema(job.inputs[split.input].schema, split.url, split.header),
    folder,
    base: split.fileIndex * POSITION_FILE,
    onBytes: (b) => onProgress?.(b, 0),
    tick() {
      folder.rowsRead++;
      if (onProgress && folder.rowsRead - reported >= 4096) {
        onProgress(0, folder.rowsRead - reported);
        reported = folder.rowsRead;
      }
    },
  };
  const read: { lines: number; sawQuotedNewline?: boolean } =
    split.format === 'csv'
      ? await mapCsv(mapper)
      : split.format === 'jsonl'
        ? await mapJsonl(mapper)
        : await mapJsonArray(mapper);
  onProgress?.(0, folder.rowsRead - reported);
  return {
    partials: folder.state.encode(),
    rowsRead: folder.rowsRead,
    rowsValid: folder.rowsValid,
    rejected: folder.rejected,
    rejectsSpill: folder.spill.close(),
    lines: read.lines,
    sawQuotedNewline: read.sawQuotedNewline ?? false,
  };
}

/** CSV: the split's records through the field-count, encoding and schema rules, then `map`. */
async function mapCsv(m: SplitMapper): Promise<{ lines: number; sawQuotedNewline: boolean }> {
  const { split } = m.task;
  const width = split.header?.length ?? 0;
  return readCsvSplit({
    path: split.url,
    start: split.start,
    end: split.end,
    alignedStart: split.aligned,
    gzip: split.gzip,
    onBytes: m.onBytes,
    onRecord: (rec) => {
      m.tick();
      const raw = () => storableText(rec.buf, rec.rawStart, rec.rawEnd);
      const record = csvRecord(rec, m.bound, width);
      if (typeof record === 'string') m.folder.reject(rec.line, record, raw);
      else m.folder.apply(callMap(m.stage, record, m.ctx), rec.line, m.base + rec.offset, raw);
    },
  });
}

/** JSON Lines: each non-blank line checked for encoding, parsed, then through the schema and `map`. */
async function mapJsonl(m: SplitMapper): Promise<{ lines: number }> {
  const { split } = m.task;
  let line = -1;
  // Positions grow with the file: a line's is at most its byte offset (each line ≥ 1 byte).
  let position = m.base + split.start;
  return readJsonlSplit({
    url: split.url,
    start: split.start,
    end: split.end,
    maxLineBytes: MAX_LINE_BYTES,
    onBytes: m.onBytes,
    onLine: (text, tooLong) => {
      line++;
      position++;
      if (!tooLong && text.trim() === '') return;
      m.tick();
      if (tooLong) m.folder.reject(line, 'line_too_long', () => escapeNul(text));
      else m.folder.apply(jsonResult(parseJson(text), m), line, position, () => text);
    },
    onLineBytes: (buf, start, end) => {
      line++;
      position++;
      if (isBlank(buf, start, end)) return;
      m.tick();
      const raw = () => storableText(buf, start, end);
      if (!isCleanText(buf, start, end)) return m.folder.reject(line, 'bad_encoding', raw);
      m.folder.apply(jsonResult(parseJson(buf.toString('utf8', start, end)), m), line, position, raw);
    },
  });
}

/** A JSON array: each element (its `line` is its 1-based place in the array), schema, `map`. */
async function mapJsonArray(m: SplitMapper): Promise<{ lines: number }> {
  const { elements } = await readJsonArray({
    url: m.task.split.url,
    onBytes: m.onBytes,
    onElement: (value, index) => {
      m.tick();
      const raw = () => escapeNul(JSON.stringify(value) ?? String(value));
      m.folder.apply(jsonResult(value, m), index, m.base + index, raw);
    },
  });
  return { lines: elements };
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

const BAD_JSON = Symbol('bad json');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return BAD_JSON;
  }
}

/** A parsed JSON value through the schema (keys matched by the header rule) and the stage's map. */
function jsonResult(value: unknown, m: SplitMapper): MapResult {
  const { bound } = m;
  if (value === BAD_JSON) return { reject: 'bad_json' };
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
  return callMap(m.stage, out, m.ctx);
}
