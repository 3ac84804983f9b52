/**
 * The per-split spills of the interactions job, two column files beside each other: the valid
 * rows (for the write stage; about 44 bytes a row) and the rejects with every valid row's position
 * and line (for the correct stage). Each stage reads only the file it needs.
 */

import { readColumnFile, readColumnRows, writeColumnFile, type Column } from './column-file.js';

/** Rejects of one split, in input order. */
export interface RejectColumns {
  count: number;
  /** Global input position (file index · 2^40 + byte offset). */
  pos: Float64Array;
  /** Physical line index within the split (0-based); add the split's first line number. */
  line: Int32Array;
  /** Index into REJECT_REASONS. */
  reason: Uint8Array;
  /** Raw line bytes of reject i: raw[rawOffsets[i], rawOffsets[i+1]). */
  rawOffsets: Uint32Array;
  raw: Uint8Array;
}

/** Valid rows of one split, in input order. */
export interface RowsSpill {
  count: number;
  /** (lo, hi) words of each int64 id. */
  idWords: Uint32Array;
  userWords: Uint32Array;
  productWords: Uint32Array;
  /** Wall-clock seconds since 1970-01-01 00:00:00. */
  seconds: Float64Array;
  /** Index into `dictionary`. */
  action: Uint16Array;
  dictionary: string[];
  pos: Float64Array;
  /** The partition of each row's (user_id, product_id) pair. */
  pairPart: Uint16Array;
}

/** Rejects of one split, and the position and split-relative line of every valid row. */
export interface RejectsSpill {
  pos: Float64Array;
  line: Int32Array;
  rejects: RejectColumns;
}

export async function writeRowsSpill(path: string, s: RowsSpill): Promise<void> {
  const { count, dictionary, ...columns } = s;
  await writeColumnFile(path, { count, dictionary }, columns);
}

/** Rows [from, to) of a rows spill; `count` is then `to - from`. */
export async function readRowsSpillRange(path: string, from: number, to: number): Promise<RowsSpill> {
  const { meta, columns } = await readColumnRows(path, from, to);
  return {
    ...(columns as unknown as Omit<RowsSpill, 'count' | 'dictionary'>),
    count: to - from,
    dictionary: (meta as { dictionary: string[] }).dictionary,
  };
}

export async function writeRejectsSpill(path: string, s: RejectsSpill): Promise<void> {
  const r = s.rejects;
  const columns: Record<string, Column> = {
    pos: s.pos,
    line: s.line,
    rejectPos: r.pos,
    rejectLine: r.line,
    rejectReason: r.reason,
    rejectRawOffsets: r.rawOffsets,
    rejectRaw: r.raw,
  };
  await writeColumnFile(path, { rejects: r.count }, columns);
}

export async function readRejectsSpill(path: string): Promise<RejectsSpill> {
  const { meta, columns: c } = await readColumnFile(path);
  return {
    pos: c.pos as Float64Array,
    line: c.line as Int32Array,
    rejects: {
      count: (meta as { rejects: number }).rejects,
      pos: c.rejectPos as Float64Array,
      line: c.rejectLine as Int32Array,
      reason: c.rejectReason as Uint8Array,
      rawOffsets: c.rejectRawOffsets as Uint32Array,
      raw: c.rejectRaw as Uint8Array,
    },
  };
}
