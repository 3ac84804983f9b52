/**
 * Stage 1 of the interactions job, one split per task: decode, apply rules 1–6 (the row's
 * encoding, then its fields), fold the counts of every row that passed (duplicates are subtracted
 * later), emit every valid row's (interaction_id, position) grouped by partition of its id for the
 * de-duplication stage, and spill what later stages need: the valid rows as columns when clean
 * rows are written, the rejects and row positions when rejects are. Memory: the split's valid rows as columns (about 45 bytes a
 * row), its rejects, and its distinct keys.
 */

import {
  readCsvSplit,
  FIELD_ESCAPED,
  type CsvRecord,
  isCleanText,
  storableText,
  utf8SequenceEnd,
  murmur3Int64,
  murmur3Words,
} from 'shardflow/kernel';
import { partitionRawKeys, type PartitionedCounts } from './partitioned-counts.js';
import { Growable } from './growable.js';
import {
  BAD_ENCODING,
  BAD_INTEGER,
  BAD_TIMESTAMP,
  DAY_BIAS,
  MALFORMED_ROW,
  MISSING_FIELD,
  REJECT_REASONS,
  ZERO_ID,
  isMissing,
  parseInt64,
  parseTimestamp,
} from './rules.js';
import { writeRejectsSpill, writeRowsSpill } from './spill.js';
import { InteractionCounts } from './interaction-counts.js';
import { positionBase, type MapTask, type MapResult } from './tasks.js';

/** Raw lines kept in the rejects output are cut to this many bytes. */
export const MAX_RAW_BYTES = 64 * 1024;

export async function runMapStage(
  task: MapTask,
  onProgress?: (bytes: number, rows: number) => void,
): Promise<MapResult> {
  const { split, columns, fieldCount, partitions } = task;
  const [cId, cUser, cProduct, cAction, cTs] = columns;
  const posBase = positionBase(split.fileIndex);
  // Pairs barely repeat within a split, so they travel as raw rows (see partitionRawKeys).
  const counts = new InteractionCounts(false);
  // Actions and months matter only to the row spill (clean rows, PostgreSQL), lines only to the
  // rejects spill: a counts-only run skips that work on every row.
  const keepRows = task.spillRows;
  const keepLines = task.spillRejects;
  // Valid-row columns are plain typed arrays grown together: one element type per array keeps the
  // hot loop's element stores monomorphic (a generic builder measured 3× slower here).
  let cap = Math.max(
    1024,
    Math.min(1 << 24, Math.ceil((Math.min(split.end, split.start + 64 * 2 ** 20) - split.start) / 40)),
  );
  let ids = new Uint32Array(cap * 2);
  let users = new Uint32Array(cap * 2);
  let products = new Uint32Array(cap * 2);
  let seconds = new Float64Array(cap);
  let actions = new Uint16Array(cap);
  let positions = new Float64Array(cap);
  let lines = new Int32Array(cap);
  let parts = new Uint16Array(cap);
  const grow = (): void => {
    cap *= 2;
    ids = resized(ids, cap * 2);
    users = resized(users, cap * 2);
    products = resized(products, cap * 2);
    seconds = resized(seconds, cap);
    actions = resized(actions, cap);
    positions = resized(positions, cap);
    lines = resized(lines, cap);
    parts = resized(parts, cap);
  };
  const rejPos = new Growable(Float64Array, 64);
  const rejLine = new Growable(Int32Array, 64);
  const rejReason = new Growable(Uint8Array, 64);
  const rejRawOffsets = new Growable(Uint32Array, 64);
  const rejRaw = new Growable(Uint8Array, 4096);
  rejRawOffsets.push(0);
  const rejected = REJECT_REASONS.map(() => 0);
  // Days seen, as a bitmap over years 0001–9999, so no Date is built per row.
  const daysSeen = new Uint8Array(task.spillRows ? DAY_SPAN : 0); // months matter to the row spill only
  const dictionary: string[] = [];
  const dictBytes: Uint8Array[] = [];
  const dictMap = new Map<string, number>();
  let valid = 0;
  let fastRows = 0;
  let pendingRows = 0;

  const reject = (rec: CsvRecord, reason: number): void => {
    rejected[reason]++;
    rejPos.push(posBase + rec.offset);
    rejLine.push(rec.line);
    rejReason.push(reason);
    const end = Math.min(rec.rawEnd, rec.rawStart + MAX_RAW_BYTES);
    if (isCleanText(rec.buf, rec.rawStart, end)) rejRaw.pushBytes(rec.buf, rec.rawStart, end);
    else {
      // The raw text describes the reject: U+FFFD for invalid bytes, `\0` for NUL, so that any
      // store (Parquet readers, PostgreSQL text) takes it.
      const text = Buffer.from(storableText(rec.buf, rec.rawStart, end), 'utf8');
      rejRaw.pushBytes(text, 0, text.length);
    }
    rejRawOffsets.push(rejRaw.length);
  };

  const actionIndex = (buf: Uint8Array, s: number, e: number, escaped: boolean): number => {
    const len = e - s;
    if (!escaped && dictBytes.length <= 32) {
      for (let d = 0; d < dictBytes.length; d++) {
        const cand = dictBytes[d];
        if (cand.length !== len) continue;
        let k = 0;
        while (k < len && cand[k] === buf[s + k]) k++;
        if (k === len) return d;
      }
    }
    let text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8', s, e);
    if (escaped) text = text.replaceAll('""', '"');
    let idx = dictMap.get(text);
    if (idx === undefined) {
      idx = dictionary.length;
      if (idx >= 65535) throw new RangeError('more than 65535 distinct actions in one split');
      dictionary.push(text);
      dictBytes.push(
        escaped
          ? new Uint8Array(0)
          : new Uint8Array(buf.subarray(s, e)) /* a copy: the read block is reused */,
      );
      dictMap.set(text, idx);
    }
    return idx;
  };

  const onRecord = (rec: CsvRecord): void => {
    if (++pendingRows === 8192) {
      onProgress?.(0, pendingRows);
      pendingRows = 0;
    }
    if (rec.malformed || rec.fieldCount !== fieldCount) return reject(rec, MALFORMED_ROW);
    const { buf, starts, ends } = rec;
    if (!isCleanText(buf, rec.rawStart, rec.rawEnd)) return reject(rec, BAD_ENCODING);
    if (
      isMissing(buf, starts[cId], ends[cId]) ||
      isMissing(buf, starts[cUser], ends[cUser]) ||
      isMissing(buf, starts[cProduct], ends[cProduct]) ||
      isMissing(buf, starts[cAction], ends[cAction]) ||
      isMissing(buf, starts[cTs], ends[cTs])
    ) {
      return reject(rec, MISSING_FIELD);
    }
    if (valid === cap) grow();
    const at = 2 * valid;
    if (
      !parseInt64(buf, starts[cId], ends[cId], ids, at) ||
      !parseInt64(buf, starts[cUser], ends[cUser], users, at) ||
      !parseInt64(buf, starts[cProduct], ends[cProduct], products, at)
    ) {
      return reject(rec, BAD_INTEGER);
    }
    if ((ids[at] === 0 && ids[at + 1] === 0) || (users[at] === 0 && users[at + 1] === 0)) {
      return reject(rec, ZERO_ID);
    }
    const secs = parseTimestamp(buf, starts[cTs], ends[cTs]);
    if (secs !== secs) return reject(rec, BAD_TIMESTAMP);
    accept(
      buf,
      secs,
      starts[cAction],
      ends[cAction],
      (rec.flags[cAction] & FIELD_ESCAPED) !== 0,
      rec.offset,
      rec.line,
    );
  };

  /** Keeps a row that passed rules 1–6, whose ids are already in place at `2 * valid`. */
  const accept = (
    buf: Uint8Array,
    secs: number,
    actionStart: number,
    actionEnd: number,
    actionEscaped: boolean,
    offset: number,
    line: number,
  ): void => {
    const at = 2 * valid;
    seconds[valid] = secs;
    if (keepRows) {
      actions[valid] = actionIndex(buf, actionStart, actionEnd, actionEscaped);
      daysSeen[Math.floor(secs / 86400) + DAY_BIAS] = 1;
    }
    positions[valid] = posBase + offset;
    if (keepLines) lines[valid] = line;
    parts[valid] = murmur3Int64(ids[at], ids[at + 1]) % partitions;
    counts.add(users, products, at, secs, 1);
    valid++;
  };

  // The fast path: a row of exactly `fieldCount` unquoted fields, each required one without
  // surrounding blanks, ids of 1–15 digits (id and user not 0), a present action and a valid
  // timestamp, all valid UTF-8 without NUL, is decoded, checked and kept in one pass over its
  // bytes. Anything else — a quote or a lone CR anywhere, a blank at a field's edge, a missing or
  // odd value, a NUL or a byte that is not valid UTF-8 — returns 0, and the decoder and the rules
  // above take the row, so this path decides only rows that pass them all. Ids and timestamps are
  // checked byte by byte as ASCII digits and separators, so only the text fields need the
  // encoding check, in the same loop that looks for their end.
  const roles = new Uint8Array(fieldCount); // 0 ignored, then ROLE_ID … ROLE_TIMESTAMP
  columns.forEach((c, k) => (roles[c] = k + 1));
  const last = fieldCount - 1;
  const fastRecord = (buf: Uint8Array, pos: number, n: number, offset: number, line: number): number => {
    if (valid === cap) grow();
    const at = 2 * valid;
    let i = pos;
    let secs = NaN;
    let actionStart = 0;
    let actionEnd = 0;
    for (let k = 0; k <= last; k++) {
      const role = roles[k];
      const s = i;
      if (role !== 0 && role <= ROLE_PRODUCT) {
        let v = 0;
        while (i < n) {
          const d = buf[i] - 0x30;
          if (d < 0 || d > 9) break;
          v = v * 10 + d;
          i++;
        }
        if (i === s || i - s > 15) return 0; // empty, or maybe ≥ 2^53: the exact path decides
        const out = role === ROLE_ID ? ids : role === ROLE_USER ? users : products;
        out[at] = v >>> 0;
        out[at + 1] = Math.floor(v / TWO_32);
        if (v === 0 && role !== ROLE_PRODUCT) return 0; // zero_id
      } else if (role === ROLE_TIMESTAMP) {
        // Exactly 19 bytes, each of which parseTimestamp checks (digits and separators): no
        // delimiter, quote or blank can hide in them, so they need no scan.
        i += 19;
        if (i >= n) return 0;
        secs = parseTimestamp(buf, s, i);
        if (secs !== secs) return 0;
      } else {
        while (i < n) {
          const c = buf[i];
          // Letters, digits and most ASCII take the first test.
          if (c > DELIM && c < 0x80) i++;
          else if (c === DELIM || c === LF || c === CR || c === QUOTE) break;
          else if (c === 0 || c >= 0x80) {
            i = utf8SequenceEnd(buf, i, n); // a sequence holds no delimiter: checking to n is enough
            if (i < 0) return 0; // bad_encoding, or a sequence cut by the buffer's end
          } else i++;
        }
        if (role !== 0) {
          if (i === s) return 0;
          const first = buf[s];
          const end = buf[i - 1];
          if (first === SPACE || first === TAB || end === SPACE || end === TAB) return 0;
          if (isMissing(buf, s, i)) return 0;
          actionStart = s;
          actionEnd = i;
        }
      }
      if (i >= n) return 0;
      const c = buf[i];
      if (k < last) {
        if (c !== DELIM) return 0;
        i++;
      } else if (c === LF) i++;
      else if (c === CR && i + 1 < n && buf[i + 1] === LF) i += 2;
      else return 0;
    }
    if (++pendingRows === 8192) {
      onProgress?.(0, pendingRows);
      pendingRows = 0;
    }
    accept(buf, secs, actionStart, actionEnd, false, offset, line);
    fastRows++;
    return i;
  };

  const read = await readCsvSplit({
    path: split.path,
    start: split.start,
    end: split.end,
    alignedStart: split.aligned,
    gzip: split.gzip,
    onRecord,
    fastRecord: task.fastRecords === false ? undefined : fastRecord,
    onBytes: (bytes) => onProgress?.(bytes, 0),
  });
  if (pendingRows > 0) onProgress?.(0, pendingRows);

  const pairs = task.countPairs ? pairRows(users, products, valid, partitions, task.chunkRows) : null;
  if (task.spillRows) {
    if (pairs === null) throw new Error('a rows spill needs the pair counts (countPairs)');
    await writeRowsSpill(`${task.spillPath}.rows`, {
      count: valid,
      idWords: ids.subarray(0, 2 * valid),
      userWords: users.subarray(0, 2 * valid),
      productWords: products.subarray(0, 2 * valid),
      seconds: seconds.subarray(0, valid),
      action: actions.subarray(0, valid),
      dictionary,
      pos: positions.subarray(0, valid),
      pairPart: pairs.rowParts,
    });
  }
  if (task.spillRejects) {
    await writeRejectsSpill(`${task.spillPath}.rejects`, {
      // Positions and lines of every valid row: the correct stage numbers duplicate rejects by them.
      pos: positions.subarray(0, valid),
      line: lines.subarray(0, valid),
      rejects: {
        count: rejReason.length,
        pos: rejPos.view(),
        line: rejLine.view(),
        reason: rejReason.view(),
        rawOffsets: rejRawOffsets.view(),
        raw: rejRaw.view(),
      },
    });
  }

  // Group (id, position) by partition with a counting sort, into shared memory: the dedup tasks
  // of all partitions read these buffers in place.
  const partOffsets = new Uint32Array(new SharedArrayBuffer((partitions + 1) * 4));
  const partOf = parts;
  for (let i = 0; i < valid; i++) partOffsets[partOf[i] + 1]++;
  for (let p = 0; p < partitions; p++) partOffsets[p + 1] += partOffsets[p];
  const cursor = partOffsets.slice(0, partitions);
  const keyWords = new Uint32Array(new SharedArrayBuffer(valid * 8));
  const keyPos = new Float64Array(new SharedArrayBuffer(valid * 8));
  const idView = ids;
  const posView = positions;
  for (let i = 0; i < valid; i++) {
    const slot = cursor[partOf[i]]++;
    keyWords[2 * slot] = idView[2 * i];
    keyWords[2 * slot + 1] = idView[2 * i + 1];
    keyPos[slot] = posView[i];
  }

  return {
    taskId: task.taskId,
    lines: read.lines,
    records: read.records,
    valid,
    fastRows,
    rejected,
    multiline: read.sawQuotedNewline,
    months: task.spillRows ? monthsOfDays(daysSeen) : [],
    dedup: { offsets: partOffsets, keys: keyWords, pos: keyPos },
    counts: {
      ...counts.partitioned(partitions),
      pairs: pairs?.partial ?? NO_PAIRS,
    },
    pairCursors: pairs?.cursors ?? new Uint32Array(0),
  };
}

const DAY_SPAN = 3652059; // days from 0001-01-01 to 9999-12-31 inclusive
const TWO_32 = 4294967296;
const DELIM = 0x2c;
const LF = 10;
const CR = 13;
const QUOTE = 0x22;
const SPACE = 0x20;
const TAB = 9;
// Roles of a row's fields in the fast path (1 + the index in INTERACTION_COLUMNS).
const ROLE_ID = 1;
const ROLE_USER = 2;
const ROLE_PRODUCT = 3;
const ROLE_TIMESTAMP = 5;

const NO_PAIRS = Object.freeze({
  width: 4,
  offsets: new Uint32Array(0),
  keys: new Uint32Array(0),
  hashes: new Uint32Array(0),
  counts: null,
});

/**
 * Every valid row's (user_id, product_id) key with its hash, grouped by partition (in row order
 * within each); each row's partition; and where each chunk of `chunkRows` rows starts in every
 * partition's rows. The merge stage returns each row's final pair count in that same order, and a
 * write task reads its chunk's counts from these cursors on (see MapResult.pairCursors).
 */
function pairRows(
  users: Uint32Array,
  products: Uint32Array,
  rows: number,
  partitions: number,
  chunkRows: number,
): { partial: PartitionedCounts; cursors: Uint32Array; rowParts: Uint16Array } {
  const keys = new Uint32Array(rows * 4);
  const hashes = new Uint32Array(rows);
  const rowParts = new Uint16Array(rows); // partitions ≤ 65535
  const cursors = new Uint32Array(Math.ceil(rows / chunkRows) * partitions);
  const seen = new Uint32Array(partitions);
  for (let i = 0; i < rows; i++) {
    if (i % chunkRows === 0) cursors.set(seen, (i / chunkRows) * partitions);
    keys[4 * i] = users[2 * i];
    keys[4 * i + 1] = users[2 * i + 1];
    keys[4 * i + 2] = products[2 * i];
    keys[4 * i + 3] = products[2 * i + 1];
    const h = murmur3Words(keys, 4 * i, 4);
    hashes[i] = h;
    const p = h % partitions;
    rowParts[i] = p;
    seen[p]++;
  }
  return { partial: partitionRawKeys(keys, hashes, 4, partitions), cursors, rowParts };
}

function resized<T extends Uint32Array | Uint16Array | Int32Array | Float64Array>(a: T, length: number): T {
  const next = new (a.constructor as new (n: number) => T)(length);
  next.set(a as never);
  return next;
}

/** Sorted months (year · 12 + month − 1) of the days set in the bitmap. */
function monthsOfDays(daysSeen: Uint8Array): number[] {
  const months: number[] = [];
  let last = -1;
  for (let i = 0; i < daysSeen.length; i++) {
    if (daysSeen[i] === 0) continue;
    const d = new Date((i - DAY_BIAS) * 86400000);
    const m = d.getUTCFullYear() * 12 + d.getUTCMonth();
    if (m !== last) months.push(m);
    last = m;
  }
  return months;
}
