/**
 * A task's rejects, spilled to its own file in the run's scratch directory as JSON Lines
 * (`[line, reason, raw]`), then written as Parquet parts of the rejects output by a later task of
 * the same shard, once the line numbers of the file's earlier splits are known.
 *
 * Memory: a 1 MiB write buffer while spilling; {@link REJECTS_PART_ROWS} rows (raw text at most
 * 4,096 characters each) while writing a part.
 */

import { closeSync, openSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { encodeRowsParquet } from '../io/row-encode.js';
import { joinUrl, writeObject } from '../io/storage.js';

/** Raw text kept for a reject. */
export const RAW_CHARS = 4096;
/** Rows a rejects part holds at most; a split with more gets `part-NNNNN-0001.parquet` and on. */
export const REJECTS_PART_ROWS = 16_384;
const BUFFER_BYTES = 1 << 20;

/** The rejects output's columns. */
export const REJECT_COLUMNS = Object.freeze({
  source: 'string',
  line: 'int64?',
  reason: 'string',
  raw: 'string',
} as const);

/** Appends rejects to a spill file with blocking writes (a worker's own thread). */
export class RejectsSpill {
  readonly #path: string;
  #fd = -1;
  #buffer = '';
  count = 0;

  constructor(path: string) {
    this.#path = path;
  }

  add(line: number, reason: string, raw: string): void {
    this.#buffer += `${JSON.stringify([line, reason, raw.slice(0, RAW_CHARS)])}\n`;
    this.count++;
    if (this.#buffer.length >= BUFFER_BYTES) this.#flush();
  }

  /** Writes what is buffered and closes the file; resolves to the path, or null for no rejects. */
  close(): string | null {
    if (this.count > 0) this.#flush();
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
    return this.count > 0 ? this.#path : null;
  }

  #flush(): void {
    if (this.#fd < 0) this.#fd = openSync(this.#path, 'w');
    writeSync(this.#fd, this.#buffer);
    this.#buffer = '';
  }
}

/** A rejects part task: one spill, its source, its first line (null: rows of a re-keying stage). */
export interface RejectsPartTask {
  kind: 'job';
  step: 'rejects';
  spill: string;
  /** The file the rejects came from, or `stage <name>`. */
  source: string;
  /** 1-based line of the split's first line, or null for no lines. */
  firstLine: number | null;
  /** `rejects/part-NNNNN` or `rejects/stage-S-part-PPPPP`, under --out. */
  url: string;
  /** Which shard runs it: the one that spilled (split or partition number). */
  owner: number;
}

/** Writes a spill as one or more Parquet parts; resolves to their URLs. Removes the spill. */
export async function writeRejectsParts(task: RejectsPartTask, job: string): Promise<string[]> {
  const urls: string[] = [];
  let rows: Record<string, unknown>[] = [];
  const flush = async () => {
    const url =
      urls.length === 0
        ? `${task.url}.parquet`
        : `${task.url}-${String(urls.length).padStart(4, '0')}.parquet`;
    await writeObject(url, [
      encodeRowsParquet(rows, REJECT_COLUMNS, `job "${job}", rejects of ${task.source}`),
    ]);
    urls.push(url);
    rows = [];
  };
  const lines = createInterface({ input: createReadStream(task.spill), crlfDelay: Infinity });
  for await (const text of lines) {
    const [line, reason, raw] = JSON.parse(text) as [number, string, string];
    rows.push({
      source: task.source,
      line: task.firstLine === null ? null : task.firstLine + line,
      reason,
      raw,
    });
    if (rows.length === REJECTS_PART_ROWS) await flush();
  }
  if (rows.length > 0) await flush();
  await rm(task.spill, { force: true });
  return urls;
}

/** `--out/rejects/<name>` without its extension. */
export function rejectsUrl(out: string, name: string): string {
  return joinUrl(out, 'rejects', name);
}
