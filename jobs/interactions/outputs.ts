/** The interactions job's outputs, their names on the command line and their paths under --out. */

import { joinUrl } from 'shardflow/kernel';

export const OUTPUT_NAMES = ['clean', 'users', 'products', 'pairs', 'daily', 'rejects'] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];

/** Path of each output under `out` (a directory or an s3:// prefix): folders of part files, or single files. */
export function outputPaths(out: string): Record<OutputName, string> {
  return {
    clean: joinUrl(out, 'clean'),
    users: joinUrl(out, 'users.parquet'),
    products: joinUrl(out, 'products.parquet'),
    pairs: joinUrl(out, 'pairs'),
    daily: joinUrl(out, 'daily.parquet'),
    rejects: joinUrl(out, 'rejects'),
  };
}

/** The marker written under `out` when every output of a run is complete (Spark's convention). */
export const SUCCESS_MARKER = '_SUCCESS';

/** `part-00042.parquet`. */
export function partName(index: number): string {
  return `part-${String(index).padStart(5, '0')}.parquet`;
}

/**
 * Spilled rows per write task, so at most this many rows per clean Parquet file: it bounds a
 * task's columns and Parquet bytes (about 100 and 20 bytes a row) and its COPY chunk (about 25 MiB).
 */
export const CLEAN_CHUNK_ROWS = 131_072;
