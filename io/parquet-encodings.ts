/**
 * The Parquet encodings the writer uses (https://parquet.apache.org/docs/file-format/data-pages/encodings/):
 * the RLE / bit-packing hybrid (dictionary indices and definition levels), DELTA_BINARY_PACKED
 * for int64, and PLAIN booleans (bit-packed).
 */

import { ByteWriter } from './parquet-byte-writer.js';

const TWO_32 = 4294967296;

/** The RLE / bit-packing hybrid as bit-packed runs only (groups of 8, the last padded with 0). */
export function bitPackedRuns(out: ByteWriter, values: ArrayLike<number>, n: number, width: number): void {
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
export function deltaBinaryPacked(out: ByteWriter, words: Uint32Array, n: number): boolean {
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

/**
 * Definition levels of rows [from, to) of an OPTIONAL column (max level 1: 1 present, 0 where
 * `nulls` is not 0) in the RLE / bit-packing hybrid, with the 4-byte length prefix that Data Page
 * V1 puts before it. Runs of 8 or more equal levels are RLE runs, the rest bit-packed groups of 8
 * (the last one padded with 0 only at the end of the page, where readers stop at the row count).
 */
export function definitionLevels(out: ByteWriter, nulls: Uint8Array, from: number, to: number): void {
  const lengthAt = out.length;
  out.u32(0);
  const start = out.length;
  let i = from;
  while (i < to) {
    const level = nulls[i] === 0 ? 1 : 0;
    let j = i + 1;
    while (j < to && (nulls[j] === 0 ? 1 : 0) === level) j++;
    if (j - i >= 8) {
      out.varint((j - i) * 2); // an RLE run: its length, then the level in one byte
      out.byte(level);
      i = j;
      continue;
    }
    // Bit-packed groups of 8, until a run of 8 equal levels starts or the rows end.
    let end = i + 8;
    while (end < to && !startsRun(nulls, end, to)) end += 8;
    out.varint(((end - i) / 8) * 2 + 1);
    for (let g = i; g < end; g += 8) {
      let b = 0;
      for (let k = 0; k < 8 && g + k < to; k++) if (nulls[g + k] === 0) b |= 1 << k;
      out.byte(b);
    }
    i = end;
  }
  out.u32At(lengthAt, out.length - start);
}

/** Whether the 8 rows from `at` (all before `to`) are all null or all present. */
function startsRun(nulls: Uint8Array, at: number, to: number): boolean {
  if (at + 8 > to) return false;
  const isNull = nulls[at] !== 0;
  for (let k = 1; k < 8; k++) if ((nulls[at + k] !== 0) !== isNull) return false;
  return true;
}

/** PLAIN booleans: one bit a value, least significant first, the last byte padded with 0. */
export function plainBooleans(out: ByteWriter, values: Uint8Array, n: number): void {
  for (let i = 0; i < n; i += 8) {
    let b = 0;
    for (let k = 0; k < 8 && i + k < n; k++) if (values[i + k] !== 0) b |= 1 << k;
    out.byte(b);
  }
}

export function bitWidth(v: number): number {
  return v === 0 ? 0 : 32 - Math.clz32(v);
}
