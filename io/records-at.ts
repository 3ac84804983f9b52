/**
 * Decodes the records that start at given byte offsets of a CSV file, for work found after the
 * first pass (duplicates to subtract and report). Offsets are visited in ascending order: a plain
 * file through windows read at each offset (grown until the record is complete, so a quoted line
 * break is honoured), a gzip file by streaming it once. Memory: one window (256 KiB, or the record).
 */

import { open } from 'node:fs/promises';
import { createReadStream, readSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { CsvDecoder, type CsvRecord } from './csv-decoder.js';

const WINDOW = 256 * 1024;

/** Calls `onRecord(record, i)` for the record starting at each of `offsets` (ascending). */
export async function readRecordsAt(
  path: string,
  offsets: readonly number[],
  onRecord: (record: CsvRecord, index: number) => void,
  options: { gzip?: boolean } = {},
): Promise<void> {
  if (offsets.length === 0) return;
  if (options.gzip) return readGzipRecordsAt(path, offsets, onRecord);
  const handle = await open(path, 'r');
  try {
    let window = Buffer.alloc(0);
    let windowStart = 0;
    let atEof = false;
    for (let i = 0; i < offsets.length; i++) {
      const offset = offsets[i];
      let size = WINDOW;
      for (;;) {
        if (offset < windowStart || offset >= windowStart + window.length || size > WINDOW) {
          window = Buffer.allocUnsafe(size);
          // A blocking read: this runs in a worker, where an async read costs a thread-pool round
          // trip per window (measured 1.5× the stage's time).
          const bytesRead = readSync(handle.fd, window, 0, size, offset);
          window = window.subarray(0, bytesRead);
          windowStart = offset;
          atEof = bytesRead < size;
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
        if (atEof) throw new Error(`${path}: no record starts at byte ${offset}`);
        size *= 2; // the record runs past the window: read a larger one from its start
      }
    }
  } finally {
    await handle.close();
  }
}

async function readGzipRecordsAt(
  path: string,
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
  const stream = createReadStream(path).pipe(createGunzip());
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
