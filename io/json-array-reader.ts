/**
 * Reads a JSON array file (local or s3://) element by element with stream-json, never holding the
 * file: `[{…}, {…}, …]` → each element in order. A file is one split. Its bytes must be UTF-8:
 * they are checked as they stream (TextDecoder, fatal), since the parser would otherwise turn an
 * invalid byte into U+FFFD without a word. A file that is not one JSON array, or not UTF-8, stops
 * the run with one line naming the file and the byte where it went wrong (exit 2).
 *
 * Memory: one storage chunk and one element.
 */

import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import StreamArray from 'stream-json/streamers/StreamArray.js';
import { InputError } from '../errors.js';
import { storageFor } from './storage.js';

/** Options of {@link readJsonArray}. */
export interface ReadJsonArrayOptions {
  url: string;
  /** Each element in order with its 0-based index. */
  onElement: (value: unknown, index: number) => void;
  /** Bytes read, as they are read (for live progress). */
  onBytes?: (bytes: number) => void;
}

/** Streams the elements of the JSON array at `url`; resolves with how many there were. */
export async function readJsonArray(options: ReadJsonArrayOptions): Promise<{ elements: number }> {
  const { url } = options;
  const storage = await storageFor(url);
  let offset = 0;
  let elements = 0;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const checked = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      try {
        decoder.decode(chunk, { stream: true });
      } catch {
        return done(bad(url, `is not valid UTF-8 (at or after byte ${offset})`));
      }
      offset += chunk.length;
      options.onBytes?.(chunk.length);
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      try {
        decoder.decode();
      } catch {
        return done(bad(url, 'ends inside a UTF-8 sequence'));
      }
      done();
    },
  });
  const sink = new Writable({
    objectMode: true,
    write(item: { key: number; value: unknown }, _encoding, done) {
      try {
        options.onElement(item.value, item.key);
        elements++;
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
  try {
    await pipeline(storage.read(url), checked, StreamArray.withParser(), sink);
  } catch (err) {
    if (err instanceof InputError || !(err instanceof Error) || 'code' in err) throw err;
    throw bad(url, `is not one JSON array (${err.message.split('\n')[0]}; near byte ${offset})`);
  }
  return { elements };
}

function bad(url: string, what: string): InputError {
  return new InputError(
    'E_BAD_JSON_ARRAY',
    `${url}: ${what}; give a file holding one JSON array of objects`,
    {
      file: url,
    },
  );
}
