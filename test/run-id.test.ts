/**
 * The run id (issue #10): the same job, input contents and output-shaping options give the same
 * id; input replaced under the same path (another size, mtime or ETag) gives another, so a rerun
 * never reuses an old shuffle or ledger; an explicit `--run-id` wins.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { computeRunId } from '../coordinator/run-id.js';
import { configureStorage, storageFor } from '../io/storage.js';
import type { InputFile } from '../io/input-paths.js';
import { runCallsignCli } from './helpers/callsign.js';
import { FIXTURES, runInteractionsCli, tempDir } from './helpers/run-cli.js';
import { startS3Server, useS3rverCredentials } from './helpers/s3-server.js';

const INPUT = join(FIXTURES, 'interactions-awaishk', 'sample.csv');
const CALLSIGN = join(FIXTURES, 'callsign', 'basic', 'input');

async function runIdOf(inputs: string[], out: string, extra: string[] = []): Promise<string> {
  const summary = await runInteractionsCli(inputs, out, ['--no-pg', '--workers', '1', ...extra]);
  return (summary as unknown as { run_id: string }).run_id;
}

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

test('computeRunId: every input identity field, their order, the job and the settings count', () => {
  const a: InputFile = { path: 'in/a.csv', size: 10, version: '1700000000000' };
  const b: InputFile = { path: 'in/b.csv', size: 20, version: '"9b2cf535f27731c974343645a3985328"' };
  const settings = { out: 'o', partitions: 64, outputs: ['daily', 'users'] };
  const id = computeRunId('interactions', [a, b], settings);
  assert.match(id, /^[0-9a-f]{12}$/);
  assert.equal(computeRunId('interactions', [{ ...a }, { ...b }], { ...settings }), id);
  assert.equal(
    computeRunId('interactions', [a, b], { outputs: ['daily', 'users'], partitions: 64, out: 'o' }),
    id,
    'the order of settings keys does not matter',
  );
  const others = [
    computeRunId('callsign', [a, b], settings),
    computeRunId('interactions', [b, a], settings),
    computeRunId('interactions', [a], settings),
    computeRunId('interactions', [{ ...a, size: 11 }, b], settings),
    computeRunId('interactions', [{ ...a, version: '1700000000001' }, b], settings),
    computeRunId('interactions', [{ ...a, path: 'in/c.csv' }, b], settings),
    computeRunId('interactions', [a, b], { ...settings, partitions: 8 }),
  ];
  assert.equal(new Set([id, ...others]).size, others.length + 1, 'each change gives another id');
});

test('a local input rewritten or touched under the same path gets a new run id; --run-id wins', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'in.csv');
  const out = join(dir, 'out');
  await copyFile(INPUT, input);
  const first = await runIdOf([input], out);
  assert.equal(await runIdOf([input], out), first, 'the same file, the same id');

  // Same size, same path, other contents: only the mtime tells.
  const text = await readFile(input, 'utf8');
  const before = await stat(input);
  await writeFile(
    input,
    text.replace(/\d(?=\D*$)/, (d) => String((Number(d) + 1) % 10)),
  );
  await utimes(input, before.atime, new Date(before.mtimeMs + 2000));
  assert.equal((await stat(input)).size, before.size);
  const rewritten = await runIdOf([input], out);
  assert.notEqual(rewritten, first);

  // Touched only: a scheduler cannot know it is the same bytes, so it is another run.
  await utimes(input, before.atime, new Date(before.mtimeMs + 4000));
  const touched = await runIdOf([input], out);
  assert.notEqual(touched, rewritten);
  assert.notEqual(touched, first);

  // Replaced by another file of another size.
  await writeFile(input, text.split('\n').slice(0, 5).join('\n') + '\n');
  assert.notEqual(await runIdOf([input], out), touched);

  assert.equal(await runIdOf([input], out, ['--run-id', 'nightly-7']), 'nightly-7');
});

test('an S3 input replaced under the same key (a new ETag) gets a new run id', async (t) => {
  const server = await startS3Server({ buckets: ['shardflow-runid'] });
  t.after(() => server.stop());
  useS3rverCredentials();
  configureStorage({ s3: { endpoint: server.endpoint } });
  const out = await tempDir(t);
  const url = 's3://shardflow-runid/in/sample.csv';
  const text = await readFile(INPUT, 'utf8');
  const put = async (body: string) => {
    const writer = (await storageFor(url)).create(url);
    await writer.write(Buffer.from(body));
    await writer.commit();
  };
  const s3 = ['--s3-endpoint', server.endpoint];
  await put(text);
  const first = await runIdOf([url], out, s3);
  assert.equal(await runIdOf(['s3://shardflow-runid/in/'], out, s3), first, 'the same object by its prefix');
  // Same size, other bytes: only the ETag tells.
  await put(text.replace(/\d(?=\D*$)/, (d) => String((Number(d) + 1) % 10)));
  assert.notEqual(await runIdOf([url], out, s3), first);
});

test('callsign: the run id follows its inputs, and which of them are collections', async (t) => {
  const dir = await tempDir(t);
  const collections = join(dir, 'collections.jsonl');
  const predictions = join(dir, 'predictions.jsonl');
  await copyFile(join(CALLSIGN, 'collections.jsonl'), collections);
  await copyFile(join(CALLSIGN, 'predictions.jsonl'), predictions);
  const out = join(dir, 'out');
  const id = async () =>
    (
      (await runCallsignCli(collections, predictions, out, ['--workers', '1'])) as unknown as {
        run_id: string;
      }
    ).run_id;
  const first = await id();
  assert.match(first, /^[0-9a-f]{12}$/);
  assert.equal(await id(), first);
  const before = await stat(predictions);
  await utimes(predictions, before.atime, new Date(before.mtimeMs + 2000));
  assert.notEqual(await id(), first);
});
