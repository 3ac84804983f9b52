/**
 * The per-split spill: a map task's valid rows as columns, plus its rejects, written once to a
 * local temporary file with v8 serialisation (typed arrays are copied as raw bytes) and read back
 * by the later stages of the same split. About 45 bytes per valid row.
 */

import { readFile, writeFile } from 'node:fs/promises';
import { deserialize, serialize } from 'node:v8';

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
export interface InteractionsSpill {
  /** Rows in the row columns (0 when only rejects were spilled). */
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
  /** Position and split-relative line of every valid row (even when `count` is 0). */
  pos: Float64Array;
  line: Int32Array;
  rejects: RejectColumns;
}

export async function writeSpill(path: string, spill: InteractionsSpill): Promise<void> {
  await writeFile(path, serialize(spill));
}

export async function readSpill(path: string): Promise<InteractionsSpill> {
  return deserialize(await readFile(path)) as InteractionsSpill;
}
