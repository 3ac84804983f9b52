/**
 * Partial counts grouped by reduce partition (hash mod P) in shared memory: the form in which a map
 * task hands its partial aggregates to the reducers. Entries of partition p are
 * offsets[p] … offsets[p+1]. Posting it to another thread copies nothing.
 */

import type { CountTable } from './count-table.js';

export interface PartitionedCounts {
  width: number;
  offsets: Uint32Array;
  keys: Uint32Array;
  hashes: Uint32Array;
  counts: Float64Array;
}

/** Groups a table's entries by `hash % partitions` (a counting sort). */
export function partitionCounts(table: CountTable, partitions: number): PartitionedCounts {
  const e = table.entries();
  const n = e.counts.length;
  const w = e.width;
  const offsets = new Uint32Array(new SharedArrayBuffer((partitions + 1) * 4));
  for (let i = 0; i < n; i++) offsets[(e.hashes[i] % partitions) + 1]++;
  for (let p = 0; p < partitions; p++) offsets[p + 1] += offsets[p];
  const cursor = offsets.slice(0, partitions);
  const keys = new Uint32Array(new SharedArrayBuffer(n * w * 4));
  const hashes = new Uint32Array(new SharedArrayBuffer(n * 4));
  const counts = new Float64Array(new SharedArrayBuffer(n * 8));
  for (let i = 0; i < n; i++) {
    const slot = cursor[e.hashes[i] % partitions]++;
    for (let k = 0; k < w; k++) keys[slot * w + k] = e.keys[i * w + k];
    hashes[slot] = e.hashes[i];
    counts[slot] = e.counts[i];
  }
  return { width: w, offsets, keys, hashes, counts };
}

/** Merges partition `p` of every partial into `table`. */
export function mergePartition(table: CountTable, partials: readonly PartitionedCounts[], p: number): void {
  for (const part of partials) table.merge(part, part.offsets[p], part.offsets[p + 1]);
}
