import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import {
  filesUnder,
  readParquetRows,
  readParts,
  runCli,
  runInteractionsCli,
  sortedRowKeys,
  type Row,
  type RunSummary,
} from './helpers/run-cli.js';
import { classifyInteractionsCsv, countReasons } from './interactions-reference-classifier.js';

interface Run {
  name: string;
  summary: RunSummary;
  out: string;
}

const RUNS: [name: string, flags: string[]][] = [
  ['workers 1, 64KiB splits', ['--workers', '1', '--split-size', '64KiB']],
  ['workers 2, 64KiB splits', ['--workers', '2', '--split-size', '64KiB']],
  ['workers 4, 64KiB splits', ['--workers', '4', '--split-size', '64KiB']],
  ['workers 2, default splits', ['--workers', '2']],
];

let dir = '';
let input = '';
const runs: Run[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardflow-determinism-'));
  input = join(dir, 'generated.csv');
  const gen = await runCli([
    'generate',
    'interactions',
    '--rows',
    '20000',
    '--seed',
    '7',
    '--bad-fraction',
    '0.05',
    '--out',
    input,
  ]);
  assert.equal(gen.code, 0, gen.stderr);
  for (const [name, flags] of RUNS) {
    const out = join(dir, `out-${runs.length}`);
    runs.push({ name, out, summary: await runInteractionsCli([input], out, flags) });
  }
});

after(() => rm(dir, { recursive: true, force: true }));

const stable = (s: RunSummary): Record<string, unknown> => ({
  rows_read: s.rows_read,
  rows_valid: s.rows_valid,
  rows_rejected: s.rows_rejected,
  rejected_by_reason: s.rejected_by_reason,
});

test('the plans differ: 64KiB splits cut the file, the default size does not', () => {
  assert.ok(runs[0].summary.splits >= 10, `${runs[0].summary.splits} splits`);
  for (const r of runs.slice(1, 3)) assert.equal(r.summary.splits, runs[0].summary.splits, r.name);
  assert.equal(runs[3].summary.splits, 1);
});

test('every run reports the counts of an independent classifier', async () => {
  const expected = countReasons(classifyInteractionsCsv(await readFile(input, 'latin1')));
  const { valid, ...reasons } = expected;
  const { bad_encoding: badEncoding, ...generated } = reasons;
  assert.ok(
    Object.values(generated).every((n) => n > 50),
    'the generated file has every reason the generator writes',
  );
  assert.equal(badEncoding, 0, 'the generator writes text');
  for (const r of runs) {
    assert.deepEqual(
      stable(r.summary),
      {
        rows_read: 20_000,
        rows_valid: valid,
        rows_rejected: 20_000 - valid,
        rejected_by_reason: reasons,
      },
      r.name,
    );
  }
});

test('rejects: the same rows, lines and raw text as the independent classifier, in every run', async () => {
  const expected = classifyInteractionsCsv(await readFile(input, 'latin1'))
    .filter((r) => r.reason !== null)
    .map((r) => ({ source: input, line: BigInt(r.line), reason: r.reason, raw: r.raw }));
  for (const r of runs) {
    const rows = await readParts(join(r.out, 'rejects'));
    assert.deepEqual(sortedRowKeys(rows), sortedRowKeys(expected), r.name);
    const lines = rows.map((x) => x.line as bigint);
    assert.ok(
      lines.every((l, i) => i === 0 || lines[i - 1] < l),
      `${r.name}: parts in input order`,
    );
  }
});

test('clean and pairs: the same row sets in every run', async () => {
  for (const output of ['clean', 'pairs']) {
    const reference = sortedRowKeys(await readParts(join(runs[0].out, output)));
    assert.ok(reference.length > 1000, output);
    for (const r of runs.slice(1)) {
      assert.deepEqual(
        sortedRowKeys(await readParts(join(r.out, output))),
        reference,
        `${output}: ${r.name}`,
      );
    }
  }
});

test('users, products and daily: exactly the same rows in the same order in every run', async () => {
  for (const file of ['users.parquet', 'products.parquet', 'daily.parquet']) {
    const reference: Row[] = await readParquetRows(join(runs[0].out, file));
    assert.ok(reference.length > 10, file);
    for (const r of runs.slice(1))
      assert.deepEqual(await readParquetRows(join(r.out, file)), reference, `${file}: ${r.name}`);
  }
});

test('with the same split size, every output file is byte-identical whatever the worker count', async () => {
  const names = await filesUnder(runs[0].out);
  const splits = runs[0].summary.splits;
  assert.equal(
    names.length,
    4 + 64 + 2 * splits,
    '_SUCCESS, users, products, daily, 64 pairs parts, a clean and a rejects part per split',
  );
  assert.ok(names.includes('_SUCCESS'), 'the completion marker');
  for (const r of runs.slice(1, 3)) {
    assert.deepEqual(await filesUnder(r.out), names, `${r.name}: the same files`);
    for (const name of names) {
      const [a, b] = await Promise.all([readFile(join(runs[0].out, name)), readFile(join(r.out, name))]);
      assert.ok(a.equals(b), `${r.name}: ${name} differs`);
    }
  }
});
