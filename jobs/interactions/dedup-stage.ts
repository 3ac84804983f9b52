/**
 * Stage 2, one id partition per task: the first row (by input position) with an interaction_id
 * stays valid, later ones are duplicates. Buckets arrive in input order and rows within a bucket
 * in position order, so one pass with a set of ids finds them. Memory: the partition's distinct ids.
 */

import { CountTable } from '../../workers/count-table.js';
import { murmur3Int64 } from '../../partitioners/murmur3.js';
import type { DedupResult, DedupTask } from './tasks.js';

export function runDedupStage(task: DedupTask): DedupResult {
  const p = task.partition;
  let total = 0;
  for (const b of task.buckets) total += b.offsets[p + 1] - b.offsets[p];
  // Sized once for every id at 0.75 load: no growth, and half the memory of the default 0.5.
  const seen = new CountTable(2, Math.ceil(total / 0.75) + 1, false, 0.75);
  const duplicates: number[] = [];
  for (const b of task.buckets) {
    const { keys, pos } = b;
    for (let i = b.offsets[p], end = b.offsets[p + 1]; i < end; i++) {
      const h = murmur3Int64(keys[2 * i], keys[2 * i + 1]);
      if (seen.add(keys, 2 * i, h, 1) > 0) duplicates.push(pos[i]);
    }
  }
  return { partition: p, duplicates: Float64Array.from(duplicates) };
}
