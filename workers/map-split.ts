/**
 * The map task of an engine job: reads one split (CSV or JSON Lines), applies the rules before
 * `map` (field count, encoding, JSON, the schema's types and required values), calls the first
 * stage's `map` on each record and folds its updates into per-partition keyed state.
 *
 * Memory: one read block and the split's distinct keys with their states; rejects are spilled.
 */

import { readCsvSplit } from '../io/split-reader.js';
import { readJsonlSplit } from '../io/jsonl-split-reader.js';
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

export async function mapSplit(
  job: StagedJobDefinition,
  task: JobMapTask,
  onProgress?: (bytes: number, rows: number) => void,
): Promise<JobMapResult> {
  const { split } = task;
  const stage = job.stages[0];
  const folder = new RecordFolder(
    new KeyedState(stageState(job, 0, task.options), task.partitions),
    new RejectsSpill(task.rejectsSpill),
  );
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
        const raw = () => storableText(rec.buf, rec.rawStart, rec.rawEnd);
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
    rejectsSpill: folder.spill.close(),
    lines,
    sawQuotedNewline,
  };
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
