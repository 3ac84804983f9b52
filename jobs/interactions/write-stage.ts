/**
 * Stage 5, one split per task: the split's valid, non-duplicate rows joined with the final counts
 * (looked up in the shared tables of the merge stage), written as the split's clean Parquet part
 * and, when loading PostgreSQL, as COPY text. Memory: the split's rows as columns.
 */

import { readSpill } from './spill.js';
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

export async function runWriteStage(task: WriteTask): Promise<WriteResult> {
  const spill = await readSpill(task.spillPath);
  const P = task.partitions;
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
  const userCount = new Float64Array(n);
  const productCount = new Float64Array(n);
  const pairCount = new Float64Array(n);
  const pair = new Uint32Array(4);
  let j = 0;
  let o = 0;
  for (let i = 0; i < spill.count; i++) {
    if (j < dups.length && spill.pos[i] === dups[j]) {
      j++;
      continue;
    }
    const ulo = spill.userWords[2 * i];
    const uhi = spill.userWords[2 * i + 1];
    const plo = spill.productWords[2 * i];
    const phi = spill.productWords[2 * i + 1];
    ids[2 * o] = spill.idWords[2 * i];
    ids[2 * o + 1] = spill.idWords[2 * i + 1];
    us[2 * o] = ulo;
    us[2 * o + 1] = uhi;
    ps[2 * o] = plo;
    ps[2 * o + 1] = phi;
    secs[o] = spill.seconds[i];
    action[o] = spill.action[i];
    const hu = murmur3Int64(ulo, uhi);
    userCount[o] = users[hu % P].get(spill.userWords, 2 * i, hu);
    const hp = murmur3Int64(plo, phi);
    productCount[o] = products[hp % P].get(spill.productWords, 2 * i, hp);
    pair[0] = ulo;
    pair[1] = uhi;
    pair[2] = plo;
    pair[3] = phi;
    const hpair = murmur3Words(pair, 0, 4);
    pairCount[o] = pairs[hpair % P].get(pair, 0, hpair);
    o++;
  }
  if (task.cleanPath !== null) {
    await writeParquetFile(task.cleanPath, {
      interaction_id: int64FromWords(ids),
      user_id: int64FromWords(us),
      product_id: int64FromWords(ps),
      action: dictionaryStrings(action, spill.dictionary),
      timestamp: timestampFromSeconds(secs),
      user_interaction_count: int64FromNumbers(userCount),
      product_interaction_count: int64FromNumbers(productCount),
      interaction_count: int64FromNumbers(pairCount),
    });
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
  return { taskId: task.taskId, rows: n, copy };
}

/** Escapes a value for PostgreSQL's COPY text format. */
export function copyEscape(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}
