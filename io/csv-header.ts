/**
 * Reads and maps a CSV header: names are trimmed and matched case-insensitively, extra columns are
 * ignored, a UTF-8 byte order mark is skipped, and a missing required column stops the run with a
 * message that names it, the file, and the columns found; so does a required column named twice
 * (`user_id,…,User_ID`), with both positions.
 */

import { gunzip } from './gunzip.js';
import { CsvDecoder, fieldText } from './csv-decoder.js';
import { InputError } from '../errors.js';
import { storageFor } from './storage.js';

export interface CsvHeader {
  /** Header names as written. */
  names: string[];
  /** Index of each required column, in the order asked. */
  indices: number[];
  /** Byte offset of the first data record (after BOM and header line). */
  dataStart: number;
}

const PROBE_BYTES = 1024 * 1024;

async function firstBytes(path: string, gzip: boolean): Promise<Buffer> {
  const storage = await storageFor(path);
  if (gzip) {
    const chunks: Buffer[] = [];
    let n = 0;
    const stream = gunzip(storage.read(path));
    try {
      for await (const c of stream as AsyncIterable<Buffer>) {
        chunks.push(c);
        n += c.length;
        if (n >= PROBE_BYTES) break;
      }
    } catch (err) {
      if (!(err instanceof Error) || !('errno' in err)) throw err; // a storage error, not zlib's
      throw new InputError('E_BAD_GZIP', `${path}: not a readable gzip file (${err.message})`, {
        file: path,
        cause: err,
      });
    } finally {
      stream.destroy();
    }
    return Buffer.concat(chunks);
  }
  const head = await storage.readRange(path, 0, PROBE_BYTES);
  return Buffer.from(head.buffer, head.byteOffset, head.byteLength);
}

/** Reads the header of `path` and finds `required` columns in it. */
export async function readCsvHeader(
  path: string,
  required: readonly string[],
  gzip = false,
): Promise<CsvHeader> {
  const head = await firstBytes(path, gzip);
  const bom = head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  let names: string[] | null = null;
  let dataStart = head.length;
  const decoder = new CsvDecoder({
    source: path,
    onRecord: (rec) => {
      if (names !== null) return;
      names = [];
      for (let i = 0; i < rec.fieldCount; i++) names.push(fieldText(rec, i));
      let end = rec.offset + (rec.rawEnd - rec.rawStart); // absolute: rec.buf may be a copy
      if (head[end] === 13) end++;
      if (head[end] === 10) end++;
      dataStart = end;
    },
  });
  decoder.push(head.subarray(bom), bom);
  if (names === null) decoder.end();
  const found = names as string[] | null;
  if (found === null) {
    throw new InputError(
      'E_NO_HEADER',
      `${path}: the file is empty; expected a header line with ${required.join(', ')}`,
      {
        file: path,
      },
    );
  }
  const lower = found.map((n) => n.trim().toLowerCase());
  const indices = required.map((col) => {
    const i = lower.indexOf(col.toLowerCase());
    const again = i < 0 ? -1 : lower.indexOf(col.toLowerCase(), i + 1);
    if (again >= 0) {
      // Which one the user meant is a guess either way: stop rather than read the first silently.
      throw new InputError(
        'E_AMBIGUOUS_HEADER',
        `${path}: the header names column "${col}" twice, as "${found[i].trim()}" (column ${i + 1}) and "${found[again].trim()}" (column ${again + 1}); rename or remove one`,
        { file: path },
      );
    }
    if (i < 0) {
      throw new InputError(
        'E_MISSING_COLUMN',
        `${path}: missing required column "${col}" (header has: ${found.join(', ')})`,
        { file: path },
      );
    }
    return i;
  });
  return { names: found, indices, dataStart };
}
