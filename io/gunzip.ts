/** Gunzips a stream of chunks (e.g. a storage read), passing on the source's errors. */

import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** The decompressed bytes of `source`; an error of the source or of zlib ends the stream with it. */
export function gunzip(source: AsyncIterable<Uint8Array>): Readable {
  const input = Readable.from(source, { objectMode: false });
  const output = createGunzip();
  // `pipe` does not forward errors: a failed read would leave the reader waiting forever.
  input.on('error', (err) => output.destroy(err));
  output.on('close', () => input.destroy());
  return input.pipe(output);
}
