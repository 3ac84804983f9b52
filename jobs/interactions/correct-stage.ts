/**
 * Stage 3, one split with duplicates per task: subtract the split's duplicate rows (rule 6) from the
 * counts the map stage folded, re-reading just those records from the input, and keep their raw
 * text for the rejects part. Duplicates are rare, so this costs little.
 */

import { readRecordsAt, rawRecordText } from 'shardflow/kernel';
import { InteractionCounts } from './interaction-counts.js';
import { parseInt64, parseTimestamp } from './rules.js';
import { MAX_RAW_BYTES } from './map-stage.js';
import { positionBase, type CorrectResult, type CorrectTask, type RawTexts } from './tasks.js';

export async function runCorrectStage(task: CorrectTask): Promise<CorrectResult> {
  const dups = task.duplicates;
  const base = positionBase(task.split.fileIndex);
  const [, cUser, cProduct, , cTs] = task.columns;
  const raws: string[] = [];
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
      if (task.keepRaw) raws[i] = rawRecordText(rec, MAX_RAW_BYTES);
    },
    { gzip: task.split.gzip },
  );
  return {
    taskId: task.taskId,
    counts: c.partitioned(task.partitions),
    raw: task.keepRaw ? rawTexts(raws) : null,
  };
}

/** Texts as one UTF-8 byte array with offsets (one transferable buffer instead of many strings). */
function rawTexts(texts: string[]): RawTexts {
  const bytes = Buffer.from(texts.join(''), 'utf8');
  const offsets = new Uint32Array(texts.length + 1);
  for (let i = 0; i < texts.length; i++) offsets[i + 1] = offsets[i] + Buffer.byteLength(texts[i], 'utf8');
  return { offsets, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
}
