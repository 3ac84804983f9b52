/**
 * One split's rejects part per task: rules 1–5 from the map stage's spill and the duplicates (rule
 * 6, their raw text from the correct stage) merged in input order, with global line numbers. Its
 * tasks run beside the merge and write stages: nothing waits for them but the end of the run.
 */

import { DUPLICATE_ID, REJECT_REASONS } from './rules.js';
import { readRejectsSpill } from './spill.js';
import { Utf8Bytes, wordsFromNumbers, writeParquetColumns } from 'shardflow/kernel';
import type { RejectsResult, RejectsTask } from './tasks.js';

export async function runRejectsStage(task: RejectsTask): Promise<RejectsResult> {
  const spill = await readRejectsSpill(`${task.spillPath}.rejects`);
  const r = spill.rejects;
  const dups = task.duplicates;
  const total = r.count + dups.length;
  const dupRaw = task.duplicateRaw ?? { offsets: new Uint32Array(1), bytes: new Uint8Array(0) };
  if (dupRaw.offsets.length !== dups.length + 1)
    throw new Error(
      `rejects of ${task.rejectsPath}: ${dups.length} duplicates but ${dupRaw.offsets.length - 1} raw texts`,
    );
  const lines = new Float64Array(total);
  const reasons = new Uint16Array(total);
  const raws = new Utf8Bytes(total, r.raw.length + dupRaw.bytes.length);
  // Merge the two position-ordered lists.
  let a = 0;
  let b = 0;
  for (let k = 0; k < total; k++) {
    if (b >= dups.length || (a < r.count && r.pos[a] < dups[b])) {
      lines[k] = task.firstLine + r.line[a];
      reasons[k] = r.reason[a];
      raws.push(r.raw, r.rawOffsets[a], r.rawOffsets[a + 1]);
      a++;
    } else {
      lines[k] = task.firstLine + spill.line[indexOf(spill.pos, dups[b])];
      reasons[k] = DUPLICATE_ID;
      raws.push(dupRaw.bytes, dupRaw.offsets[b], dupRaw.offsets[b + 1]);
      b++;
    }
  }
  await writeParquetColumns(task.rejectsPath, total, [
    {
      name: 'source',
      kind: 'dictionary-string',
      indices: new Uint16Array(total),
      dictionary: [task.sourceName],
    },
    { name: 'line', kind: 'int64', words: wordsFromNumbers(lines), statistics: true },
    { name: 'reason', kind: 'dictionary-string', indices: reasons, dictionary: REJECT_REASONS },
    raws.column('raw'),
  ]);
  return { taskId: task.taskId, rejectsWritten: total };
}

/** Index of `value` in the ascending array `sorted` (which holds it). */
function indexOf(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
