/**
 * Stage 3, one split per task: subtract the split's duplicate rows (rule 6) from the counts the map
 * stage folded, re-reading just those records from the input, and write the split's rejects part
 * (rules 1–5 from the spill, duplicates from the input) with global line numbers, in input order.
 * Duplicates are rare, so this costs little; a split without duplicates or rejects is not a task.
 */

import { readRecordsAt } from '../../io/records-at.js';
import { rawRecordText } from '../../io/csv-decoder.js';
import { InteractionCounts } from './interaction-counts.js';
import { DUPLICATE_ID, REJECT_REASONS, parseInt64, parseTimestamp } from './rules.js';
import { MAX_RAW_BYTES } from './map-stage.js';
import { readRejectsSpill, type RejectsSpill } from './spill.js';
import { positionBase, type CorrectResult, type CorrectTask } from './tasks.js';

export async function runCorrectStage(task: CorrectTask): Promise<CorrectResult> {
  const dups = task.duplicates;
  const base = positionBase(task.split.fileIndex);
  const [, cUser, cProduct, , cTs] = task.columns;
  const raws: string[] = new Array(dups.length);
  let counts: CorrectResult['counts'] = null;
  if (dups.length > 0) {
    const c = new InteractionCounts(task.countPairs);
    const users = new Uint32Array(2);
    const products = new Uint32Array(2);
    const offsets = Array.from(dups, (pos) => pos - base);
    await readRecordsAt(
      task.split.path,
      offsets,
      (rec, i) => {
        const secs = parseTimestamp(rec.buf, rec.starts[cTs], rec.ends[cTs]);
        if (
          !parseInt64(rec.buf, rec.starts[cUser], rec.ends[cUser], users, 0) ||
          !parseInt64(rec.buf, rec.starts[cProduct], rec.ends[cProduct], products, 0) ||
          secs !== secs
        ) {
          throw new Error(`${task.split.path}: the record at byte ${offsets[i]} changed since it was read`);
        }
        c.add(users, products, 0, secs, -1);
        raws[i] = rawRecordText(rec, MAX_RAW_BYTES);
      },
      { gzip: task.split.gzip },
    );
    counts = c.partitioned(task.partitions);
  }
  let rejectsWritten = 0;
  if (task.rejectsPath !== null) {
    rejectsWritten = await writeRejects(task, await readRejectsSpill(`${task.spillPath}.rejects`), raws);
  }
  return { taskId: task.taskId, counts, rejectsWritten };
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

async function writeRejects(task: CorrectTask, spill: RejectsSpill, dupRaw: string[]): Promise<number> {
  // Loaded here, not at the top: a counts-only run never needs arrow and parquet-wasm in a worker.
  const { int64FromNumbers, strings, writeParquetFile } = await import('../../io/parquet-write.js');
  const r = spill.rejects;
  const dups = task.duplicates;
  const total = r.count + dups.length;
  const lines = new Float64Array(total);
  const reasons: string[] = new Array(total);
  const raws: string[] = new Array(total);
  const rawBuf = Buffer.from(r.raw.buffer, r.raw.byteOffset, r.raw.byteLength);
  // Merge the two position-ordered lists.
  let a = 0;
  let b = 0;
  for (let k = 0; k < total; k++) {
    if (b >= dups.length || (a < r.count && r.pos[a] < dups[b])) {
      lines[k] = task.firstLine + r.line[a];
      reasons[k] = REJECT_REASONS[r.reason[a]];
      raws[k] = rawBuf.toString('utf8', r.rawOffsets[a], r.rawOffsets[a + 1]);
      a++;
    } else {
      lines[k] = task.firstLine + spill.line[indexOf(spill.pos, dups[b])];
      reasons[k] = REJECT_REASONS[DUPLICATE_ID];
      raws[k] = dupRaw[b];
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
