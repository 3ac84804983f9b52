/**
 * Stage 5, one range of a split's valid rows per task (at most CLEAN_CHUNK_ROWS): those rows less
 * duplicates, joined with their final counts (users and products from the merge stage's shared
 * tables or dense arrays, pairs from the merge stage's per-row counts), written
 * as one clean Parquet file and, when loading PostgreSQL, as one chunk of binary COPY rows. Memory:
 * the range's rows as columns (~100 bytes a row) and the Parquet bytes of one such file.
 */

import { readRowsSpillRange } from './spill.js';
import { CountTable } from './count-table.js';
import {
  murmur3Int64,
  wordsFromNumbers,
  writeParquetColumns,
  PgBinaryRowWriter,
  joinUrl,
} from 'shardflow/kernel';
import type { WriteResult, WriteTask } from './tasks.js';
import { writeFile } from 'node:fs/promises';
import { partName } from './outputs.js';

export async function runWriteStage(task: WriteTask): Promise<WriteResult> {
  const spill = await readRowsSpillRange(`${task.spillPath}.rows`, task.from, task.to);
  const users = task.tables.users.map((h) => CountTable.fromHandle(h));
  const products = task.tables.products.map((h) => CountTable.fromHandle(h));
  const dups = task.duplicates;
  const { userWords, productWords, idWords, seconds, pos, pairPart } = spill;
  const count = spill.count; // the task's range of the split's rows
  // The split's duplicates that fall in this range: both lists are in position order.
  let j = 0;
  if (count > 0) while (j < dups.length && dups[j] < pos[0]) j++;
  let dupsInRange = 0;
  while (count > 0 && j + dupsInRange < dups.length && dups[j + dupsInRange] <= pos[count - 1]) dupsInRange++;
  const n = count - dupsInRange;
  const ids = new Uint32Array(n * 2);
  const us = new Uint32Array(n * 2);
  const ps = new Uint32Array(n * 2);
  const secs = new Float64Array(n);
  const action = new Uint16Array(n);
  const pairCount = new Float64Array(n);
  const actionOf = spill.action;
  // Each row's pair count is the next one of its partition's (see WriteTask.pairCounts).
  const pairCounts = task.pairCounts;
  const cursor = task.pairCursor.slice();
  let o = 0;
  for (let i = 0; i < count; i++) {
    const pc = pairCounts[cursor[pairPart[i]]++];
    if (j < dups.length && pos[i] === dups[j]) {
      j++;
      continue;
    }
    ids[2 * o] = idWords[2 * i];
    ids[2 * o + 1] = idWords[2 * i + 1];
    us[2 * o] = userWords[2 * i];
    us[2 * o + 1] = userWords[2 * i + 1];
    ps[2 * o] = productWords[2 * i];
    ps[2 * o + 1] = productWords[2 * i + 1];
    pairCount[o] = pc;
    secs[o] = seconds[i];
    action[o] = actionOf[i];
    o++;
  }
  const userCount = task.dense.users
    ? lookupDense(us, n, task.dense.users)
    : joinCounts(us, 2, hashInt64Keys(us, n), users);
  const productCount = task.dense.products
    ? lookupDense(ps, n, task.dense.products)
    : joinCounts(ps, 2, hashInt64Keys(ps, n), products);
  const parts: string[] = [];
  if (task.cleanDir !== null) {
    const path = joinUrl(task.cleanDir, partName(task.part));
    const micros = new Float64Array(n);
    for (let i = 0; i < n; i++) micros[i] = secs[i] * 1e6;
    // Our own Parquet writer (io/parquet-columns.ts): statistics where readers filter (ids, time).
    await writeParquetColumns(path, n, [
      { name: 'interaction_id', kind: 'int64', words: ids, statistics: true },
      { name: 'user_id', kind: 'int64', words: us, statistics: true },
      { name: 'product_id', kind: 'int64', words: ps, statistics: true },
      { name: 'action', kind: 'dictionary-string', indices: action, dictionary: spill.dictionary },
      { name: 'timestamp', kind: 'timestamp', words: wordsFromNumbers(micros), statistics: true },
      { name: 'user_interaction_count', kind: 'count', values: userCount },
      { name: 'product_interaction_count', kind: 'count', values: productCount },
      { name: 'interaction_count', kind: 'count', values: pairCount },
    ]);
    parts.push(path);
  }
  let copy: Uint8Array[] | null = null;
  if (task.copyRows) {
    const dict = spill.dictionary.map((a) => Buffer.from(a, 'utf8'));
    const w = new PgBinaryRowWriter(n * 100 + 64);
    for (let k = 0; k < n; k++) {
      w.row(8);
      w.int8Words(ids[2 * k], ids[2 * k + 1]);
      w.int8Words(us[2 * k], us[2 * k + 1]);
      w.int8Words(ps[2 * k], ps[2 * k + 1]);
      w.bytes(dict[action[k]]);
      w.timestamp(secs[k]);
      w.int8(userCount[k]);
      w.int8(productCount[k]);
      w.int8(pairCount[k]);
    }
    const rows = w.take();
    if (task.copyPath === undefined) copy = [rows];
    else await writeFile(task.copyPath, rows);
  }
  return { taskId: task.taskId, rows: n, copy, parts };
}

/** murmur3 of each of `n` int64 keys held as (lo, hi) words. */
function hashInt64Keys(keys: Uint32Array, n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = murmur3Int64(keys[2 * i], keys[2 * i + 1]);
  return out;
}

/** Counts of `n` int64 keys (all present in `dense`, which is indexed by their low words). */
function lookupDense(keys: Uint32Array, n: number, dense: Float64Array): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = dense[keys[2 * i]];
  return out;
}

/**
 * Looks up the count of each of `n` keys in the partitioned final tables, partition by partition
 * (a partitioned hash join): rows are first grouped by partition with a counting sort, so each
 * table is probed while it is hot in cache instead of at random across all of them.
 */
function joinCounts(
  keys: Uint32Array,
  width: number,
  hashes: Uint32Array,
  tables: CountTable[],
): Float64Array {
  const P = tables.length;
  const n = hashes.length;
  const starts = new Uint32Array(P + 1);
  for (let i = 0; i < n; i++) starts[(hashes[i] % P) + 1]++;
  for (let p = 0; p < P; p++) starts[p + 1] += starts[p];
  const order = new Uint32Array(n);
  const cursor = starts.slice(0, P);
  for (let i = 0; i < n; i++) order[cursor[hashes[i] % P]++] = i;
  const out = new Float64Array(n);
  for (let p = 0; p < P; p++) {
    const table = tables[p];
    for (let k = starts[p]; k < starts[p + 1]; k++) {
      const i = order[k];
      out[i] = table.get(keys, i * width, hashes[i]);
    }
  }
  return out;
}
