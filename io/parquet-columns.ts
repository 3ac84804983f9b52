/**
 * A small Parquet writer for the jobs' outputs, in plain TypeScript over typed arrays: one
 * uncompressed Data Page V1 per column chunk, one row group by default or row groups of at most
 * `rowGroupRows` rows. Columns are REQUIRED, or OPTIONAL when given `nulls` (definition levels of
 * max level 1 in the RLE / bit-packing hybrid; null rows write no value). Integer columns are
 * DELTA_BINARY_PACKED (PLAIN for values outside 0 … 2^52, where float arithmetic would not be
 * exact), strings and low-cardinality counts dictionary-encoded (RLE_DICTIONARY), other strings,
 * dates, doubles and booleans PLAIN. Statistics (min/max where asked, null_count on OPTIONAL
 * columns) follow the spec: NaN left out, -0 as the min and +0 as the max of zeros, strings by
 * their UTF-8 bytes (then the footer's column_orders says TypeDefinedOrder). The Thrift
 * metadata is written with the compact protocol by hand (io/parquet-thrift.ts); the encodings are
 * in io/parquet-encodings.ts. A call without `nulls`, doubles, booleans or options writes the same
 * bytes as before those existed (test/parquet-nullable.test.ts pins them).
 *
 * Why not parquet-wasm (the callsign job's writer until issue #10, no longer a dependency): through
 * apache-arrow IPC into wasm, a 131k-row clean part took ~35–40 ms to encode; this writer takes
 * 21–27 ms, and the workers need not load either library.
 * Snappy is left out on purpose: on the clean parts' encodings it saved 0.2% of the bytes (it
 * would save more on the rejects' raw lines, 1% of the rows).
 *
 * Memory: a file is built in memory. Peak is the caller's arrays, plus the file's bytes (a buffer
 * first sized 8 bytes × rows × columns that doubles when outgrown, so up to about 3× the file
 * while it grows), plus one column chunk at a time: its page (about 8 bytes × its rows, the
 * strings' bytes for a string column) and, for a nullable column, a copy of its non-null values.
 * Row groups bound that per-chunk part, not the file: meant for parts and per-key outputs, not for
 * unbounded files.
 */

import { isUtf8 } from 'node:buffer';
import { ByteWriter } from './parquet-byte-writer.js';
import {
  bitPackedRuns,
  bitWidth,
  deltaBinaryPacked,
  definitionLevels,
  plainBooleans,
} from './parquet-encodings.js';
import { ThriftWriter, zigzag } from './parquet-thrift.js';
import { writeObject } from './storage.js';

const TWO_32 = 4294967296;

/** What every column may have besides its values. */
interface ColumnBase {
  name: string;
  /**
   * Which rows are null (not 0) and which are not (0), one entry per row; the column is then
   * OPTIONAL. The values arrays still hold an entry at a null row, which is not written (for
   * `string`, an empty slice; for `dictionary-string`, any index). Default: no nulls, REQUIRED.
   */
  nulls?: Uint8Array;
}

/** One column of a part. */
export type ParquetColumn = ColumnBase &
  (
    | {
        /** int64 values as (lo, hi) words; `timestamp` marks microseconds since 1970 (wall clock). */
        kind: 'int64' | 'timestamp';
        words: Uint32Array;
        /** Write min/max statistics for this column. Default: false. */
        statistics?: boolean;
      }
    | {
        kind: 'count';
        /** Non-negative integer values below 2^52 (a dictionary is used when they are few). */
        values: Float64Array;
        statistics?: boolean;
      }
    | {
        kind: 'dictionary-string';
        /** Index of each row's value in `dictionary`. */
        indices: Uint16Array;
        dictionary: readonly string[];
        /** Write min/max statistics (UTF-8 bytes, unsigned order) of the values used. Default: false. */
        statistics?: boolean;
      }
    | {
        kind: 'string';
        /** Value i is the UTF-8 `bytes[offsets[i], offsets[i+1])` (see Utf8Bytes). */
        offsets: Int32Array;
        bytes: Uint8Array;
        /**
         * Write min/max statistics (the values' bytes, compared unsigned, whole: meant for keys and
         * other short values, not long text). Default: false.
         */
        statistics?: boolean;
      }
    | {
        /** Days since 1970-01-01. */
        kind: 'date';
        days: Int32Array;
        statistics?: boolean;
      }
    | {
        /** IEEE 754 doubles (DOUBLE); NaN, ±Infinity and -0 are kept as they are. */
        kind: 'double';
        values: Float64Array;
        statistics?: boolean;
      }
    | {
        /** Booleans (BOOLEAN): 0 is false, anything else true. */
        kind: 'boolean';
        values: Uint8Array;
      }
  );

/** How a file is cut into row groups. */
export interface ParquetColumnsOptions {
  /** Rows per row group at most (a positive integer). Default: all rows in one row group. */
  rowGroupRows?: number;
}

const DEFAULT_OPTIONS: Readonly<Required<ParquetColumnsOptions>> = Object.freeze({ rowGroupRows: Infinity });

/** Row groups are numbered by an i16 in the footer (RowGroup.ordinal). */
const MAX_ROW_GROUPS = 32767;

/** Encodes `rows` rows of `columns` as one Parquet file (one row group unless options say). */
export function encodeParquetColumns(
  rows: number,
  columns: readonly ParquetColumn[],
  createdBy: string,
  options: ParquetColumnsOptions = {},
): Uint8Array {
  const { rowGroupRows } = validateOptions(rows, columns, options);
  const out = new ByteWriter(rows * 8 * columns.length + 1024);
  out.bytes(MAGIC);
  const groups: RowGroupMeta[] = [];
  let from = 0;
  do {
    const to = Math.min(rows, from + rowGroupRows);
    const chunks: ChunkMeta[] = [];
    for (const c of columns) chunks.push(writeColumn(out, c, from, to));
    groups.push({ rows: to - from, chunks });
    from = to;
  } while (from < rows);
  const meta = new ThriftWriter();
  fileMetaData(meta, rows, columns, groups, createdBy);
  const metaBytes = meta.finish();
  out.bytes(metaBytes);
  out.u32(metaBytes.length);
  out.bytes(MAGIC);
  return out.finish();
}

/** Encodes and writes a part (a local path or an s3:// URL), appearing only when complete. */
export async function writeParquetColumns(
  path: string,
  rows: number,
  columns: readonly ParquetColumn[],
  createdBy = 'shardflow',
  options: ParquetColumnsOptions = {},
): Promise<number> {
  const bytes = encodeParquetColumns(rows, columns, createdBy, options);
  await writeObject(path, [bytes]);
  return bytes.length;
}

/** The options merged with their defaults, once the options and the columns' lengths are checked. */
function validateOptions(
  rows: number,
  columns: readonly ParquetColumn[],
  options: ParquetColumnsOptions,
): Readonly<Required<ParquetColumnsOptions>> {
  const given = options.rowGroupRows;
  if (given !== undefined && !(Number.isSafeInteger(given) && given > 0))
    throw new RangeError(`options.rowGroupRows must be a positive integer, not ${given}`);
  const merged = Object.freeze({ rowGroupRows: given ?? DEFAULT_OPTIONS.rowGroupRows });
  if (Math.ceil(rows / merged.rowGroupRows) > MAX_ROW_GROUPS)
    throw new RangeError(
      `options.rowGroupRows of ${given} cuts ${rows} rows into more than ${MAX_ROW_GROUPS} row groups: use larger row groups`,
    );
  for (const c of columns) {
    if (c.nulls !== undefined && c.nulls.length !== rows)
      throw new RangeError(
        `column ${c.name}: nulls must have one entry per row (${rows}), not ${c.nulls.length}`,
      );
    if ((c.kind === 'double' || c.kind === 'boolean') && c.values.length < rows)
      throw new RangeError(`column ${c.name}: ${c.values.length} values for ${rows} rows`);
  }
  return merged;
}

const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]); // PAR1

// Parquet enums (parquet.thrift).
const TYPE_BOOLEAN = 0;
const TYPE_INT32 = 1;
const TYPE_INT64 = 2;
const TYPE_DOUBLE = 5;
const TYPE_BYTE_ARRAY = 6;
const REQUIRED = 0;
const OPTIONAL = 1;
const ENCODING_PLAIN = 0;
const ENCODING_RLE = 3;
const ENCODING_DELTA_BINARY_PACKED = 5;
const ENCODING_RLE_DICTIONARY = 8;
const PAGE_DATA = 0;
const PAGE_DICTIONARY = 2;
const CODEC_UNCOMPRESSED = 0;
const CONVERTED_UTF8 = 0;
const CONVERTED_DATE = 6;
const CONVERTED_TIMESTAMP_MICROS = 10;
const CONVERTED_INT_64 = 18;

interface ChunkMeta {
  encodings: number[];
  start: number;
  dictionaryOffset: number;
  dataOffset: number;
  bytes: number;
  stats: { min: Uint8Array; max: Uint8Array } | null;
  /** Null rows in the chunk; null for a REQUIRED column. */
  nullCount: number | null;
}

interface RowGroupMeta {
  rows: number;
  chunks: ChunkMeta[];
}

/**
 * What a chunk's data page holds before its values: the rows it covers (nulls included, the
 * page's num_values) and, for an OPTIONAL column, the encoded definition levels.
 */
interface PageRows {
  rows: number;
  levels: Uint8Array | null;
  nullCount: number | null;
}

function physicalType(c: ParquetColumn): number {
  switch (c.kind) {
    case 'int64':
    case 'timestamp':
    case 'count':
      return TYPE_INT64;
    case 'dictionary-string':
    case 'string':
      return TYPE_BYTE_ARRAY;
    case 'date':
      return TYPE_INT32;
    case 'double':
      return TYPE_DOUBLE;
    case 'boolean':
      return TYPE_BOOLEAN;
  }
}

/** Writes rows [from, to) of column `c` as one column chunk of the current row group. */
function writeColumn(out: ByteWriter, c: ParquetColumn, from: number, to: number): ChunkMeta {
  const start = out.length;
  let page: PageRows = { rows: to - from, levels: null, nullCount: null };
  let present: Int32Array | null = null; // the non-null rows, when some are null
  if (c.nulls !== undefined) {
    const levels = new ByteWriter(16 + Math.ceil((to - from) / 8));
    definitionLevels(levels, c.nulls, from, to);
    present = presentRows(c.nulls, from, to);
    page = { rows: to - from, levels: levels.finish(), nullCount: to - from - present.length };
  }
  /** The values at the written rows: a view of [from, to), or the non-null ones gathered. */
  const pick = <A extends Float64Array | Int32Array | Uint16Array | Uint8Array>(a: A): A =>
    present === null ? (a.subarray(from, to) as A) : gather(a, present);
  const n = present === null ? to - from : present.length; // values written
  switch (c.kind) {
    case 'dictionary-string': {
      const dict = new ByteWriter(64);
      const entries = c.dictionary.map((s) => Buffer.from(s, 'utf8'));
      for (const b of entries) {
        dict.u32(b.length);
        dict.bytes(b);
      }
      const indices = pick(c.indices);
      const stats = c.statistics ? dictionaryStats(entries, indices, n) : null;
      return dictionaryChunk(out, start, page, dict.finish(), c.dictionary.length, indices, n, stats);
    }
    case 'string': {
      const body = new ByteWriter(c.offsets[to] - c.offsets[from] + 4 * n + 16);
      for (let k = 0; k < n; k++) {
        const i = present === null ? from + k : present[k];
        body.u32(c.offsets[i + 1] - c.offsets[i]);
        body.bytes(c.bytes.subarray(c.offsets[i], c.offsets[i + 1]));
      }
      const stats = c.statistics ? stringStats(c.offsets, c.bytes, from, to, present) : null;
      return plainChunk(out, start, page, body.finish(), stats);
    }
    case 'date': {
      const days = pick(c.days);
      const body = new Uint8Array(days.buffer, days.byteOffset, n * 4);
      return plainChunk(out, start, page, body, c.statistics ? int32Stats(days, n) : null);
    }
    case 'double': {
      const values = pick(c.values);
      const body = new Uint8Array(values.buffer, values.byteOffset, n * 8);
      return plainChunk(out, start, page, body, c.statistics ? doubleStats(values, n) : null);
    }
    case 'boolean': {
      const body = new ByteWriter(Math.ceil(n / 8));
      plainBooleans(body, pick(c.values), n);
      return plainChunk(out, start, page, body.finish(), null);
    }
    case 'count': {
      const values = pick(c.values);
      const dictionary = countDictionary(values);
      if (dictionary !== null) {
        const dict = new ByteWriter(dictionary.values.length * 8);
        for (const v of dictionary.values) dict.u64(v);
        const stats = c.statistics ? numberStats(values) : null;
        return dictionaryChunk(
          out,
          start,
          page,
          dict.finish(),
          dictionary.values.length,
          dictionary.indices,
          n,
          stats,
        );
      }
      return int64Chunk(out, start, page, wordsFromNumbers(values), n, c.statistics === true);
    }
    case 'int64':
    case 'timestamp': {
      const words = present === null ? c.words.subarray(2 * from, 2 * to) : gatherWords(c.words, present);
      return int64Chunk(out, start, page, words, n, c.statistics === true);
    }
  }
}

/** The rows in [from, to) whose `nulls` entry is 0. */
function presentRows(nulls: Uint8Array, from: number, to: number): Int32Array {
  let n = 0;
  for (let i = from; i < to; i++) if (nulls[i] === 0) n++;
  const rows = new Int32Array(n);
  let k = 0;
  for (let i = from; i < to; i++) if (nulls[i] === 0) rows[k++] = i;
  return rows;
}

function gather<A extends Float64Array | Int32Array | Uint16Array | Uint8Array>(a: A, rows: Int32Array): A {
  const got = new (a.constructor as new (n: number) => A)(rows.length);
  for (let k = 0; k < rows.length; k++) got[k] = a[rows[k]];
  return got;
}

function gatherWords(words: Uint32Array, rows: Int32Array): Uint32Array {
  const got = new Uint32Array(rows.length * 2);
  for (let k = 0; k < rows.length; k++) {
    got[2 * k] = words[2 * rows[k]];
    got[2 * k + 1] = words[2 * rows[k] + 1];
  }
  return got;
}

/** Writes a data page of `page.rows` rows: its header, the definition levels if any, `values`. */
function dataPage(out: ByteWriter, page: PageRows, values: Uint8Array, encoding: number): void {
  const levels = page.levels;
  pageHeader(out, PAGE_DATA, (levels === null ? 0 : levels.length) + values.length, page.rows, encoding);
  if (levels !== null) out.bytes(levels);
  out.bytes(values);
}

/** The chunk's encodings: the values', and RLE for the definition levels of an OPTIONAL column. */
function chunkEncodings(page: PageRows, encodings: number[]): number[] {
  return page.levels === null || encodings.includes(ENCODING_RLE) ? encodings : [...encodings, ENCODING_RLE];
}

function int64Chunk(
  out: ByteWriter,
  start: number,
  page: PageRows,
  words: Uint32Array,
  n: number,
  withStats: boolean,
): ChunkMeta {
  const body = new ByteWriter(n * 8 + 64);
  let encoding = ENCODING_DELTA_BINARY_PACKED;
  if (!deltaBinaryPacked(body, words, n)) {
    encoding = ENCODING_PLAIN;
    body.reset();
    body.bytes(new Uint8Array(words.buffer, words.byteOffset, n * 8));
  }
  dataPage(out, page, body.finish(), encoding);
  return {
    encodings: chunkEncodings(page, [encoding]),
    start,
    dictionaryOffset: -1,
    dataOffset: start,
    bytes: out.length - start,
    stats: withStats ? wordStats(words, n) : null,
    nullCount: page.nullCount,
  };
}

function plainChunk(
  out: ByteWriter,
  start: number,
  page: PageRows,
  values: Uint8Array,
  stats: ChunkMeta['stats'],
): ChunkMeta {
  dataPage(out, page, values, ENCODING_PLAIN);
  return {
    encodings: chunkEncodings(page, [ENCODING_PLAIN]),
    start,
    dictionaryOffset: -1,
    dataOffset: start,
    bytes: out.length - start,
    stats,
    nullCount: page.nullCount,
  };
}

function dictionaryChunk(
  out: ByteWriter,
  start: number,
  page: PageRows,
  dictionary: Uint8Array,
  entries: number,
  indices: ArrayLike<number>,
  n: number,
  stats: ChunkMeta['stats'],
): ChunkMeta {
  pageHeader(out, PAGE_DICTIONARY, dictionary.length, entries, ENCODING_PLAIN);
  out.bytes(dictionary);
  const dataOffset = out.length;
  const body = new ByteWriter(n + 16);
  const width = Math.max(1, bitWidth(Math.max(0, entries - 1)));
  body.byte(width);
  bitPackedRuns(body, indices, n, width);
  dataPage(out, page, body.finish(), ENCODING_RLE_DICTIONARY);
  return {
    encodings: [ENCODING_PLAIN, ENCODING_RLE, ENCODING_RLE_DICTIONARY],
    start,
    dictionaryOffset: start,
    dataOffset,
    bytes: out.length - start,
    stats,
    nullCount: page.nullCount,
  };
}

function int32Stats(values: Int32Array, n: number): ChunkMeta['stats'] {
  if (n === 0) return null;
  let min = values[0];
  let max = values[0];
  for (let i = 1; i < n; i++) {
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  return {
    min: new Uint8Array(Int32Array.of(min).buffer),
    max: new Uint8Array(Int32Array.of(max).buffer),
  };
}

/**
 * Min and max of doubles as the spec's TypeDefinedOrder wants them written: NaN left out (none
 * when all are NaN), a zero min written as -0 and a zero max as +0.
 */
function doubleStats(values: Float64Array, n: number): ChunkMeta['stats'] {
  let min = Infinity;
  let max = -Infinity;
  let any = false;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== v) continue; // NaN
    any = true;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!any) return null;
  if (min === 0) min = -0;
  if (max === 0) max = 0;
  return {
    min: new Uint8Array(Float64Array.of(min).buffer),
    max: new Uint8Array(Float64Array.of(max).buffer),
  };
}

/**
 * Min and max of rows [from, to) of a `string` column (only the `present` ones when given), as
 * TypeDefinedOrder orders UTF-8: bytes compared unsigned, a prefix before the longer value.
 */
function stringStats(
  offsets: Int32Array,
  bytes: Uint8Array,
  from: number,
  to: number,
  present: Int32Array | null,
): ChunkMeta['stats'] {
  const n = present === null ? to - from : present.length;
  if (n === 0) return null;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength); // a view, no copy
  const row = (k: number) => (present === null ? from + k : present[k]);
  const cmp = (a: number, b: number) =>
    buf.compare(buf, offsets[b], offsets[b + 1], offsets[a], offsets[a + 1]);
  let min = row(0);
  let max = min;
  for (let k = 1; k < n; k++) {
    const i = row(k);
    if (cmp(i, min) < 0) min = i;
    else if (cmp(i, max) > 0) max = i;
  }
  return {
    min: bytes.slice(offsets[min], offsets[min + 1]),
    max: bytes.slice(offsets[max], offsets[max + 1]),
  };
}

/** Min and max of the dictionary entries (UTF-8) that the first `n` indices use. */
function dictionaryStats(entries: readonly Buffer[], indices: Uint16Array, n: number): ChunkMeta['stats'] {
  if (n === 0) return null;
  const used = new Uint8Array(entries.length);
  for (let k = 0; k < n; k++) used[indices[k]] = 1;
  let min = -1;
  let max = -1;
  for (let e = 0; e < entries.length; e++) {
    if (used[e] === 0) continue;
    if (min < 0 || Buffer.compare(entries[e], entries[min]) < 0) min = e;
    if (max < 0 || Buffer.compare(entries[e], entries[max]) > 0) max = e;
  }
  return { min: new Uint8Array(entries[min]), max: new Uint8Array(entries[max]) };
}

/** A dictionary of few distinct small counts (≤ 4096 entries, values < 2^20), or null. */
function countDictionary(values: Float64Array): { values: number[]; indices: Uint16Array } | null {
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0 && v < 2 ** 52 && Math.floor(v) === v))
      throw new RangeError(`a count column holds ${v}: counts are whole numbers from 0 to 2^52`);
    if (v > max) max = v;
  }
  if (max >= 1 << 20) return null;
  const slot = new Int32Array(max + 1).fill(-1);
  const dict: number[] = [];
  const indices = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let s = slot[v];
    if (s < 0) {
      if (dict.length === 4096) return null;
      s = slot[v] = dict.length;
      dict.push(v);
    }
    indices[i] = s;
  }
  return { values: dict, indices };
}

/** Writes integer-valued float64s (|v| < 2^53) as int64 (lo, hi) words (two's complement). */
export function wordsFromNumbers(values: ArrayLike<number>): Uint32Array {
  const words = new Uint32Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const hi = Math.floor(v / TWO_32);
    words[2 * i] = v - hi * TWO_32;
    words[2 * i + 1] = hi;
  }
  return words;
}

/** Min and max of signed int64 words, as 8-byte little-endian values. */
function wordStats(words: Uint32Array, n: number): ChunkMeta['stats'] {
  if (n === 0) return null;
  let minI = 0;
  let maxI = 0;
  for (let i = 1; i < n; i++) {
    const hi = words[2 * i + 1] | 0;
    const lo = words[2 * i];
    const mh = words[2 * minI + 1] | 0;
    if (hi < mh || (hi === mh && lo < words[2 * minI])) minI = i;
    const xh = words[2 * maxI + 1] | 0;
    if (hi > xh || (hi === xh && lo > words[2 * maxI])) maxI = i;
  }
  const bytes = (i: number) => new Uint8Array(words.buffer, words.byteOffset + i * 8, 8).slice();
  return { min: bytes(minI), max: bytes(maxI) };
}

function numberStats(values: Float64Array): ChunkMeta['stats'] {
  if (values.length === 0) return null;
  let min = values[0];
  let max = values[0];
  for (let i = 1; i < values.length; i++) {
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  const w = wordsFromNumbers(new Float64Array([min, max]));
  return { min: new Uint8Array(w.buffer, 0, 8), max: new Uint8Array(w.buffer, 8, 8) };
}

function pageHeader(out: ByteWriter, type: number, size: number, values: number, encoding: number): void {
  const t = new ThriftWriter();
  t.i32(1, type);
  t.i32(2, size); // uncompressed
  t.i32(3, size); // compressed: the same, no codec
  if (type === PAGE_DATA) {
    t.structBegin(5); // DataPageHeader
    t.i32(1, values);
    t.i32(2, encoding);
    t.i32(3, ENCODING_RLE); // definition levels (none in a REQUIRED column)
    t.i32(4, ENCODING_RLE); // repetition levels (none)
    t.structEnd();
  } else {
    t.structBegin(7); // DictionaryPageHeader
    t.i32(1, values);
    t.i32(2, encoding);
    t.structEnd();
  }
  t.fieldsEnd();
  out.bytes(t.finish());
}

function fileMetaData(
  t: ThriftWriter,
  rows: number,
  columns: readonly ParquetColumn[],
  groups: readonly RowGroupMeta[],
  createdBy: string,
): void {
  t.i32(1, 1); // version
  t.listBegin(2, 12, columns.length + 1); // schema
  t.fieldsBegin();
  t.string(4, 'schema');
  t.i32(5, columns.length);
  t.fieldsEnd();
  for (const c of columns) schemaElement(t, c);
  t.i64(3, rows);
  t.listBegin(4, 12, groups.length); // row_groups
  groups.forEach((g, ordinal) => {
    t.fieldsBegin();
    t.listBegin(1, 12, columns.length); // columns
    let total = 0;
    columns.forEach((c, i) => {
      const m = g.chunks[i];
      total += m.bytes;
      t.fieldsBegin();
      t.i64(2, m.start); // file_offset
      t.structBegin(3); // ColumnMetaData
      t.i32(1, physicalType(c));
      t.listBegin(2, 5, m.encodings.length);
      for (const e of m.encodings) t.varint(zigzag(e));
      t.listBegin(3, 8, 1);
      t.binary(Buffer.from(c.name, 'utf8'));
      t.i32(4, CODEC_UNCOMPRESSED);
      t.i64(5, g.rows); // num_values, nulls included
      t.i64(6, m.bytes);
      t.i64(7, m.bytes);
      t.i64(9, m.dataOffset);
      if (m.dictionaryOffset >= 0) t.i64(11, m.dictionaryOffset);
      if (m.stats !== null || m.nullCount !== null) {
        t.structBegin(12); // Statistics
        t.i64(3, m.nullCount ?? 0); // null_count
        if (m.stats !== null) {
          t.binaryField(5, m.stats.max); // max_value
          t.binaryField(6, m.stats.min); // min_value
        }
        t.structEnd();
      }
      t.structEnd();
      t.fieldsEnd();
    });
    t.i64(2, total); // total_byte_size
    t.i64(3, g.rows);
    t.i64(5, g.chunks.length > 0 ? g.chunks[0].start : 4); // file_offset
    t.i64(6, total); // total_compressed_size
    t.i16(7, ordinal);
    t.fieldsEnd();
  });
  t.string(6, createdBy);
  // Without column_orders, min_value / max_value are undefined for readers (parquet.thrift): each
  // column's TypeDefinedOrder, the order every statistic here follows. Written only when a string
  // column has statistics, so the files written before string statistics keep their bytes.
  if (columns.some((c) => (c.kind === 'string' || c.kind === 'dictionary-string') && c.statistics)) {
    t.listBegin(7, 12, columns.length);
    for (let i = 0; i < columns.length; i++) {
      t.fieldsBegin();
      t.structBegin(1); // TYPE_ORDER: TypeDefinedOrder, no fields
      t.structEnd();
      t.fieldsEnd();
    }
  }
  t.fieldsEnd();
}

/** A column's SchemaElement: physical type, repetition, name, converted and logical type. */
function schemaElement(t: ThriftWriter, c: ParquetColumn): void {
  t.fieldsBegin();
  t.i32(1, physicalType(c));
  t.i32(3, c.nulls === undefined ? REQUIRED : OPTIONAL);
  t.string(4, c.name);
  /** A converted type and a LogicalType union member without fields (STRING, DATE). */
  const plainLogical = (converted: number, member: number): void => {
    t.i32(6, converted);
    t.structBegin(10); // LogicalType
    t.structBegin(member);
    t.structEnd();
    t.structEnd();
  };
  if (c.kind === 'dictionary-string' || c.kind === 'string') plainLogical(CONVERTED_UTF8, 1);
  else if (c.kind === 'date') plainLogical(CONVERTED_DATE, 6);
  else if (c.kind === 'timestamp') {
    t.i32(6, CONVERTED_TIMESTAMP_MICROS);
    t.structBegin(10);
    t.structBegin(8); // TIMESTAMP
    t.bool(1, false); // isAdjustedToUTC: a wall-clock reading
    t.structBegin(2); // unit
    t.structBegin(2); // MICROS
    t.structEnd();
    t.structEnd();
    t.structEnd();
    t.structEnd();
  } else if (c.kind === 'int64' || c.kind === 'count') {
    t.i32(6, CONVERTED_INT_64);
    t.structBegin(10);
    t.structBegin(10); // INTEGER
    t.i8(1, 64);
    t.bool(2, true);
    t.structEnd();
    t.structEnd();
  } // DOUBLE and BOOLEAN: the physical type says it all
  t.fieldsEnd();
}

/**
 * String values gathered from byte ranges, with no string per value (arrow's vectorFromArray
 * measured ~3 µs a value on reject rows): a `string` column's offsets and bytes. Bytes that are
 * not valid UTF-8 are replaced by U+FFFD as Buffer#toString would, so the column is valid UTF-8.
 */
export class Utf8Bytes {
  #offsets: Int32Array;
  #bytes: Uint8Array;
  #count = 0;

  constructor(capacity: number, bytesHint = capacity * 16) {
    this.#offsets = new Int32Array(capacity + 1);
    this.#bytes = new Uint8Array(Math.max(16, bytesHint));
  }

  /** Appends `buf[start, end)` as the next value. */
  push(buf: Uint8Array, start = 0, end = buf.length): void {
    let src = buf;
    if (!isUtf8(buf.subarray(start, end))) {
      const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
      src = Buffer.from(b.toString('utf8', start, end), 'utf8');
      start = 0;
      end = src.length;
    }
    if (this.#count + 1 === this.#offsets.length) {
      const grown = new Int32Array(this.#offsets.length * 2);
      grown.set(this.#offsets);
      this.#offsets = grown;
    }
    const at = this.#offsets[this.#count];
    const need = at + end - start;
    if (need > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(need, this.#bytes.length * 2));
      grown.set(this.#bytes.subarray(0, at));
      this.#bytes = grown;
    }
    this.#bytes.set(src.subarray(start, end), at);
    this.#offsets[++this.#count] = need;
  }

  /** The values as a `string` column. */
  column(name: string): ParquetColumn {
    return {
      name,
      kind: 'string',
      offsets: this.#offsets.subarray(0, this.#count + 1),
      bytes: this.#bytes.subarray(0, this.#offsets[this.#count]),
    };
  }
}
