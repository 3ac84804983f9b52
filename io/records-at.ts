/**
 * Decodes the records that start at given byte offsets of a CSV file, for work found after the
 * first pass (duplicates to subtract and report). Offsets are visited in ascending order: a plain
 * file (local or S3) through windows read at each offset (grown until the record is complete, so a quoted line
 * break is honoured), a gzip file by streaming it once. Memory: one window (256 KiB, or the record).
 */

import { CsvDecoder, type CsvRecord } from './csv-decoder.js';
import { gunzip } from './gunzip.js';
import { storageFor } from './storage.js';
import { InputError } from '../errors.js';

const WINDOW = 256 * 1024;

/** Calls `onRecord(record, i)` for the record starting at each of `offsets` (ascending). */
export async function readRecordsAt(
  path: string,
  offsets: readonly number[],
  onRecord: (record: CsvRecord, index: number) => void,
  options: { gzip?: boolean } = {},
): Promise<void> {
  if (offsets.length === 0) return;
  const storage = await storageFor(path);
  if (options.gzip) return readGzipRecordsAt(path, storage.read(path), offsets, onRecord);
  let window: Uint8Array = new Uint8Array(0);
  let windowStart = 0;
  let atEof = false;
  for (let i = 0; i < offsets.length; i++) {
    const offset = offsets[i];
    let size = WINDOW;
    for (;;) {
      if (offset < windowStart || offset >= windowStart + window.length || size > WINDOW) {
        // One ranged read per window (a local file reads it with a blocking call: small reads in
        // a worker cost less than a thread-pool round trip each).
        window = await storage.readRange(path, offset, size);
        windowStart = offset;
        atEof = window.length < size;
      }
      let seen = false;
      const decoder = new CsvDecoder({
        source: path,
        endOffset: offset + 1, // only the record that starts at `offset`
        onRecord: (record) => {
          seen = true;
          onRecord(record, i);
        },
      });
      decoder.push(window.subarray(offset - windowStart), offset);
      if (!seen && atEof) decoder.end();
      if (seen) break;
      if (atEof)
        throw new InputError(
          'E_INPUT_CHANGED',
          `${path}: no record starts at byte ${offset} any more: the file changed while the run read it; rerun once it is complete`,
          { file: path },
        );
      size *= 2; // the record runs past the window: read a larger one from its start
    }
  }
}

async function readGzipRecordsAt(
  path: string,
  compressed: AsyncIterable<Uint8Array>,
  offsets: readonly number[],
  onRecord: (record: CsvRecord, index: number) => void,
): Promise<void> {
  let next = 0;
  const decoder = new CsvDecoder({
    source: path,
    onRecord: (record) => {
      while (next < offsets.length && offsets[next] < record.offset) next++;
      if (next < offsets.length && offsets[next] === record.offset) onRecord(record, next++);
    },
  });
  let offset = 0;
  const stream = gunzip(compressed);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      decoder.push(chunk, offset);
      offset += chunk.length;
      if (next >= offsets.length) break;
    }
    if (next < offsets.length) decoder.end();
  } finally {
    stream.destroy();
  }
}
