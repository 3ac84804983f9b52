/**
 * Reads the raw text of the records that start at given byte offsets of a file (without their line
 * terminator), for reject reports found after the first pass. Offsets are visited in ascending
 * order through 1 MiB windows, so a split's lines cost about one sequential read of the split.
 */

import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

const WINDOW = 1024 * 1024;

function cutLine(buf: Buffer, from: number, maxBytes: number): { bytes: Buffer; complete: boolean } {
  const lf = buf.indexOf(10, from);
  let end = lf < 0 ? buf.length : lf;
  const complete = lf >= 0 || end - from >= maxBytes;
  if (end - from > maxBytes) end = from + maxBytes;
  if (lf >= 0 && end > from && buf[end - 1] === 13) end--;
  return { bytes: buf.subarray(from, end), complete };
}

/** Raw lines at `offsets` (ascending), each cut to `maxBytes`. */
export async function readRawLines(
  path: string,
  offsets: readonly number[],
  options: { gzip?: boolean; maxBytes?: number } = {},
): Promise<Buffer[]> {
  const maxBytes = options.maxBytes ?? 64 * 1024;
  if (offsets.length === 0) return [];
  if (options.gzip) return readGzipLines(path, offsets, maxBytes);
  const out: Buffer[] = [];
  const handle = await open(path, 'r');
  try {
    let window = Buffer.alloc(0);
    let windowStart = -1;
    for (const offset of offsets) {
      if (windowStart < 0 || offset < windowStart || offset + maxBytes > windowStart + window.length) {
        window = Buffer.allocUnsafe(Math.max(WINDOW, maxBytes + 2));
        const { bytesRead } = await handle.read(window, 0, window.length, offset);
        window = window.subarray(0, bytesRead);
        windowStart = offset;
      }
      out.push(Buffer.from(cutLine(window, offset - windowStart, maxBytes).bytes));
    }
  } finally {
    await handle.close();
  }
  return out;
}

async function readGzipLines(path: string, offsets: readonly number[], maxBytes: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let next = 0;
  let base = 0;
  let carry = Buffer.alloc(0);
  const stream = createReadStream(path).pipe(createGunzip());
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      while (next < offsets.length && offsets[next] - base < buf.length) {
        const cut = cutLine(buf, offsets[next] - base, maxBytes);
        if (!cut.complete) break;
        out.push(Buffer.from(cut.bytes));
        next++;
      }
      if (next === offsets.length) break;
      const keepFrom = Math.min(buf.length, Math.max(0, offsets[next] - base));
      carry = Buffer.from(buf.subarray(keepFrom));
      base += keepFrom;
    }
    while (next < offsets.length) {
      out.push(Buffer.from(cutLine(carry, Math.max(0, offsets[next] - base), maxBytes).bytes));
      next++;
    }
  } finally {
    stream.destroy();
  }
  return out;
}
