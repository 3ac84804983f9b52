/** The run id: the same job, inputs and output-shaping options give the same id; others differ. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIXTURES, runInteractionsCli, tempDir } from './helpers/run-cli.js';

const INPUT = join(FIXTURES, 'interactions-awaishk', 'sample.csv');

test('run_id is stable for the same run and changes with the outputs or partitions', async (t) => {
  const out = await tempDir(t);
  const ids = async (extra: string[]) =>
    ((await runInteractionsCli([INPUT], out, ['--no-pg', ...extra])) as unknown as { run_id: string }).run_id;
  const a = await ids(['--outputs', 'users']);
  assert.match(a, /^[0-9a-f]{12}$/);
  assert.equal(await ids(['--outputs', 'users', '--workers', '1']), a, 'the worker count shapes no output');
  assert.notEqual(await ids(['--outputs', 'users,daily']), a);
  assert.notEqual(await ids(['--outputs', 'users', '--partitions', '8']), a);
});
