/**
 * A split with more clean rows than one Parquet file holds (CLEAN_CHUNK_ROWS) is written as several
 * files, numbered in input order across splits with no gap, holding every clean row once, each
 * with the counts of its user, product and pair among the clean rows (write tasks after a split's
 * first read their pair counts from the merge stage's per-row counts at the chunk's cursors).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { readParts, runCli, runInteractionsCli, tempDir, type Row } from './helpers/run-cli.js';
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
    '0.02',
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
    assert.ok(summary.rows_valid > CLEAN_CHUNK_ROWS && summary.rejected_by_reason.duplicate_id > 0);
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
    assert.equal(total, summary.rows_valid);
    if (name === 'one') assert.equal(files.length, 2);
    const clean = await readParts(join(out, 'clean'));
    assert.equal(clean.length, summary.rows_valid);
    const tally = (key: (r: Row) => string) => {
      const m = new Map<string, number>();
      for (const r of clean) m.set(key(r), (m.get(key(r)) ?? 0) + 1);
      return m;
    };
    const users = tally((r) => String(r.user_id));
    const products = tally((r) => String(r.product_id));
    const pairs = tally((r) => `${r.user_id}/${r.product_id}`);
    let wrong = 0;
    for (const r of clean) {
      if (
        Number(r.user_interaction_count) !== users.get(String(r.user_id)) ||
        Number(r.product_interaction_count) !== products.get(String(r.product_id)) ||
        Number(r.interaction_count) !== pairs.get(`${r.user_id}/${r.product_id}`)
      )
        wrong++;
    }
    assert.equal(wrong, 0, `${name}: clean rows whose counts differ from the clean rows'`);
  }
});
