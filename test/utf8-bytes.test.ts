/**
 * Utf8Bytes (string columns from byte ranges, for the rejects parts): the values read back from
 * Parquet are the byte ranges decoded as Buffer#toString decodes them, invalid UTF-8 included
 * (replaced by U+FFFD, as the rejects' raw lines always were).
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parquetReadObjects } from 'hyparquet';
import { Utf8Bytes, encodeParquetColumns } from '../io/parquet-columns.js';

test('Utf8Bytes: byte ranges, multibyte and invalid UTF-8 read back as Buffer#toString gives them', async () => {
  const source = Buffer.concat([
    Buffer.from('plain,ascii'),
    Buffer.from('café ✓ 𝄞'),
    Buffer.from([0x61, 0xff, 0x62]), // an invalid byte
    Buffer.from('€').subarray(0, 2), // a multibyte character cut short
    Buffer.from(''),
  ]);
  const cuts = [0, 11, 11 + Buffer.byteLength('café ✓ 𝄞'), source.length - 2, source.length, source.length];
  const column = new Utf8Bytes(1, 1); // grows as values come
  const expected: string[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    column.push(source, cuts[i], cuts[i + 1]);
    expected.push(source.toString('utf8', cuts[i], cuts[i + 1]));
  }
  for (let i = 0; i < 200; i++) {
    column.push(source, 0, 5);
    expected.push(source.toString('utf8', 0, 5));
  }
  assert.ok(expected[2].includes('\ufffd') && expected[3].includes('\ufffd'));
  const bytes = encodeParquetColumns(expected.length, [column.column('raw')], 'test');
  const rows = await parquetReadObjects({
    file: bytes.slice().buffer as ArrayBuffer,
  });
  assert.deepEqual(
    rows.map((r) => r.raw),
    expected,
  );
});
