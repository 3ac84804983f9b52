/**
 * A split with more clean rows than one Parquet file holds (CLEAN_CHUNK_ROWS) is written as several
 * files, numbered in input order across splits with no gaps, holding every clean row once.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { runCli, runInteractionsCli, tempDir } from './helpers/run-cli.js';
import { CLEAN_CHUNK_ROWS } from '../jobs/interactions/outputs.js';

test('clean rows of a large split span several files, numbered in input order', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'in.csv');
  const rows = CLEAN_CHUNK_ROWS + 40_000;
  const gen = await runCli([
    'generate',
    'interactions',
    '--rows',
    String(rows),
    '--seed',
    '3',
    '--bad-fraction',
    '0',
    '--out',
    input,
  ]);
  assert.equal(gen.code, 0, gen.stderr);
  // One split of ~300k rows, then the same input cut into many small splits.
  for (const [name, extra] of [
    ['one', []],
    ['many', ['--split-size', '1MiB']],
  ] as const) {
    const out = join(dir, name);
    const summary = await runInteractionsCli([input], out, ['--outputs', 'clean', ...extra]);
    assert.equal(summary.rows_valid, rows);
    const files = (await readdir(join(out, 'clean'))).sort();
    assert.deepEqual(
      files,
      files.map((_, i) => `part-${String(i).padStart(5, '0')}.parquet`),
      'numbered from 0 with no gap',
    );
    let total = 0;
    for (const f of files) {
      const bytes = await readFile(join(out, 'clean', f));
      const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      const n = Number(meta.num_rows);
      assert.ok(n <= CLEAN_CHUNK_ROWS, `${f} holds ${n} rows`);
      total += n;
    }
    assert.equal(total, rows);
    if (name === 'one') assert.equal(files.length, 2);
  }
});
