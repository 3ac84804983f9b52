/**
 * `--input` globs (issue #10): picomatch semantics on local paths and S3 keys alike, matched from
 * the literal leading directory or key prefix, hidden files and `_markers` skipped, sorted order.
 * The S3 half runs against a real S3 API server (s3rver) on loopback.
 */

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { expandInputs } from '../io/input-paths.js';
import { configureStorage } from '../io/storage.js';
import { tempDir } from './helpers/run-cli.js';
import { makeS3Client, startS3Server, type S3Server } from './helpers/s3-server.js';

const BUCKET = 'shardflow-globs';

/** The tree every case runs on, as names relative to its root. */
const TREE = [
  'd/a.csv',
  'd/ab.csv',
  'd/b.csv',
  'd/c.csv',
  'd/file(1).csv',
  'd/file[1].csv',
  'd/sub/b.csv',
  'd/sub/deep/b.csv',
  'd/sub/ab.csv',
  'd/.hidden.csv',
  'd/_SUCCESS',
  'd/_tmp/b.csv',
  'd/.cache/b.csv',
  'e/b.csv',
];

/** Pattern (relative to the root) → the files it must give, relative to the root, in order. */
const CASES: [string, string[]][] = [
  ['d/**/b.csv', ['d/b.csv', 'd/sub/b.csv', 'd/sub/deep/b.csv']],
  ['d/[!a]*.csv', ['d/b.csv', 'd/c.csv', 'd/file(1).csv', 'd/file[1].csv']],
  ['d/[ab].csv', ['d/a.csv', 'd/b.csv']],
  ['d/{b,x}.csv', ['d/b.csv']],
  ['d/{c,a}.csv', ['d/a.csv', 'd/c.csv']], // sorted, not in brace order
  ['{d,e}/b.csv', ['d/b.csv', 'e/b.csv']],
  ['d/?.csv', ['d/a.csv', 'd/b.csv', 'd/c.csv']],
  ['d/*.csv', ['d/a.csv', 'd/ab.csv', 'd/b.csv', 'd/c.csv', 'd/file(1).csv', 'd/file[1].csv']],
  ['d/**/*b.csv', ['d/ab.csv', 'd/b.csv', 'd/sub/ab.csv', 'd/sub/b.csv', 'd/sub/deep/b.csv']],
  // Names that read as patterns but match nothing as one are taken as names, as a shell does.
  ['d/file(1).csv', ['d/file(1).csv']],
  ['d/file[1].csv', ['d/file[1].csv']],
  [
    'd',
    [
      'd/a.csv',
      'd/ab.csv',
      'd/b.csv',
      'd/c.csv',
      'd/file(1).csv',
      'd/file[1].csv',
      'd/sub/ab.csv',
      'd/sub/b.csv',
      'd/sub/deep/b.csv',
    ],
  ],
];

async function check(root: string, sepOf: (rel: string) => string): Promise<void> {
  for (const [pattern, expected] of CASES) {
    const files = await expandInputs([sepOf(pattern)]);
    assert.deepEqual(
      files.map((f) => f.path),
      expected.map(sepOf),
      `${pattern} under ${root}`,
    );
    for (const f of files) {
      assert.ok(f.size > 0, `${f.path}: size`);
      assert.ok(f.version.length > 0, `${f.path}: version`);
    }
  }
  // Arguments keep their order; each expands in sorted order.
  const both = await expandInputs([sepOf('e/*.csv'), sepOf('d/[bc].csv')]);
  assert.deepEqual(
    both.map((f) => f.path),
    ['e/b.csv', 'd/b.csv', 'd/c.csv'].map(sepOf),
  );
  for (const missing of ['d/*.parquet', 'd/{x,y}.csv', 'd/[!abcf]*.csv', 'nowhere/**/b.csv']) {
    await assert.rejects(expandInputs([sepOf(missing)]), { code: 'E_INPUT_NOT_FOUND' }, missing);
  }
}

test('local globs match as picomatch does, sorted, skipping hidden files and markers', async (t) => {
  const root = await tempDir(t);
  for (const name of TREE) {
    await mkdir(dirname(join(root, name)), { recursive: true });
    await writeFile(join(root, name), `${name}\n`);
  }
  await check(root, (rel) => join(root, rel));
});

let server: S3Server;
let client: S3Client;

before(async () => {
  server = await startS3Server({ buckets: [BUCKET] });
  client = makeS3Client({ endpoint: server.endpoint });
  configureStorage({ s3: { endpoint: server.endpoint } });
});

after(async () => {
  client?.destroy();
  await server?.stop();
});

test('S3 globs match keys the same way, listing from the literal key prefix', async () => {
  const prefix = 'runs/in';
  for (const name of TREE) {
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${name}`, Body: `${name}\n` }));
  }
  await check(`s3://${BUCKET}/${prefix}`, (rel) => `s3://${BUCKET}/${prefix}/${rel}`);
  // A pattern in the first key segment lists the whole bucket.
  const top = await expandInputs([`s3://${BUCKET}/r*/in/e/*.csv`]);
  assert.deepEqual(
    top.map((f) => f.path),
    [`s3://${BUCKET}/${prefix}/e/b.csv`],
  );
});
