/**
 * The interactions job with `--input s3://…` and `--out s3://…` against a real S3 API server on
 * loopback (s3rver): the same outputs as from local disk, inputs read as ranged splits, and bad
 * S3 locations stopped with one line and exit code 2.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { generateInteractions } from '../jobs/interactions/generate.js';
import { configureStorage, storageFor } from '../io/storage.js';
import {
  filesUnder,
  readParts,
  runCli,
  runInteractionsCli,
  sortedRowKeys,
  type RunSummary,
} from './helpers/run-cli.js';
import { downloadPrefix, startS3Server, useS3rverCredentials, type S3Server } from './helpers/s3-server.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';

let dir = '';
let server: S3Server;
let proxy: FaultProxy;
let local: RunSummary;
let remote: RunSummary;
const localOut = (): string => join(dir, 'local-out');
const downloaded = (): string => join(dir, 's3-out');
const INPUT_KEYS = ['s3://shardflow-in/data/part-a.csv', 's3://shardflow-in/data/part-b.csv'];

async function upload(url: string, bytes: Uint8Array): Promise<void> {
  const writer = (await storageFor(url)).create(url);
  await writer.write(bytes);
  await writer.commit();
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardflow-s3-job-'));
  server = await startS3Server({ buckets: ['shardflow-in', 'shardflow-out'] });
  proxy = await startFaultProxy(server.endpoint);
  useS3rverCredentials();
  configureStorage({ s3: { endpoint: server.endpoint } });
  // Two input files, about 1 MB each: with 256 KiB splits each is read as several ranged GETs.
  const files: string[] = [];
  for (const [i, seed] of [7, 8].entries()) {
    const file = join(dir, 'in', `part-${'ab'[i]}.csv`);
    await generateInteractions({ rows: 20_000, seed, out: file });
    await upload(INPUT_KEYS[i], await readFile(file));
    files.push(file);
  }
  const flags = ['--workers', '2', '--split-size', '256KiB', '--no-pg'];
  local = await runInteractionsCli(files, localOut(), flags);
  // Through the recording proxy, so the test can see the requests the job made.
  remote = await runInteractionsCli(['s3://shardflow-in/data/'], 's3://shardflow-out/runs/one', [
    ...flags,
    '--s3-endpoint',
    proxy.endpoint,
  ]);
  await downloadPrefix('s3://shardflow-out/runs/one', downloaded());
});

after(async () => {
  await proxy?.close();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('s3 in, s3 out: the same counts and the same output files as local disk', async () => {
  for (const key of ['rows_read', 'rows_valid', 'rows_rejected', 'rejected_by_reason', 'splits'] as const) {
    assert.deepEqual(remote[key], local[key], key);
  }
  assert.ok(local.rows_read >= 40_000 && local.rows_rejected > 0);
  assert.equal(remote.outputs.clean, 's3://shardflow-out/runs/one/clean');
  const names = await filesUnder(localOut());
  assert.deepEqual(await filesUnder(downloaded()), names);
  assert.ok(names.includes('_SUCCESS'));
  for (const name of names) {
    if (name.startsWith('rejects/')) continue; // their `source` column names the input: compared below
    const [a, b] = await Promise.all([readFile(join(localOut(), name)), readFile(join(downloaded(), name))]);
    assert.ok(a.equals(b), `${name} differs`);
  }
});

test('s3 rejects name the s3:// source and are otherwise the local rows', async () => {
  const strip = (rows: Record<string, unknown>[], from: (s: string) => string) =>
    rows.map((r) => ({ ...r, source: from(r.source as string) }));
  const localRows = await readParts(join(localOut(), 'rejects'));
  const s3Rows = await readParts(join(downloaded(), 'rejects'));
  assert.ok(s3Rows.every((r) => INPUT_KEYS.includes(r.source as string)));
  assert.deepEqual(
    sortedRowKeys(strip(s3Rows, (s) => s.slice(s.lastIndexOf('/') + 1))),
    sortedRowKeys(strip(localRows, (s) => s.slice(s.lastIndexOf('/') + 1))),
  );
});

test('an input object larger than the split size is read as several ranged GETs', () => {
  const gets = proxy.requests({
    operation: 'GetObject',
    where: (r) => r.path === '/shardflow-in/data/part-a.csv',
  });
  const ranged = new Set(gets.filter((r) => r.range !== undefined).map((r) => r.range));
  assert.ok(remote.splits >= 6, `splits: ${remote.splits}`);
  // One range per split of this file at least (the header probe and re-reads of duplicates add more).
  assert.ok(ranged.size >= remote.splits / 2, `distinct ranges: ${[...ranged].join(' ')}`);
  assert.ok(
    gets.every((r) => r.range !== undefined),
    'no unranged GET of the whole object',
  );
});

test('bad s3 locations: one line and exit code 2', async () => {
  const cases: [args: string[], expect: RegExp][] = [
    [['--input', 's3://', '--out', join(dir, 'x')], /needs a bucket/],
    [
      ['--input', 's3://shardflow-in/data/nope.csv', '--out', join(dir, 'x')],
      /s3:\/\/shardflow-in\/data\/nope\.csv: no such object/,
    ],
    [['--input', 's3://shardflow-in/empty-prefix/', '--out', join(dir, 'x')], /no object under this prefix/],
    [['--input', 's3://no-such-bucket/x.csv', '--out', join(dir, 'x')], /no such bucket "no-such-bucket"/],
    [['--input', INPUT_KEYS[0], '--out', 's3://'], /needs a bucket/],
    [['--input', INPUT_KEYS[0], '--out', join(dir, 'x'), '--s3-endpoint', 'ftp://x'], /--s3-endpoint/],
  ];
  for (const [args, expect] of cases) {
    // The case's own flags come last: a repeated option takes its last value.
    const r = await runCli([
      'run',
      'interactions',
      '--s3-endpoint',
      server.endpoint,
      '--no-pg',
      '--no-progress',
      ...args,
    ]);
    const lines = r.stderr.trim().split('\n');
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], expect);
    assert.ok(!r.stderr.includes('S3RVER'), 'no credential in the message');
  }
});

test('generate --out s3://…: the same bytes as the local file, visible only when complete', async () => {
  const local = join(dir, 'gen.csv');
  const url = 's3://shardflow-in/generated/gen.csv';
  const args = ['generate', 'interactions', '--rows', '30000', '--seed', '5'];
  const a = await runCli([...args, '--out', local]);
  const b = await runCli([...args, '--out', url, '--s3-endpoint', server.endpoint]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const chunks: Uint8Array[] = [];
  for await (const c of (await storageFor(url)).read(url)) chunks.push(c);
  assert.ok(Buffer.concat(chunks).equals(await readFile(local)), 'byte-equal');
});
