/**
 * Stage 5, one split per task: the split's valid, non-duplicate rows joined with the final counts
 * (looked up in the shared tables of the merge stage), written as the split's clean Parquet part
 * and, when loading PostgreSQL, as COPY text. Memory: the split's rows as columns.
 */

import { readRowsSpill } from './spill.js';
import { CountTable } from '../../workers/count-table.js';
import { murmur3Int64, murmur3Words } from '../../partitioners/murmur3.js';
import {
  dictionaryStrings,
  int64FromNumbers,
  int64FromWords,
  timestampFromSeconds,
  writeParquetFile,
} from '../../io/parquet-write.js';
import { int64Text, timestampText } from '../../io/text-format.js';
import type { WriteResult, WriteTask } from './tasks.js';
import { join } from 'node:path';
import { CLEAN_CHUNK_ROWS, partName } from './outputs.js';

export async function runWriteStage(task: WriteTask): Promise<WriteResult> {
  const spill = await readRowsSpill(`${task.spillPath}.rows`);
  const users = task.tables.users.map((h) => CountTable.fromHandle(h));
  const products = task.tables.products.map((h) => CountTable.fromHandle(h));
  const pairs = task.tables.pairs.map((h) => CountTable.fromHandle(h));
  const dups = task.duplicates;
  const n = spill.count - dups.length;
  const ids = new Uint32Array(n * 2);
  const us = new Uint32Array(n * 2);
  const ps = new Uint32Array(n * 2);
  const secs = new Float64Array(n);
  const action = new Uint16Array(n);
  const pairKeys = new Uint32Array(n * 4);
  const { userWords, productWords, idWords, seconds, pos } = spill;
  const actionOf = spill.action;
  let j = 0;
  let o = 0;
  for (let i = 0, count = spill.count; i < count; i++) {
    if (j < dups.length && pos[i] === dups[j]) {
      j++;
      continue;
    }
    const ulo = userWords[2 * i];
    const uhi = userWords[2 * i + 1];
    const plo = productWords[2 * i];
    const phi = productWords[2 * i + 1];
    ids[2 * o] = idWords[2 * i];
    ids[2 * o + 1] = idWords[2 * i + 1];
    us[2 * o] = ulo;
    us[2 * o + 1] = uhi;
    ps[2 * o] = plo;
    ps[2 * o + 1] = phi;
    pairKeys[4 * o] = ulo;
    pairKeys[4 * o + 1] = uhi;
    pairKeys[4 * o + 2] = plo;
    pairKeys[4 * o + 3] = phi;
    secs[o] = seconds[i];
    action[o] = actionOf[i];
    o++;
  }
  // Hashes are computed here, one loop per key kind, so each loop's calls stay monomorphic.
  const userHash = new Uint32Array(n);
  const productHash = new Uint32Array(n);
  const pairHash = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    userHash[i] = murmur3Int64(us[2 * i], us[2 * i + 1]);
    productHash[i] = murmur3Int64(ps[2 * i], ps[2 * i + 1]);
    pairHash[i] = murmur3Words(pairKeys, 4 * i, 4);
  }
  const userCount = joinCounts(us, 2, userHash, users);
  const productCount = joinCounts(ps, 2, productHash, products);
  const pairCount = joinCounts(pairKeys, 4, pairHash, pairs);
  const parts: string[] = [];
  if (task.cleanDir !== null) {
    // Bounded chunks, one file each: parquet-wasm's heap grows to the largest file it encodes and
    // never shrinks (a 1.33M-row file took 155 MiB), so the chunk size bounds each worker's heap.
    for (let a = 0, c = 0; a < n || (a === 0 && c === 0); a += CLEAN_CHUNK_ROWS, c++) {
      const b = Math.min(n, a + CLEAN_CHUNK_ROWS);
      const path = join(task.cleanDir, partName(task.firstPart + c));
      await writeParquetFile(
        path,
        {
          interaction_id: int64FromWords(ids.subarray(2 * a, 2 * b)),
          user_id: int64FromWords(us.subarray(2 * a, 2 * b)),
          product_id: int64FromWords(ps.subarray(2 * a, 2 * b)),
          action: dictionaryStrings(action.subarray(a, b), spill.dictionary),
          timestamp: timestampFromSeconds(secs.subarray(a, b)),
          user_interaction_count: int64FromNumbers(userCount.subarray(a, b)),
          product_interaction_count: int64FromNumbers(productCount.subarray(a, b)),
          interaction_count: int64FromNumbers(pairCount.subarray(a, b)),
        },
        { plainColumns: ['interaction_id', 'timestamp'] },
      );
      parts.push(path);
    }
  }
  let copy: Uint8Array | null = null;
  if (task.copyText) {
    const dict = spill.dictionary.map(copyEscape);
    const lines: string[] = new Array(n);
    for (let k = 0; k < n; k++) {
      lines[k] =
        `${int64Text(ids[2 * k], ids[2 * k + 1])}\t${int64Text(us[2 * k], us[2 * k + 1])}\t` +
        `${int64Text(ps[2 * k], ps[2 * k + 1])}\t${dict[action[k]]}\t${timestampText(secs[k])}\t` +
        `${userCount[k]}\t${productCount[k]}\t${pairCount[k]}\n`;
    }
    copy = Buffer.from(lines.join(''), 'utf8');
  }
  return { taskId: task.taskId, rows: n, copy, parts };
}

/**
 * Looks up the count of each of `n` keys in the partitioned final tables, partition by partition
 * (a partitioned hash join): rows are first grouped by partition with a counting sort, so each
 * table is probed while it is hot in cache instead of at random across all of them, which measured
 * 180 ns a probe for the pair tables of 10M rows.
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

/** Escapes a value for PostgreSQL's COPY text format. */
export function copyEscape(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}
