/**
 * Reads the lines of one split of a JSON Lines object through {@link Storage} (local or s3://),
 * applying the line rule of ARCHITECTURE.md: a split [start, end) owns every line whose first byte
 * lies in it. A split that does not begin at 0 reads from `start - 1` and skips through the first
 * line feed; the line that crosses `end` is read to its end. A trailing `\r` is dropped, and a
 * UTF-8 BOM at byte 0.
 *
 * A line longer than `maxLineBytes` is not held: once it is known to be too long, only its first
 * `keepBytes` are kept and it is reported with `tooLong`. Peak memory: one storage chunk (4 MiB
 * locally) plus one pending line of at most `maxLineBytes`.
 */

import { storageFor } from './storage.js';

/** Options of {@link readJsonlSplit}. */
export interface ReadJsonlSplitOptions {
  url: string;
  /** First byte of the split. */
  start: number;
  /** End of the split (exclusive). */
  end: number;
  /** Longest line passed whole, in bytes. Required. */
  maxLineBytes: number;
  /** Bytes of a too-long line kept for the reject's raw text; default 4096. */
  keepBytes?: number;
  /** Every owned line in order, empty ones included; `tooLong` lines carry a prefix only. */
  onLine: (text: string, tooLong: boolean) => void;
  /**
   * When given, lines that are not too long come here instead, undecoded: bytes [start, end) of
   * `bytes`, without the line break and a trailing `\r`. The buffer is never reused or changed
   * afterwards, so a consumer may keep a view of it. Too-long lines still go to `onLine`.
   */
  onLineBytes?: (bytes: Buffer, start: number, end: number) => void;
  /** Bytes of [start, end) read, as they are read (for live progress). */
  onBytes?: (bytes: number) => void;
}

/** Reads the split; resolves with the number of lines it owns. */
export async function readJsonlSplit(options: ReadJsonlSplitOptions): Promise<{ lines: number }> {
  const { url, start, end, maxLineBytes, onLine } = options;
  const keep = options.keepBytes ?? 4096;
  if (start >= end) return { lines: 0 }; // an empty split owns no line
  const storage = await storageFor(url);
  let lines = 0;
  let aligned = start === 0;
  let position = aligned ? 0 : start - 1;
  // The pending line: its kept bytes, its full length so far.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let pendingKept = 0;
  const { onLineBytes } = options;
  const emit = (text: string, tooLong: boolean) => {
    lines++;
    onLine(text.endsWith('\r') ? text.slice(0, -1) : text, tooLong);
  };
  /** A line that is not too long: bytes [from, to) of `buf`, line break excluded. */
  const emitBytes = (buf: Buffer, from: number, to: number) => {
    if (onLineBytes === undefined) return emit(buf.toString('utf8', from, to), false);
    lines++;
    onLineBytes(buf, from, to > from && buf[to - 1] === 13 ? to - 1 : to);
  };
  const addPending = (part: Buffer) => {
    pendingBytes += part.length;
    if (pendingKept < maxLineBytes + 1) {
      const take = part.subarray(0, maxLineBytes + 1 - pendingKept);
      pending.push(take);
      pendingKept += take.length;
    }
  };
  const flushPending = (tail: Buffer) => {
    addPending(tail);
    const length = pendingBytes - (pendingBytes > 0 && lastByte(pending) === 13 ? 1 : 0);
    const joined = Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    pendingKept = 0;
    if (length > maxLineBytes) emit(joined.subarray(0, keep).toString('utf8'), true);
    else emitBytes(joined, 0, joined.length);
  };
  let done = false;
  for await (const raw of storage.read(url, position, Infinity)) {
    let chunk = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const chunkStart = position;
    position += chunk.length;
    options.onBytes?.(Math.max(0, Math.min(position, end) - Math.max(chunkStart, start)));
    let from = 0;
    if (!aligned) {
      const lf = chunk.indexOf(10);
      if (lf < 0) continue; // the line that crosses `start` belongs to the previous split
      aligned = true;
      from = lf + 1;
      if (chunkStart + from >= end) break;
    } else if (chunkStart === 0 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
      from = 3;
    }
    // The line that starts after the first line feed at or beyond `end - 1` is not ours: stop there.
    const limit = end - 1 - chunkStart;
    if (limit < chunk.length) {
      const stop = chunk.indexOf(10, Math.max(from, limit));
      if (stop >= 0) {
        chunk = chunk.subarray(0, stop + 1);
        done = true;
      }
    }
    const firstLf = chunk.indexOf(10, from);
    if (firstLf < 0) {
      addPending(chunk.subarray(from));
      continue;
    }
    flushPending(chunk.subarray(from, firstLf));
    const lastLf = chunk.lastIndexOf(10);
    if (lastLf > firstLf) {
      // Whole lines between the first and last line feed, cut on the bytes (a UTF-8 sequence never
      // holds a line feed); a too-long one is decoded from a prefix long enough for `keep` characters.
      for (let from = firstLf + 1; from <= lastLf;) {
        const lf = chunk.indexOf(10, from);
        const to = lf - (lf > from && chunk[lf - 1] === 13 ? 1 : 0);
        if (to - from > maxLineBytes)
          emit(chunk.toString('utf8', from, Math.min(lf, from + 4 * keep + 4)).slice(0, keep), true);
        else emitBytes(chunk, from, lf);
        from = lf + 1;
      }
    }
    if (done) break;
    if (lastLf + 1 < chunk.length) addPending(chunk.subarray(lastLf + 1));
  }
  if (!done && pendingBytes > 0) flushPending(Buffer.alloc(0));
  return { lines };
}

function lastByte(parts: Buffer[]): number {
  const last = parts[parts.length - 1];
  return last.length > 0 ? last[last.length - 1] : -1;
}
