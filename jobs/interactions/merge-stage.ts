/**
 * Stage 4, one reduce partition per task: merge every split's partial counts of this partition
 * (the count monoid), write the partition's pairs part sorted by (user_id, product_id), and keep
 * the final user / product / pair tables in shared memory for the write stage's lookups.
 */

import { CountTable, type CountEntries } from '../../workers/count-table.js';
import { mergePartition } from '../../workers/partitioned-counts.js';
import { sortedOrder } from '../../workers/sort-keys.js';
import type { MergeResult, MergeTask } from './tasks.js';

export async function runMergeStage(task: MergeTask): Promise<MergeResult> {
  const p = task.partition;
  const merged = (kind: 'users' | 'products' | 'pairs' | 'days', width: number): CountTable => {
    const partials = task.partials.map((t) => t[kind]);
    let n = 0;
    for (const part of partials) n += part.offsets[p + 1] - part.offsets[p];
    // A quarter of the entries: raw pair rows repeat ~4× (the table grows when that is too small).
    const table = new CountTable(width, Math.max(16, n >> 2));
    mergePartition(table, partials, p);
    return table;
  };
  const users = merged('users', 2);
  const products = merged('products', 2);
  const pairs = merged('pairs', 4);
  const days = merged('days', 1);
  const pairRows = finalPairRows(pairs, task);
  if (task.pairsPath !== null) await writePairs(task.pairsPath, pairs.entries());
  const compact = (t: CountTable) => {
    const e = t.entries();
    return { keys: e.keys, counts: e.counts };
  };
  return {
    partition: p,
    users: compact(users),
    products: compact(products),
    days: compact(days),
    tables: task.keepTables
      ? // Sized from the partials, the working tables are mostly empty; the write stage's lookups
        // read compact shared copies (pairs of 10M rows: about half the memory).
        {
          users: users.compacted(true).handle(),
          products: products.compacted(true).handle(),
        }
      : null,
    pairRows,
  };
}

/**
 * The final count of every raw pair row of the map partials (task.rowTasks), looked up while this
 * partition's table is hot in cache. The write stage then reads each row's count in row order
 * instead of probing all partitions' tables at random (which measured ~300 ns a row at 10M rows).
 */
function finalPairRows(pairs: CountTable, task: MergeTask): MergeResult['pairRows'] {
  const p = task.partition;
  const offsets = new Uint32Array(new SharedArrayBuffer((task.taskCount + 1) * 4));
  let n = 0;
  task.rowTasks.forEach((t, i) => {
    const part = task.partials[i].pairs;
    offsets[t + 1] = part.offsets[p + 1] - part.offsets[p];
    n += offsets[t + 1];
  });
  for (let t = 0; t < task.taskCount; t++) offsets[t + 1] += offsets[t];
  const counts = new Uint32Array(new SharedArrayBuffer(n * 4));
  task.rowTasks.forEach((t, i) => {
    const { keys, hashes, offsets: from } = task.partials[i].pairs;
    let o = offsets[t];
    for (let k = from[p]; k < from[p + 1]; k++) {
      // 0 for a duplicate row whose pair has no valid row left: the write stage skips it.
      const c = pairs.get(keys, 4 * k, hashes[k]);
      if (c > 0xffffffff) throw new RangeError(`a pair count of ${c} is beyond 2^32 − 1`);
      counts[o++] = c;
    }
  });
  return { offsets, counts };
}

async function writePairs(path: string, e: CountEntries): Promise<void> {
  // Loaded here, not at the top: a counts-only run never needs arrow and parquet-wasm in a worker.
  const { int64FromNumbers, int64FromWords, writeParquetFile } = await import('../../io/parquet-write.js');
  const n = e.counts.length;
  const order = sortedOrder(e.keys, 4, n);
  const userWords = new Uint32Array(n * 2);
  const productWords = new Uint32Array(n * 2);
  const counts = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = order[i];
    userWords[2 * i] = e.keys[4 * s];
    userWords[2 * i + 1] = e.keys[4 * s + 1];
    productWords[2 * i] = e.keys[4 * s + 2];
    productWords[2 * i + 1] = e.keys[4 * s + 3];
    counts[i] = e.counts[s];
  }
  await writeParquetFile(
    path,
    {
      user_id: int64FromWords(userWords),
      product_id: int64FromWords(productWords),
      interaction_count: int64FromNumbers(counts),
    },
    // Sorted keys delta-encode to half the bytes of plain ones; on a 70k-row part this encoded in
    // 3.1 ms, against 4.9 ms for plain keys with a dictionary on the counts (18 ms with every
    // column's dictionary).
    { dictionaryColumns: [], deltaColumns: ['user_id', 'product_id', 'interaction_count'] },
  );
}
