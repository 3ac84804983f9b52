/**
 * Stage 3, one split per task: drop the split's duplicates, fold its valid rows into partial counts
 * per user, product, (user, product) pair and day, grouped by reduce partition; and write the
 * split's rejects part (rules 1–5 from the spill, duplicates read back from the input), with
 * global line numbers, in input order.
 */

import { readSpill } from './spill.js';
import { CountTable } from '../../workers/count-table.js';
import { partitionCounts } from '../../workers/partitioned-counts.js';
import { murmur3Int64, murmur3Words } from '../../partitioners/murmur3.js';
import { readRawLines } from '../../io/raw-lines.js';
import { int64FromNumbers, strings, writeParquetFile } from '../../io/parquet-write.js';
import { DUPLICATE_ID, REJECT_REASONS } from './rules.js';
import { MAX_RAW_BYTES } from './map-stage.js';
import type { FoldResult, FoldTask } from './tasks.js';

const TWO_40 = 1099511627776;

export async function runFoldStage(task: FoldTask): Promise<FoldResult> {
  const spill = await readSpill(task.spillPath);
  const { count, userWords, productWords, seconds, pos } = spill;
  const dups = task.duplicates;
  const users = new CountTable(2, 4096);
  const products = new CountTable(2, 1024);
  const pairs = new CountTable(4, 16384);
  const days = new CountTable(1, 512);
  const pair = new Uint32Array(4);
  const day = new Uint32Array(1);
  const dupRows: number[] = [];
  let j = 0;
  for (let i = 0; i < count; i++) {
    if (j < dups.length && pos[i] === dups[j]) {
      dupRows.push(i);
      j++;
      continue;
    }
    const ulo = userWords[2 * i];
    const uhi = userWords[2 * i + 1];
    const plo = productWords[2 * i];
    const phi = productWords[2 * i + 1];
    users.add(userWords, 2 * i, murmur3Int64(ulo, uhi), 1);
    products.add(productWords, 2 * i, murmur3Int64(plo, phi), 1);
    pair[0] = ulo;
    pair[1] = uhi;
    pair[2] = plo;
    pair[3] = phi;
    pairs.add(pair, 0, murmur3Words(pair, 0, 4), 1);
    day[0] = Math.floor(seconds[i] / 86400);
    days.add(day, 0, murmur3Words(day, 0, 1), 1);
  }
  if (j !== dups.length)
    throw new Error(`split ${task.taskId}: ${dups.length - j} duplicate positions not found`);

  let rejectsWritten = 0;
  if (task.rejectsPath !== null) rejectsWritten = await writeRejects(task, spill, dupRows);

  const p = task.partitions;
  return {
    taskId: task.taskId,
    users: partitionCounts(users, p),
    products: partitionCounts(products, p),
    pairs: partitionCounts(pairs, p),
    days: partitionCounts(days, p),
    rejectsWritten,
  };
}

async function writeRejects(
  task: FoldTask,
  spill: Awaited<ReturnType<typeof readSpill>>,
  dupRows: number[],
): Promise<number> {
  const r = spill.rejects;
  const dupOffsets = dupRows.map((i) => spill.pos[i] - task.split.fileIndex * TWO_40);
  const dupRaw = await readRawLines(task.split.path, dupOffsets, {
    gzip: task.split.gzip,
    maxBytes: MAX_RAW_BYTES,
  });
  const total = r.count + dupRows.length;
  const lines = new Float64Array(total);
  const reasons: string[] = new Array(total);
  const raws: string[] = new Array(total);
  const rawBuf = Buffer.from(r.raw.buffer, r.raw.byteOffset, r.raw.byteLength);
  // Merge the two position-ordered lists.
  let a = 0;
  let b = 0;
  for (let k = 0; k < total; k++) {
    if (b >= dupRows.length || (a < r.count && r.pos[a] < spill.pos[dupRows[b]])) {
      lines[k] = task.firstLine + r.line[a];
      reasons[k] = REJECT_REASONS[r.reason[a]];
      raws[k] = rawBuf.toString('utf8', r.rawOffsets[a], r.rawOffsets[a + 1]);
      a++;
    } else {
      const i = dupRows[b];
      lines[k] = task.firstLine + spill.line[i];
      reasons[k] = REJECT_REASONS[DUPLICATE_ID];
      raws[k] = dupRaw[b].toString('utf8');
      b++;
    }
  }
  await writeParquetFile(task.rejectsPath as string, {
    source: strings(new Array<string>(total).fill(task.sourceName)),
    line: int64FromNumbers(lines),
    reason: strings(reasons),
    raw: strings(raws),
  });
  return total;
}
