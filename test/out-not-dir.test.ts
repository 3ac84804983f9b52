/**
 * `--out` that names an existing file (or a path under one) stops both run commands where the run
 * starts: exit 2, one stderr line naming it, nothing written, the file untouched.
 */

import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkOutDirectory } from '../coordinator/run-options.js';
import { FIXTURES, runCli, tempDir } from './helpers/run-cli.js';

const INTERACTIONS = join(FIXTURES, 'interactions-awaishk', 'sample.csv');
const CALLSIGN = join(FIXTURES, 'callsign', 'basic', 'input');

function commands(out: string): [string, string[]][] {
  const common = ['--out', out, '--json', '--no-progress', '--workers', '1'];
  return [
    ['interactions', ['run', 'interactions', '--input', INTERACTIONS, '--no-pg', ...common]],
    [
      'callsign',
      [
        'run',
        'callsign',
        '--collections',
        join(CALLSIGN, 'collections.jsonl'),
        '--predictions',
        join(CALLSIGN, 'predictions.jsonl'),
        ...common,
      ],
    ],
  ];
}

test('--out naming a file: exit 2 and one stderr line for both run commands', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'results.txt');
  await writeFile(file, 'keep me\n');
  for (const out of [file, join(file, 'sub')]) {
    for (const [job, args] of commands(out)) {
      const result = await runCli(args);
      assert.equal(result.code, 2, `${job} --out ${out}: ${result.stderr}`);
      assert.equal(result.stdout, '', `${job}: no summary`);
      const lines = result.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, `${job}: one line, got ${result.stderr}`);
      assert.ok(lines[0].includes(out), lines[0]);
      assert.match(lines[0], /not a directory/);
    }
  }
  assert.equal(await readFile(file, 'utf8'), 'keep me\n', 'the file is untouched');
});

test('checkOutDirectory: E_OUT_NOT_DIR for a file or a path under one; a directory, a new path or s3:// pass', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'f');
  await writeFile(file, '');
  await mkdir(join(dir, 'existing'));
  for (const out of [file, join(file, 'a', 'b')]) {
    await assert.rejects(checkOutDirectory(out), { code: 'E_OUT_NOT_DIR', exitCode: 2 }, out);
  }
  for (const out of [dir, join(dir, 'existing'), join(dir, 'new', 'deeper'), 's3://bucket-1/out/run']) {
    await checkOutDirectory(out);
  }
});
