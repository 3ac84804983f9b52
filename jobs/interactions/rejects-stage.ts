/**
 * One split's rejects part per task: rules 1–5 from the map stage's spill and the duplicates (rule
 * 6, their raw text from the correct stage) merged in input order, with global line numbers. Its
 * tasks run beside the merge and write stages: nothing waits for them but the end of the run.
 */

import { DUPLICATE_ID, REJECT_REASONS } from './rules.js';
import { readRejectsSpill } from './spill.js';
import type { RejectsResult, RejectsTask } from './tasks.js';

export async function runRejectsStage(task: RejectsTask): Promise<RejectsResult> {
  // Loaded here, not at the top: a counts-only run never needs arrow and parquet-wasm in a worker.
  const { int64FromNumbers, Utf8Column, writeParquetFile } = await import('../../io/parquet-write.js');
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
  const source = new Utf8Column(total, total * Buffer.byteLength(task.sourceName));
  const sourceBytes = Buffer.from(task.sourceName, 'utf8');
  const reasons = new Utf8Column(total);
  const reasonBytes = REJECT_REASONS.map((name) => Buffer.from(name, 'utf8'));
  const raws = new Utf8Column(total, r.raw.length + dupRaw.bytes.length);
  // Merge the two position-ordered lists.
  let a = 0;
  let b = 0;
  for (let k = 0; k < total; k++) {
    source.push(sourceBytes);
    if (b >= dups.length || (a < r.count && r.pos[a] < dups[b])) {
      lines[k] = task.firstLine + r.line[a];
      reasons.push(reasonBytes[r.reason[a]]);
      raws.push(r.raw, r.rawOffsets[a], r.rawOffsets[a + 1]);
      a++;
    } else {
      lines[k] = task.firstLine + spill.line[indexOf(spill.pos, dups[b])];
      reasons.push(reasonBytes[DUPLICATE_ID]);
      raws.push(dupRaw.bytes, dupRaw.offsets[b], dupRaw.offsets[b + 1]);
      b++;
    }
  }
  await writeParquetFile(task.rejectsPath, {
    source: source.vector(),
    line: int64FromNumbers(lines),
    reason: reasons.vector(),
    raw: raws.vector(),
  });
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
