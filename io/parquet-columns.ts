/**
 * A small Parquet writer for the interactions job's outputs, in plain TypeScript over typed
 * arrays: one row group, REQUIRED columns, one uncompressed data page per column. Integer columns
 * are DELTA_BINARY_PACKED (PLAIN for values outside 0 … 2^52, where float arithmetic would not be
 * exact), strings and low-cardinality counts dictionary-encoded (RLE_DICTIONARY), other strings
 * PLAIN. The Thrift metadata is written with the compact protocol by hand.
 *
 * Why not parquet-wasm here: through apache-arrow IPC into wasm, a 131k-row clean part took
 * ~35–40 ms to encode; this writer takes 21–27 ms, and the workers need not load either library.
 * Snappy is left out on purpose: on the clean parts' encodings it saved 0.2% of the bytes (it
 * would save more on the rejects' raw lines, 1% of the rows). A file is built in memory, about
 * 8 bytes × rows × columns at most: meant for parts and per-key outputs, not for unbounded files.
 * The callsign job still writes through parquet-wasm. */

import { isUtf8 } from 'node:buffer';
import { writeObject } from './storage.js';

const TWO_32 = 4294967296;

/** One column of a part. */
export type ParquetColumn =
  | {
      name: string;
      /** int64 values as (lo, hi) words; `timestamp` marks microseconds since 1970 (wall clock). */
      kind: 'int64' | 'timestamp';
      words: Uint32Array;
      /** Write min/max statistics for this column. */
      statistics?: boolean;
    }
  | {
      name: string;
      kind: 'count';
      /** Non-negative integer values below 2^52 (a dictionary is used when they are few). */
      values: Float64Array;
      statistics?: boolean;
    }
  | {
      name: string;
      kind: 'dictionary-string';
      /** Index of each row's value in `dictionary`. */
      indices: Uint16Array;
      dictionary: readonly string[];
    }
  | {
      name: string;
      kind: 'string';
      /** Value i is the UTF-8 `bytes[offsets[i], offsets[i+1])` (see Utf8Bytes). */
      offsets: Int32Array;
      bytes: Uint8Array;
    }
  | {
      name: string;
      /** Days since 1970-01-01. */
      kind: 'date';
      days: Int32Array;
      statistics?: boolean;
    };

/** Encodes `rows` rows of `columns` as one Parquet file (one row group). */
export function encodeParquetColumns(
  rows: number,
  columns: readonly ParquetColumn[],
  createdBy: string,
): Uint8Array {
  const out = new ByteWriter(rows * 8 * columns.length + 1024);
  out.bytes(MAGIC);
  const chunks: ChunkMeta[] = [];
  for (const c of columns) chunks.push(writeColumn(out, rows, c));
  const meta = new ThriftWriter();
  fileMetaData(meta, rows, columns, chunks, createdBy);
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
): Promise<number> {
  const bytes = encodeParquetColumns(rows, columns, createdBy);
  await writeObject(path, [bytes]);
  return bytes.length;
}

const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]); // PAR1

// Parquet enums (parquet.thrift).
const TYPE_INT32 = 1;
const TYPE_INT64 = 2;
const TYPE_BYTE_ARRAY = 6;
const REQUIRED = 0;
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
  type: number;
  encodings: number[];
  start: number;
  dictionaryOffset: number;
  dataOffset: number;
  bytes: number;
  stats: { min: Uint8Array; max: Uint8Array } | null;
}

function writeColumn(out: ByteWriter, rows: number, c: ParquetColumn): ChunkMeta {
  const start = out.length;
  if (c.kind === 'dictionary-string') {
    const dict = new ByteWriter(64);
    for (const s of c.dictionary) {
      const b = Buffer.from(s, 'utf8');
      dict.u32(b.length);
      dict.bytes(b);
    }
    return dictionaryChunk(
      out,
      start,
      rows,
      TYPE_BYTE_ARRAY,
      dict.finish(),
      c.dictionary.length,
      c.indices,
      null,
    );
  }
  if (c.kind === 'string') {
    const n = c.offsets.length - 1;
    const body = new ByteWriter(c.offsets[n] - c.offsets[0] + 4 * n + 16);
    for (let i = 0; i < n; i++) {
      body.u32(c.offsets[i + 1] - c.offsets[i]);
      body.bytes(c.bytes.subarray(c.offsets[i], c.offsets[i + 1]));
    }
    return plainChunk(out, start, rows, TYPE_BYTE_ARRAY, body.finish(), null);
  }
  if (c.kind === 'date') {
    const page = new Uint8Array(c.days.buffer, c.days.byteOffset, rows * 4);
    return plainChunk(out, start, rows, TYPE_INT32, page, c.statistics ? int32Stats(c.days, rows) : null);
  }
  if (c.kind === 'count') {
    const dictionary = countDictionary(c.values);
    if (dictionary !== null) {
      const dict = new ByteWriter(dictionary.values.length * 8);
      for (const v of dictionary.values) dict.u64(v);
      const stats = c.statistics ? numberStats(c.values) : null;
      return dictionaryChunk(
        out,
        start,
        rows,
        TYPE_INT64,
        dict.finish(),
        dictionary.values.length,
        dictionary.indices,
        stats,
      );
    }
    return int64Chunk(out, start, rows, wordsFromNumbers(c.values), c.statistics === true);
  }
  return int64Chunk(out, start, rows, c.words, c.statistics === true);
}

function int64Chunk(
  out: ByteWriter,
  start: number,
  rows: number,
  words: Uint32Array,
  withStats: boolean,
): ChunkMeta {
  const body = new ByteWriter(rows * 8 + 64);
  let encoding = ENCODING_DELTA_BINARY_PACKED;
  if (!deltaBinaryPacked(body, words, rows)) {
    encoding = ENCODING_PLAIN;
    body.reset();
    body.bytes(new Uint8Array(words.buffer, words.byteOffset, rows * 8));
  }
  const page = body.finish();
  pageHeader(out, PAGE_DATA, page.length, rows, encoding);
  out.bytes(page);
  return {
    type: TYPE_INT64,
    encodings: [encoding],
    start,
    dictionaryOffset: -1,
    dataOffset: start,
    bytes: out.length - start,
    stats: withStats ? wordStats(words, rows) : null,
  };
}

function plainChunk(
  out: ByteWriter,
  start: number,
  rows: number,
  type: number,
  page: Uint8Array,
  stats: ChunkMeta['stats'],
): ChunkMeta {
  pageHeader(out, PAGE_DATA, page.length, rows, ENCODING_PLAIN);
  out.bytes(page);
  return {
    type,
    encodings: [ENCODING_PLAIN],
    start,
    dictionaryOffset: -1,
    dataOffset: start,
    bytes: out.length - start,
    stats,
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

function dictionaryChunk(
  out: ByteWriter,
  start: number,
  rows: number,
  type: number,
  dictionary: Uint8Array,
  entries: number,
  indices: ArrayLike<number>,
  stats: ChunkMeta['stats'],
): ChunkMeta {
  pageHeader(out, PAGE_DICTIONARY, dictionary.length, entries, ENCODING_PLAIN);
  out.bytes(dictionary);
  const dataOffset = out.length;
  const body = new ByteWriter(rows + 16);
  const width = Math.max(1, bitWidth(Math.max(0, entries - 1)));
  body.byte(width);
  bitPackedRuns(body, indices, rows, width);
  const page = body.finish();
  pageHeader(out, PAGE_DATA, page.length, rows, ENCODING_RLE_DICTIONARY);
  out.bytes(page);
  return {
    type,
    encodings: [ENCODING_PLAIN, ENCODING_RLE, ENCODING_RLE_DICTIONARY],
    start,
    dictionaryOffset: start,
    dataOffset,
    bytes: out.length - start,
    stats,
  };
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

/** The RLE / bit-packing hybrid as bit-packed runs only (groups of 8, the last padded with 0). */
function bitPackedRuns(out: ByteWriter, values: ArrayLike<number>, n: number, width: number): void {
  const groups = Math.ceil(n / 8);
  out.varint(groups * 2 + 1);
  const buf = out.reserve(groups * width);
  let o = out.length;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < groups * 8; i++) {
    acc |= (i < n ? values[i] : 0) << bits; // width ≤ 16 and bits < 8: within 24 bits
    bits += width;
    while (bits >= 8) {
      buf[o++] = acc;
      acc >>>= 8;
      bits -= 8;
    }
  }
  out.length = o;
}

const BLOCK = 128;
const MINIBLOCKS = 4;
const MINI = BLOCK / MINIBLOCKS;

/**
 * DELTA_BINARY_PACKED of `n` int64 values given as words; false (nothing useful written) when a
 * value is outside 0 … 2^52, where float arithmetic would not be exact.
 */
function deltaBinaryPacked(out: ByteWriter, words: Uint32Array, n: number): boolean {
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const hi = words[2 * i + 1];
    if (hi >= 1 << 20) return false;
    values[i] = hi * TWO_32 + words[2 * i];
  }
  out.varint(BLOCK);
  out.varint(MINIBLOCKS);
  out.varint(n);
  out.varint(n === 0 ? 0 : values[0] * 2); // zigzag of a non-negative value
  const deltas = new Float64Array(BLOCK);
  const widths = new Uint8Array(MINIBLOCKS);
  for (let b = 1; b < n; b += BLOCK) {
    const count = Math.min(BLOCK, n - b);
    let min = Infinity;
    for (let k = 0; k < count; k++) {
      const d = values[b + k] - values[b + k - 1];
      deltas[k] = d;
      if (d < min) min = d;
    }
    out.varint(min >= 0 ? min * 2 : -min * 2 - 1); // zigzag; |min| < 2^52
    const minis = Math.ceil(count / MINI);
    let bytes = 0;
    for (let m = 0; m < MINIBLOCKS; m++) {
      let or = 0;
      let top = 0;
      if (m < minis) {
        for (let k = m * MINI; k < Math.min(count, (m + 1) * MINI); k++) {
          const u = deltas[k] - min;
          if (u >= TWO_32) top = Math.max(top, u);
          else or |= u;
        }
      }
      widths[m] = top > 0 ? bitWidth(Math.floor(top / TWO_32)) + 32 : bitWidth(or >>> 0);
      bytes += widths[m] * 4; // 32 values of w bits
    }
    out.bytes(widths);
    const buf = out.reserve(bytes);
    let o = out.length;
    for (let m = 0; m < minis; m++) {
      const w = widths[m];
      if (w === 0) continue;
      const from = m * MINI;
      o = packMiniblock(buf, o, deltas, from, Math.min(count, from + MINI) - from, min, w);
    }
    out.length = o;
  }
  return true;
}

/**
 * Packs 32 values (deltas[from …] − min; missing ones as 0) of `w` bits each, LSB first, into
 * `buf` at `o`; returns the offset after them. Pieces of at most 24 bits, so the pending bits
 * (fewer than 8) and a piece fit in 32.
 */
function packMiniblock(
  buf: Uint8Array,
  o: number,
  deltas: Float64Array,
  from: number,
  count: number,
  min: number,
  w: number,
): number {
  let acc = 0;
  let bits = 0;
  if (w <= 24) {
    for (let k = 0; k < MINI; k++) {
      acc |= (k < count ? deltas[from + k] - min : 0) << bits;
      bits += w;
      while (bits >= 8) {
        buf[o++] = acc;
        acc >>>= 8;
        bits -= 8;
      }
    }
    return o;
  }
  for (let k = 0; k < MINI; k++) {
    const u = k < count ? deltas[from + k] - min : 0; // < 2^53
    const lo = u % 16777216;
    const hi = (u - lo) / 16777216; // < 2^29
    acc |= lo << bits;
    bits += 24;
    while (bits >= 8) {
      buf[o++] = acc;
      acc >>>= 8;
      bits -= 8;
    }
    const rest = w - 24;
    const first = rest <= 24 ? hi : hi & 0xffffff;
    acc |= first << bits;
    bits += rest <= 24 ? rest : 24;
    while (bits >= 8) {
      buf[o++] = acc;
      acc >>>= 8;
      bits -= 8;
    }
    if (rest > 24) {
      acc |= (hi >>> 24) << bits;
      bits += rest - 24;
      while (bits >= 8) {
        buf[o++] = acc;
        acc >>>= 8;
        bits -= 8;
      }
    }
  }
  return o;
}

function bitWidth(v: number): number {
  return v === 0 ? 0 : 32 - Math.clz32(v);
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
    t.i32(3, ENCODING_RLE); // definition levels (none: REQUIRED)
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
  chunks: ChunkMeta[],
  createdBy: string,
): void {
  t.i32(1, 1); // version
  t.listBegin(2, 12, columns.length + 1); // schema
  t.fieldsBegin();
  t.string(4, 'schema');
  t.i32(5, columns.length);
  t.fieldsEnd();
  columns.forEach((c, i) => {
    t.fieldsBegin();
    t.i32(1, chunks[i].type);
    t.i32(3, REQUIRED);
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
    } else {
      t.i32(6, CONVERTED_INT_64);
      t.structBegin(10);
      t.structBegin(10); // INTEGER
      t.i8(1, 64);
      t.bool(2, true);
      t.structEnd();
      t.structEnd();
    }
    t.fieldsEnd();
  });
  t.i64(3, rows);
  t.listBegin(4, 12, 1); // row_groups
  t.fieldsBegin();
  t.listBegin(1, 12, columns.length); // columns
  let total = 0;
  columns.forEach((c, i) => {
    const m = chunks[i];
    total += m.bytes;
    t.fieldsBegin();
    t.i64(2, m.start); // file_offset
    t.structBegin(3); // ColumnMetaData
    t.i32(1, m.type);
    t.listBegin(2, 5, m.encodings.length);
    for (const e of m.encodings) t.varint(zigzag(e));
    t.listBegin(3, 8, 1);
    t.binary(Buffer.from(c.name, 'utf8'));
    t.i32(4, CODEC_UNCOMPRESSED);
    t.i64(5, rows);
    t.i64(6, m.bytes);
    t.i64(7, m.bytes);
    t.i64(9, m.dataOffset);
    if (m.dictionaryOffset >= 0) t.i64(11, m.dictionaryOffset);
    if (m.stats !== null) {
      t.structBegin(12); // Statistics
      t.i64(3, 0); // null_count
      t.binaryField(5, m.stats.max); // max_value
      t.binaryField(6, m.stats.min); // min_value
      t.structEnd();
    }
    t.structEnd();
    t.fieldsEnd();
  });
  t.i64(2, total); // total_byte_size
  t.i64(3, rows);
  t.i64(5, chunks.length > 0 ? chunks[0].start : 4); // file_offset
  t.i64(6, total); // total_compressed_size
  t.i16(7, 0); // ordinal
  t.fieldsEnd();
  t.string(6, createdBy);
  t.fieldsEnd();
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

/** A growable byte buffer. */
class ByteWriter {
  #buf: Uint8Array;
  length = 0;

  constructor(capacity: number) {
    this.#buf = new Uint8Array(Math.max(64, capacity));
  }

  #room(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.length + n, this.#buf.length * 2));
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
  }

  reset(): void {
    this.length = 0;
  }

  /** Makes room for `n` more bytes; returns the buffer to write them at `length` on. */
  reserve(n: number): Uint8Array {
    this.#room(n);
    return this.#buf;
  }

  byte(b: number): void {
    if (this.length === this.#buf.length) this.#room(1);
    this.#buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
  }

  u32(v: number): void {
    this.#room(4);
    const b = this.#buf;
    b[this.length++] = v & 255;
    b[this.length++] = (v >>> 8) & 255;
    b[this.length++] = (v >>> 16) & 255;
    b[this.length++] = v >>> 24;
  }

  /** A non-negative integer below 2^53 as 8 bytes little-endian. */
  u64(v: number): void {
    const hi = Math.floor(v / TWO_32);
    this.u32(v - hi * TWO_32);
    this.u32(hi);
  }

  /** An unsigned LEB128 varint of a non-negative integer below 2^53. */
  varint(v: number): void {
    while (v >= 128) {
      this.byte((v % 128) + 128);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }

  finish(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }
}

/** Thrift compact protocol, just what the metadata above needs. */
class ThriftWriter extends ByteWriter {
  #last: number[] = [0];

  constructor() {
    super(256);
  }

  #field(id: number, type: number): void {
    const delta = id - this.#last[this.#last.length - 1];
    if (delta > 0 && delta <= 15) this.byte((delta << 4) | type);
    else {
      this.byte(type);
      this.varint(zigzag(id));
    }
    this.#last[this.#last.length - 1] = id;
  }

  /** Starts the fields of a struct that is a list element or the top level. */
  fieldsBegin(): void {
    this.#last.push(0);
  }

  fieldsEnd(): void {
    this.byte(0);
    this.#last.pop();
  }

  structBegin(id: number): void {
    this.#field(id, 12);
    this.fieldsBegin();
  }

  structEnd(): void {
    this.fieldsEnd();
  }

  bool(id: number, v: boolean): void {
    this.#field(id, v ? 1 : 2);
  }

  i8(id: number, v: number): void {
    this.#field(id, 3);
    this.byte(v & 255);
  }

  i16(id: number, v: number): void {
    this.#field(id, 4);
    this.varint(zigzag(v));
  }

  i32(id: number, v: number): void {
    this.#field(id, 5);
    this.varint(zigzag(v));
  }

  i64(id: number, v: number): void {
    this.#field(id, 6);
    this.varint(zigzag(v));
  }

  binary(b: Uint8Array): void {
    this.varint(b.length);
    this.bytes(b);
  }

  binaryField(id: number, b: Uint8Array): void {
    this.#field(id, 8);
    this.binary(b);
  }

  string(id: number, s: string): void {
    this.binaryField(id, Buffer.from(s, 'utf8'));
  }

  /** A list field's header; its elements follow (structs with fieldsBegin / fieldsEnd). */
  listBegin(id: number, elementType: number, size: number): void {
    this.#field(id, 9);
    if (size < 15) this.byte((size << 4) | elementType);
    else {
      this.byte(0xf0 | elementType);
      this.varint(size);
    }
  }
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
