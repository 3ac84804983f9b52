/**
 * Reads one split of a local file and feeds it to a {@link CsvDecoder}, applying the Hadoop line
 * rule: a split [start, end) owns every record whose first byte lies in it. A split that does not
 * begin at a known record start skips to the byte after the first line feed at or after
 * `start - 1`; the record that crosses `end` is read to its end. Gzip files are one split each and
 * are streamed through zlib.
 *
 * Peak memory: one block (4 MiB from a local file; an S3 body's chunks) plus one pending partial
 * record.
 */

import { gunzip } from './gunzip.js';
import { storageFor } from './storage.js';
import { CsvDecoder, type CsvDecoderOptions, type CsvRecord } from './csv-decoder.js';

/** Options of {@link readCsvSplit}. */
export interface ReadCsvSplitOptions {
  path: string;
  /** First byte of the split. */
  start: number;
  /** End of the split (exclusive); Infinity for a whole gzip file. */
  end: number;
  /** True when `start` is known to be a record start (the first data byte after the header). */
  alignedStart: boolean;
  gzip?: boolean;
  onRecord: (record: CsvRecord) => void;
  /** The caller's fast path for common records: see CsvDecoderOptions.fastRecord. */
  fastRecord?: CsvDecoderOptions['fastRecord'];
  /** Called with the byte count of each block read (for live progress). */
  onBytes?: (bytes: number) => void;
  /** Hands the decoder at most this many bytes at a time (tests of block boundaries); default: as read. */
  blockBytes?: number;
  signal?: AbortSignal;
}

/** What a split read saw. */
export interface SplitReadResult {
  /** Physical lines owned (records, empty lines and line breaks inside quoted fields). */
  lines: number;
  /** Non-empty records. */
  records: number;
  /** A quoted field contained a line break: the file must be read as one split. */
  sawQuotedNewline: boolean;
  /** Absolute offset of the first record owned, or -1 when the split owns none. */
  firstOffset: number;
}

/** Reads a split; resolves when its last record has been decoded. */
export async function readCsvSplit(options: ReadCsvSplitOptions): Promise<SplitReadResult> {
  const { path, start, end } = options;
  const decoder = new CsvDecoder({
    source: path,
    endOffset: end,
    onRecord: options.onRecord,
    fastRecord: options.fastRecord,
  });
  const storage = await storageFor(path);
  if (options.gzip) {
    // A gzip file is one split; bytes before `start` (the header) are decompressed and dropped.
    let offset = 0;
    // Progress counts the compressed bytes read: the file's size is what the plan knows.
    const stream = gunzip(counted(storage.read(path), options.onBytes));
    for await (const raw of stream as AsyncIterable<Buffer>) {
      options.signal?.throwIfAborted();
      const skip = Math.max(0, Math.min(raw.length, start - offset));
      if (skip < raw.length) decoder.push(raw.subarray(skip), offset + skip);
      offset += raw.length;
    }
    decoder.end();
    return result(decoder);
  }
  let position = options.alignedStart ? start : start - 1;
  let aligned = options.alignedStart;
  // The split's bytes and a little more for the record that crosses `end`; the rest of the file
  // only if that record is longer (one ranged read on S3 in the common case).
  let to = end === Infinity ? Infinity : end + TAIL_BYTES;
  let ownsNone = false;
  reading: for (;;) {
    for await (const block of rechunked(storage.read(path, position, to), options.blockBytes)) {
      options.signal?.throwIfAborted();
      // Only bytes of [start, end) count toward progress, so the splits of a file add up to it.
      options.onBytes?.(Math.max(0, Math.min(position + block.length, end) - Math.max(position, start)));
      let chunk = block;
      let chunkOffset = position;
      position += block.length;
      if (!aligned) {
        const lf = chunk.indexOf(10);
        if (lf < 0) continue; // the record that crosses `start` belongs to the previous split
        aligned = true;
        chunkOffset += lf + 1;
        chunk = chunk.subarray(lf + 1);
        if (chunkOffset >= end) {
          ownsNone = true;
          break reading;
        }
      }
      decoder.push(chunk, chunkOffset);
      if (decoder.done) break reading;
    }
    // The range came back short: the file ended. Else the last record runs on past the tail.
    if (position < to || to === Infinity) break;
    to = Infinity;
  }
  if (ownsNone) return result(decoder);
  if (!decoder.done) decoder.end();
  return result(decoder);
}

/** Bytes past a split's end read with it: most records that cross the end finish within them. */
const TAIL_BYTES = 64 * 1024;

/** `source` with chunks cut to at most `size` bytes. */
async function* rechunked(source: AsyncIterable<Uint8Array>, size = Infinity): AsyncIterable<Uint8Array> {
  for await (const chunk of source) {
    if (chunk.length <= size) yield chunk;
    else for (let o = 0; o < chunk.length; o += size) yield chunk.subarray(o, o + size);
  }
}

/** Reports each chunk's length to `onBytes` as it passes. */
async function* counted(
  source: AsyncIterable<Uint8Array>,
  onBytes: ((bytes: number) => void) | undefined,
): AsyncIterable<Uint8Array> {
  for await (const chunk of source) {
    onBytes?.(chunk.length);
    yield chunk;
  }
}

function result(decoder: CsvDecoder): SplitReadResult {
  return {
    lines: decoder.linesConsumed,
    records: decoder.records,
    sawQuotedNewline: decoder.sawQuotedNewline,
    firstOffset: decoder.firstOffset,
  };
}
