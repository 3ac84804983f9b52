/**
 * Reads one split of a local file and feeds it to a {@link CsvDecoder}, applying the Hadoop line
 * rule: a split [start, end) owns every record whose first byte lies in it. A split that does not
 * begin at a known record start skips to the byte after the first line feed at or after
 * `start - 1`; the record that crosses `end` is read to its end. Gzip files are one split each and
 * are streamed through zlib.
 *
 * Peak memory: one block (`blockBytes`, default 4 MiB) plus one pending partial record.
 */

import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { CsvDecoder, type CsvRecord } from './csv-decoder.js';

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
  /** Called with the byte count of each block read (for live progress). */
  onBytes?: (bytes: number) => void;
  /** Read block size; default 4 MiB. */
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
  const { path, start, end, onRecord } = options;
  let firstOffset = -1;
  const decoder = new CsvDecoder({
    source: path,
    endOffset: end,
    onRecord: (record) => {
      if (firstOffset < 0) firstOffset = record.offset;
      onRecord(record);
    },
  });
  if (options.gzip) {
    // A gzip file is one split; bytes before `start` (the header) are decompressed and dropped.
    let offset = 0;
    const file = createReadStream(path);
    // Progress counts the compressed bytes read: the file's size is what the plan knows.
    if (options.onBytes) file.on('data', (chunk: string | Buffer) => options.onBytes?.(chunk.length));
    const stream = file.pipe(createGunzip());
    for await (const raw of stream as AsyncIterable<Buffer>) {
      options.signal?.throwIfAborted();
      const skip = Math.max(0, Math.min(raw.length, start - offset));
      if (skip < raw.length) decoder.push(raw.subarray(skip), offset + skip);
      offset += raw.length;
    }
    decoder.end();
    return result(decoder, firstOffset);
  }
  const handle = await open(path, 'r');
  try {
    const blockBytes = options.blockBytes ?? 4 * 1024 * 1024;
    const block = Buffer.allocUnsafe(blockBytes);
    let position = start;
    let aligned = options.alignedStart;
    if (!aligned) position = start - 1;
    let recordStart = start;
    for (;;) {
      options.signal?.throwIfAborted();
      const { bytesRead } = await handle.read(block, 0, blockBytes, position);
      if (bytesRead === 0) break;
      // Only bytes of [start, end) count toward progress, so the splits of a file add up to it.
      options.onBytes?.(Math.max(0, Math.min(position + bytesRead, end) - Math.max(position, start)));
      let chunk = block.subarray(0, bytesRead);
      let chunkOffset = position;
      position += bytesRead;
      if (!aligned) {
        const lf = chunk.indexOf(10);
        if (lf < 0) continue; // the record that crosses `start` belongs to the previous split
        aligned = true;
        chunkOffset += lf + 1;
        chunk = chunk.subarray(lf + 1);
        recordStart = chunkOffset;
        if (recordStart >= end) break;
      }
      decoder.push(chunk, chunkOffset);
      if (decoder.done) break;
    }
    if (!decoder.done) decoder.end();
    return result(decoder, firstOffset);
  } finally {
    await handle.close();
  }
}

function result(decoder: CsvDecoder, firstOffset: number): SplitReadResult {
  return {
    lines: decoder.linesConsumed,
    records: decoder.records,
    sawQuotedNewline: decoder.sawQuotedNewline,
    firstOffset,
  };
}
