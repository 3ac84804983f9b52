/**
 * The callsign job gives byte-identical outputs (profile files, Parquet, JSON Lines, report,
 * rejects) with 1, 2 and 4 workers, on generated input with every inconsistency of the issue
 * (issue #5; ARCHITECTURE: determinism).
 */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateCallsign } from '../jobs/callsign/generate.js';
import { tempDir } from './helpers/run-cli.js';
import { readTree, runCallsignCli } from './helpers/callsign.js';

test('1, 2 and 4 workers write the same bytes', async (t) => {
  const dir = await tempDir(t);
  await generateCallsign({ profiles: 300, sessionsPerProfile: 4, out: join(dir, 'in'), seed: 7 });
  const trees = [];
  for (const workers of [1, 2, 4]) {
    const out = join(dir, `out-${workers}`);
    const summary = await runCallsignCli(
      join(dir, 'in', 'collections.jsonl'),
      join(dir, 'in', 'predictions.jsonl'),
      out,
      ['--workers', String(workers), '--split-size', '256KiB', '--partitions', '16'],
    );
    assert.ok(summary.splits > 4, 'the input is cut into several splits');
    assert.ok(summary.rows_rejected > 0 && summary.profiles === 300);
    trees.push(await readTree(out));
  }
  const [one, ...others] = trees;
  assert.ok(one.size > 600, 'a profile file per profile and side');
  for (const other of others) {
    assert.deepEqual([...other.keys()], [...one.keys()]);
    for (const [path, bytes] of one) assert.ok(bytes.equals(other.get(path) as Buffer), `${path} differs`);
  }
});
