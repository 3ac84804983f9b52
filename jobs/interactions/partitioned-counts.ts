/**
 * Partial counts grouped by reduce partition (hash mod P) in shared memory: the form in which a map
 * task hands its partial aggregates to the reducers. Entries of partition p are
 * offsets[p] … offsets[p+1]. Posting it to another thread copies nothing.
 */

import type { CountEntries, CountTable } from './count-table.js';
import { sortKeys } from './sort-keys.js';

export interface PartitionedCounts {
  width: number;
  offsets: Uint32Array;
  keys: Uint32Array;
  hashes: Uint32Array;
  /** The count of each entry; null when every entry counts 1 (raw rows, not combined). */
  counts: Float64Array | null;
}

/** Groups a table's entries by `hash % partitions` (a counting sort). */
export function partitionCounts(table: CountTable, partitions: number): PartitionedCounts {
  return partitionEntries([table.entries()], partitions);
}

/**
 * Groups the entries of several sources of the same width by `hash % partitions`; a key may come
 * from more than one source (its counts are then summed where the partials are merged).
 */
export function partitionEntries(sources: readonly CountEntries[], partitions: number): PartitionedCounts {
  const w = sources[0].width;
  let n = 0;
  for (const e of sources) n += e.counts.length;
  const offsets = new Uint32Array(new SharedArrayBuffer((partitions + 1) * 4));
  for (const e of sources)
    for (let i = 0; i < e.counts.length; i++) offsets[(e.hashes[i] % partitions) + 1]++;
  for (let p = 0; p < partitions; p++) offsets[p + 1] += offsets[p];
  const cursor = offsets.slice(0, partitions);
  const keys = new Uint32Array(new SharedArrayBuffer(n * w * 4));
  const hashes = new Uint32Array(new SharedArrayBuffer(n * 4));
  const counts = new Float64Array(new SharedArrayBuffer(n * 8));
  for (const e of sources) {
    if (e.width !== w) throw new RangeError(`entries of width ${e.width} among width ${w}`);
    for (let i = 0; i < e.counts.length; i++) {
      const slot = cursor[e.hashes[i] % partitions]++;
      for (let k = 0; k < w; k++) keys[slot * w + k] = e.keys[i * w + k];
      hashes[slot] = e.hashes[i];
      counts[slot] = e.counts[i];
    }
  }
  return { width: w, offsets, keys, hashes, counts };
}

/**
 * Groups raw keys (`width` words each, one per row, not combined) by `hashes[i] % partitions`:
 * for a key with little repetition within a task, where a map-side hash table costs random memory
 * access for almost no reduction, this sequential pass is cheaper, and the reducer counts.
 */
export function partitionRawKeys(
  keys: Uint32Array,
  hashes: Uint32Array,
  width: number,
  partitions: number,
): PartitionedCounts {
  const n = hashes.length;
  const offsets = new Uint32Array(new SharedArrayBuffer((partitions + 1) * 4));
  for (let i = 0; i < n; i++) offsets[(hashes[i] % partitions) + 1]++;
  for (let p = 0; p < partitions; p++) offsets[p + 1] += offsets[p];
  const cursor = offsets.slice(0, partitions);
  const outKeys = new Uint32Array(new SharedArrayBuffer(n * width * 4));
  const outHashes = new Uint32Array(new SharedArrayBuffer(n * 4));
  for (let i = 0; i < n; i++) {
    const slot = cursor[hashes[i] % partitions]++;
    for (let k = 0; k < width; k++) outKeys[slot * width + k] = keys[i * width + k];
    outHashes[slot] = hashes[i];
  }
  return { width, offsets, keys: outKeys, hashes: outHashes, counts: null };
}

/** Merges partition `p` of every partial into `table`. */
export function mergePartition(table: CountTable, partials: readonly PartitionedCounts[], p: number): void {
  for (const part of partials) {
    const { keys, hashes, counts, width } = part;
    const end = part.offsets[p + 1];
    if (counts === null) for (let i = part.offsets[p]; i < end; i++) table.add(keys, i * width, hashes[i], 1);
    else for (let i = part.offsets[p]; i < end; i++) table.add(keys, i * width, hashes[i], counts[i]);
  }
}

/** What {@link mergePartitionSorted} gives. */
export interface SortedMerge {
  /** The distinct keys whose summed count is not 0, ascending (as sortedOrder orders them). */
  keys: Uint32Array;
  counts: Float64Array;
  /**
   * The summed count of every input entry's key, entries taken partial after partial in
   * partition p's order (0 for a key whose counts cancel out).
   */
  entryTotals: Float64Array;
}

/**
 * Merges partition `p` of every partial by sorting rather than hashing: every entry (a raw row
 * counts 1) is sorted by key (LSD radix, see sortedOrder) and runs of equal keys are summed. Gives
 * the merged entries already in key order and each input entry's total, for raw keys that
 * repeat little, where a hash table costs a cache miss or more per entry and then a sort.
 */
export function mergePartitionSorted(
  partials: readonly PartitionedCounts[],
  p: number,
  width: number,
): SortedMerge {
  let n = 0;
  for (const part of partials) if (part.offsets.length > p + 1) n += part.offsets[p + 1] - part.offsets[p];
  const keys = new Uint32Array(n * width);
  const deltas = new Float64Array(n);
  let o = 0;
  for (const part of partials) {
    if (part.offsets.length <= p + 1) continue;
    if (part.width !== width) throw new RangeError(`entries of width ${part.width} among width ${width}`);
    const from = part.offsets[p];
    const to = part.offsets[p + 1];
    keys.set(part.keys.subarray(from * width, to * width), o * width);
    if (part.counts === null) deltas.fill(1, o, o + to - from);
    else deltas.set(part.counts.subarray(from, to), o);
    o += to - from;
  }
  const { order, words } = sortKeys(keys, width, n);
  // Runs of equal keys (equal in the words that differ at all): each entry's run, each run's sum.
  const runOf = new Uint32Array(n);
  const sums = new Float64Array(n);
  const firstOfRun = new Uint32Array(n);
  let runs = 0;
  for (let r = 0; r < n; r++) {
    const i = order[r];
    let same = r > 0;
    for (let w = 0; same && w < words.length; w++) same = words[w][r] === words[w][r - 1];
    if (!same) firstOfRun[runs++] = i;
    runOf[i] = runs - 1;
    sums[runs - 1] += deltas[i];
  }
  let kept = 0;
  for (let r = 0; r < runs; r++) if (sums[r] !== 0) kept++;
  const outKeys = new Uint32Array(kept * width);
  const outCounts = new Float64Array(kept);
  for (let r = 0, j = 0; r < runs; r++) {
    if (sums[r] === 0) continue;
    const from = firstOfRun[r] * width;
    for (let k = 0; k < width; k++) outKeys[j * width + k] = keys[from + k];
    outCounts[j++] = sums[r];
  }
  const entryTotals = new Float64Array(n);
  for (let i = 0; i < n; i++) entryTotals[i] = sums[runOf[i]];
  return { keys: outKeys, counts: outCounts, entryTotals };
}
