/**
 * The callsign job's outputs under --out (a local directory or an s3:// prefix), and the writers of
 * the single-object outputs. Every object goes through `storageFor(url).create(url)` … `commit()`,
 * so it appears whole or not at all, locally and on S3.
 */

import {
  encodeParquetColumns,
  joinUrl,
  wordsFromNumbers,
  type ObjectWriter,
  type ParquetColumn,
  type Storage,
} from 'shardflow/kernel';
import type { SessionRow } from './session-partial.js';
import type { CallsignReduceResult } from './tasks.js';

/** Top-level output names (folders under --out), in the order a run removes and writes them. */
export const CALLSIGN_OUTPUT_DIRS = [
  'labels',
  'predictions',
  'aggregated-result',
  'validation',
  'rejects',
] as const;

/** Reject rows per rejects part file. */
export const REJECTS_PART_ROWS = 65_536;

/** Rows per row group of data.parquet: bounds the writer's per-chunk buffers, lets readers prune. */
export const AGGREGATED_ROW_GROUP_ROWS = 131_072;

/** URLs of the outputs under `out`. */
export function callsignOutputs(out: string) {
  return {
    labels: joinUrl(out, 'labels'),
    predictions: joinUrl(out, 'predictions'),
    aggregated_parquet: joinUrl(out, 'aggregated-result', 'data.parquet'),
    aggregated_jsonl: joinUrl(out, 'aggregated-result', 'data.jsonl'),
    report: joinUrl(out, 'validation', 'report.json'),
    rejects: joinUrl(out, 'rejects'),
  };
}

/** `part-00042.parquet`. */
export function rejectsPartName(index: number): string {
  return `part-${String(index).padStart(5, '0')}.parquet`;
}

/** Writes `bytes` as the object `url`, committed. */
export async function writeObject(storage: Storage, url: string, bytes: Uint8Array): Promise<void> {
  const writer = storage.create(url);
  try {
    await writer.write(bytes);
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/** Text lines to an object writer in batches of about 1 MiB (each batch awaited: bounded memory). */
export class LineBatcher {
  readonly #writer: ObjectWriter;
  #lines: string[] = [];
  #chars = 0;

  constructor(writer: ObjectWriter) {
    this.#writer = writer;
  }

  async push(line: string): Promise<void> {
    this.#lines.push(line);
    this.#chars += line.length + 1;
    if (this.#chars >= 1 << 20) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#lines.length === 0) return;
    const text = `${this.#lines.join('\n')}\n`;
    this.#lines = [];
    this.#chars = 0;
    await this.#writer.write(Buffer.from(text, 'utf8'));
  }
}

/** The aggregated rows as columns (one entry per row in each), as the reduce tasks return them. */
export type AggregatedColumns = CallsignReduceResult['rows'];

/**
 * `aggregated-result/data.parquet` and `data.jsonl` from the rows `order` lists (sorted by
 * profile_id, session_id). Columns: profile_id, session_id (string, null when the lines had none),
 * collections and failed_keystroke_predictions (int64), weighted_mean_score and mean_swipe_score
 * (double, null when there was nothing to average); every column OPTIONAL, as the Arrow writer
 * before made them. Row groups of {@link AGGREGATED_ROW_GROUP_ROWS}, with min/max statistics on
 * every column (the ids' included, what a reader of one profile prunes by). Memory: the columns,
 * their typed copies in output order and the Parquet bytes (one file is the contract), never one
 * object per row.
 */
export async function writeAggregated(
  storage: Storage,
  out: string,
  c: AggregatedColumns,
  order: Uint32Array,
): Promise<void> {
  const urls = callsignOutputs(out);
  const n = order.length;
  const numbers = (column: number[]) => Float64Array.from(order, (i) => column[i]);
  const doubles = (name: string, column: (number | null)[]): ParquetColumn => {
    const nulls = Uint8Array.from(order, (i) => (column[i] === null ? 1 : 0));
    const values = Float64Array.from(order, (i) => column[i] ?? 0);
    return { name, kind: 'double', values, nulls, statistics: true };
  };
  const bytes = encodeParquetColumns(
    n,
    [
      utf8Column('profile_id', n, (k) => c.profile[order[k]], true),
      utf8Column('session_id', n, (k) => c.session[order[k]], true),
      {
        name: 'collections',
        kind: 'count',
        values: numbers(c.collections),
        nulls: new Uint8Array(n),
        statistics: true,
      },
      doubles('weighted_mean_score', c.weighted),
      doubles('mean_swipe_score', c.swipe),
      {
        name: 'failed_keystroke_predictions',
        kind: 'count',
        values: numbers(c.failed),
        nulls: new Uint8Array(n),
        statistics: true,
      },
    ],
    'shardflow',
    { rowGroupRows: AGGREGATED_ROW_GROUP_ROWS },
  );
  await writeObject(storage, urls.aggregated_parquet, bytes);
  const writer = storage.create(urls.aggregated_jsonl);
  try {
    const lines = new LineBatcher(writer);
    for (const i of order) await lines.push(JSON.stringify(sessionRow(c, i)));
    await lines.flush();
    await writer.commit();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/** Row `i` of the aggregated columns as the output row (the JSON Lines object, the table row). */
export function sessionRow(c: AggregatedColumns, i: number): SessionRow {
  return {
    profile_id: c.profile[i],
    session_id: c.session[i],
    collections: c.collections[i],
    weighted_mean_score: c.weighted[i],
    mean_swipe_score: c.swipe[i],
    failed_keystroke_predictions: c.failed[i],
  };
}

/** One reject row. */
export interface RejectRow {
  source: string;
  line: number;
  reason: string;
  raw: string;
}

/**
 * Writes one rejects part: `source, line (int64), reason, raw` as Parquet, one row group (a part
 * holds at most {@link REJECTS_PART_ROWS} rows); every column OPTIONAL, as the Arrow writer before
 * made them; min/max statistics on all but `raw` (whole input lines, of no use to prune by).
 */
export async function writeRejectsPart(storage: Storage, url: string, rows: RejectRow[]): Promise<void> {
  const n = rows.length;
  const bytes = encodeParquetColumns(
    n,
    [
      dictionaryColumn('source', rows, (r) => r.source),
      {
        name: 'line',
        kind: 'int64',
        words: wordsFromNumbers(rows.map((r) => r.line)),
        nulls: new Uint8Array(n),
        statistics: true,
      },
      dictionaryColumn('reason', rows, (r) => r.reason),
      utf8Column('raw', n, (k) => rows[k].raw, false),
    ],
    'shardflow',
  );
  await writeObject(storage, url, bytes);
}

/**
 * An OPTIONAL string column of `n` values, `value(k)` the k-th (null for a null row): one buffer
 * of UTF-8, no Buffer per value. A lone surrogate becomes U+FFFD, as any UTF-8 encoder makes it.
 */
function utf8Column(
  name: string,
  n: number,
  value: (k: number) => string | null,
  statistics: boolean,
): ParquetColumn {
  const nulls = new Uint8Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) {
    const v = value(k);
    if (v === null) nulls[k] = 1;
    else total += Buffer.byteLength(v, 'utf8');
  }
  if (total > 0x7fffffff) throw new RangeError(`column ${name}: ${total} bytes of text, over 2 GiB`);
  const bytes = Buffer.allocUnsafe(total);
  const offsets = new Int32Array(n + 1);
  let at = 0;
  for (let k = 0; k < n; k++) {
    const v = value(k);
    if (v !== null) at += bytes.write(v, at, 'utf8');
    offsets[k + 1] = at;
  }
  return { name, kind: 'string', offsets, bytes, nulls, statistics };
}

/**
 * An OPTIONAL, never null, dictionary-encoded string column of few distinct values (a part's
 * source files and reasons), with statistics; a plain string column past 65,536 distinct values.
 */
function dictionaryColumn<T>(name: string, rows: readonly T[], value: (row: T) => string): ParquetColumn {
  const slots = new Map<string, number>();
  const indices = new Uint16Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const v = value(rows[k]);
    let slot = slots.get(v);
    if (slot === undefined) {
      if (slots.size === 65_536) return utf8Column(name, rows.length, (i) => value(rows[i]), true);
      slots.set(v, (slot = slots.size));
    }
    indices[k] = slot;
  }
  return {
    name,
    kind: 'dictionary-string',
    indices,
    dictionary: [...slots.keys()],
    nulls: new Uint8Array(rows.length),
    statistics: true,
  };
}
