/**
 * The callsign job's outputs under --out (a local directory or an s3:// prefix), and the writers of
 * the single-object outputs. Every object goes through `storageFor(url).create(url)` … `commit()`,
 * so it appears whole or not at all, locally and on S3.
 */

import * as arrow from 'apache-arrow';
import { joinUrl, type ObjectWriter, type Storage } from 'shardflow/kernel';
import { encodeParquet } from './parquet-write.js';
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
 * (double, nullable). Memory: the columns, their Arrow copies and the Parquet bytes (one file is
 * the contract), never one object per row.
 */
export async function writeAggregated(
  storage: Storage,
  out: string,
  c: AggregatedColumns,
  order: Uint32Array,
): Promise<void> {
  const urls = callsignOutputs(out);
  const pick = <T>(column: T[]): T[] => Array.from(order, (i) => column[i]);
  const bytes = encodeParquet(
    {
      profile_id: arrow.vectorFromArray(pick(c.profile), new arrow.Utf8()),
      session_id: arrow.vectorFromArray(pick(c.session), new arrow.Utf8()),
      collections: arrow.vectorFromArray(
        Array.from(order, (i) => BigInt(c.collections[i])),
        new arrow.Int64(),
      ),
      weighted_mean_score: arrow.vectorFromArray(pick(c.weighted), new arrow.Float64()),
      mean_swipe_score: arrow.vectorFromArray(pick(c.swipe), new arrow.Float64()),
      failed_keystroke_predictions: arrow.vectorFromArray(
        Array.from(order, (i) => BigInt(c.failed[i])),
        new arrow.Int64(),
      ),
    },
    { plainColumns: ['weighted_mean_score', 'mean_swipe_score'] },
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

/** Writes one rejects part: `source, line (int64), reason, raw` as Parquet. */
export async function writeRejectsPart(storage: Storage, url: string, rows: RejectRow[]): Promise<void> {
  const bytes = encodeParquet({
    source: arrow.vectorFromArray(
      rows.map((r) => r.source),
      new arrow.Utf8(),
    ),
    line: arrow.vectorFromArray(
      rows.map((r) => BigInt(r.line)),
      new arrow.Int64(),
    ),
    reason: arrow.vectorFromArray(
      rows.map((r) => r.reason),
      new arrow.Utf8(),
    ),
    raw: arrow.vectorFromArray(
      rows.map((r) => r.raw),
      new arrow.Utf8(),
    ),
  });
  await writeObject(storage, url, bytes);
}
