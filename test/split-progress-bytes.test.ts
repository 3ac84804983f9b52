/**
 * Progress bytes: the splits of a file report exactly the bytes of their own ranges, so a file's
 * splits add up to its data bytes however it is cut (a split still reads past its end to finish
 * its last record, but those bytes belong to the next split). A gzip file reports its compressed
 * size, which is what the plan knows.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readCsvSplit } from '../io/split-reader.js';
import { planSplitRanges } from '../partitioners/plan-splits.js';

test('split progress bytes add up to the file, for any split size and read block', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'shardflow-progress-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const header = 'a,b\n';
  const body = Array.from({ length: 3000 }, (_, i) => `${i},"v ${i}"\n`).join('');
  const path = join(dir, 'f.csv');
  await writeFile(path, header + body);
  const size = header.length + body.length;
  for (const splitBytes of [97, 1000, 4096, size]) {
    for (const blockBytes of [64, 1024, 1 << 20]) {
      let bytes = 0;
      let records = 0;
      for (const r of planSplitRanges(size, splitBytes, header.length)) {
        await readCsvSplit({
          path,
          start: r.start,
          end: r.end,
          alignedStart: r.start === header.length,
          blockBytes,
          onRecord: () => records++,
          onBytes: (n) => (bytes += n),
        });
      }
      assert.equal(records, 3000, `split ${splitBytes}, block ${blockBytes}`);
      assert.equal(bytes, body.length, `split ${splitBytes}, block ${blockBytes}`);
    }
  }
  const gz = join(dir, 'f.csv.gz');
  const compressed = gzipSync(header + body);
  await writeFile(gz, compressed);
  let bytes = 0;
  await readCsvSplit({
    path: gz,
    start: header.length,
    end: Infinity,
    alignedStart: true,
    gzip: true,
    onRecord: () => {},
    onBytes: (n) => (bytes += n),
  });
  assert.equal(bytes, compressed.length);
});
