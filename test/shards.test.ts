/**
 * The same job on N processes (`--shard i/N`, as pods of an Indexed Job): over a shared directory
 * or an S3 shuffle the outputs are byte-identical to one process; a shard killed in the middle of
 * its map stage and started again changes nothing; a barrier that times out names what it waited for.
 */

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateInteractions } from '../jobs/interactions/generate.js';
import { configureStorage, storageFor } from '../io/storage.js';
import {
  CLI,
  filesUnder,
  runCli,
  runInteractionsCli,
  type CliResult,
  type RunSummary,
} from './helpers/run-cli.js';
import { downloadPrefix, startS3Server, useS3rverCredentials, type S3Server } from './helpers/s3-server.js';
import { dropSchema, randomSchema, rawClient, testPgUrl } from './pg-test-env.js';

let dir = '';
let input = '';
let reference: RunSummary;
const referenceOut = (): string => join(dir, 'one');
// 2.7 MB in 128 KiB splits: 21 map tasks, 7 for each of three shards.
const FLAGS = ['--split-size', '128KiB', '--no-pg', '--no-progress', '--json', '--workers', '1'];

function start(
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr })),
  );
  return { child, done };
}

/** `run interactions` as one shard: `shard` is `i/N`, or `N` for `--shards N` (the index from the environment). */
function shardArgs(out: string, shuffle: string, shard: string): string[] {
  const which = shard.includes('/') ? ['--shard', shard] : ['--shards', shard];
  return ['run', 'interactions', '--input', input, '--out', out, '--shuffle', shuffle, ...which, ...FLAGS];
}

/** Asserts that `out` holds exactly the reference run's files, byte for byte. */
async function assertSameOutputs(out: string, what: string): Promise<void> {
  const names = await filesUnder(referenceOut());
  assert.deepEqual(await filesUnder(out), names, `${what}: the same files`);
  for (const name of names) {
    const [a, b] = await Promise.all([readFile(join(referenceOut(), name)), readFile(join(out, name))]);
    assert.ok(a.equals(b), `${what}: ${name} differs`);
  }
}

function summaryOf(r: CliResult): RunSummary & { shard?: { index: number; rows_read: number } } {
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as RunSummary & { shard?: { index: number; rows_read: number } };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardflow-shards-'));
  input = join(dir, 'in.csv');
  await generateInteractions({ rows: 60_000, seed: 11, out: input });
  reference = await runInteractionsCli([input], referenceOut(), FLAGS);
  assert.ok(reference.splits >= 15, `splits: ${reference.splits}`);
});

after(() => rm(dir, { recursive: true, force: true }));

test('three shard processes over a directory shuffle write the same bytes as one process', async () => {
  const out = join(dir, 'three-dir');
  const shuffle = join(dir, 'shuffle-dir');
  // Shard 2 finds its index the way a pod of an Indexed Job does.
  const runs = [
    start(shardArgs(out, shuffle, '0/3')),
    start(shardArgs(out, shuffle, '1/3')),
    start(shardArgs(out, shuffle, '3'), { JOB_COMPLETION_INDEX: '2' }),
  ];
  const results = await Promise.all(runs.map((r) => r.done));
  const summaries = results.map(summaryOf);
  await assertSameOutputs(out, 'dir shuffle');
  // Every shard reports the run's totals, and its own share; the shares add up.
  for (const s of summaries) assert.equal(s.rows_read, reference.rows_read);
  assert.equal(
    summaries.reduce((n, s) => n + (s.shard?.rows_read ?? 0), 0),
    reference.rows_read,
  );
  assert.deepEqual(
    summaries.map((s) => s.shard?.index),
    [0, 1, 2],
  );
});

test('three shards over an S3 shuffle into S3 output write the same bytes as one process', async (t) => {
  const server: S3Server = await startS3Server({ buckets: ['shuffle', 'results'] });
  t.after(() => server.stop());
  useS3rverCredentials();
  const s3 = ['--s3-endpoint', server.endpoint];
  const results = await Promise.all(
    ['0/3', '1/3', '2/3'].map(
      (shard) => start([...shardArgs('s3://results/three', 's3://shuffle/runs', shard), ...s3]).done,
    ),
  );
  results.forEach(summaryOf);
  configureStorage({ s3: { endpoint: server.endpoint } });
  t.after(() => configureStorage({}));
  const storage = await storageFor('s3://results/three');
  const out = join(dir, 'three-s3');
  await downloadPrefix('s3://results/three', out);
  await assertSameOutputs(out, 's3 shuffle');
  assert.ok(
    (await storage.list('s3://shuffle/runs')).length > 2 * reference.splits,
    'shuffle objects written',
  );
});

test('a shard killed in the middle of its map stage and started again leaves the outputs unchanged', async () => {
  const out = join(dir, 'killed');
  const shuffle = join(dir, 'shuffle-killed');
  const others = [start(shardArgs(out, shuffle, '0/3')), start(shardArgs(out, shuffle, '2/3'))];
  const victim = start(shardArgs(out, shuffle, '1/3'));
  // Kill shard 1 as soon as the first of its map tasks has committed (task 1 is its first).
  let killed = false;
  for (let i = 0; i < 600 && !killed; i++) {
    const stages = await readdir(shuffle).catch(() => [] as string[]);
    const runDir = stages[0] === undefined ? '' : join(shuffle, stages[0]);
    // The run's steps are numbered in call order (`001-begin`, `002-map`, …): find the map stage's.
    const steps = runDir === '' ? [] : await readdir(runDir).catch(() => [] as string[]);
    const map = steps.find((s) => s.endsWith('-map'));
    const files = map === undefined ? [] : await readdir(join(runDir, map)).catch(() => [] as string[]);
    if (files.includes('task-1.done')) {
      killed = victim.child.kill('SIGKILL');
      break;
    }
    await sleep(20);
  }
  assert.ok(killed, 'shard 1 committed a map task and was killed');
  const first = await victim.done;
  assert.notEqual(first.code, 0, 'the killed shard did not finish');
  const again = start(shardArgs(out, shuffle, '1/3'));
  const results = await Promise.all([...others.map((r) => r.done), again.done]);
  results.forEach(summaryOf);
  await assertSameOutputs(out, 'after the restart');
});

/** Rows of a loaded schema's tables, as sorted text, and the ledger's clean-part rows. */
async function loadedRows(schema: string): Promise<{ tables: string[]; ledgerParts: number }> {
  const client = await rawClient();
  try {
    const tables: string[] = [];
    for (const t of [
      'user_interactions',
      'user_interaction_users',
      'user_interaction_products',
      'user_interaction_daily',
    ]) {
      const { rows } = await client.query(`SELECT t::text AS r FROM "${schema}"."${t}" t ORDER BY 1`);
      tables.push(`${t}: ${rows.length}`, ...rows.map((r: { r: string }) => r.r));
    }
    const ledger = await client
      .query(`SELECT count(*)::int AS n FROM "${schema}".shardflow_load_ledger WHERE part >= 0`)
      .then((r) => (r.rows[0] as { n: number }).n)
      .catch(() => -1);
    return { tables, ledgerParts: ledger };
  } finally {
    await client.end();
  }
}

test('three shards load PostgreSQL with the same rows as one process; a shard run again loads nothing twice', async (t) => {
  const one = randomSchema('shards_one');
  const three = randomSchema('shards_three');
  t.after(() => Promise.all([dropSchema(one), dropSchema(three)]));
  const pg = (schema: string) => ['--pg', testPgUrl(), '--pg-schema', schema];
  const flags = FLAGS.filter((f) => f !== '--no-pg');
  const single = await runCli([
    'run',
    'interactions',
    '--input',
    input,
    '--out',
    join(dir, 'pg-one'),
    ...flags,
    ...pg(one),
  ]);
  assert.equal(single.code, 0, single.stderr);
  const shard = (i: number) =>
    start([
      ...['run', 'interactions', '--input', input, '--out', join(dir, 'pg-three'), ...flags, ...pg(three)],
      ...['--shard', `${i}/3`, '--shuffle', join(dir, 'shuffle-pg')],
    ]).done;
  const results = await Promise.all([0, 1, 2].map(shard));
  const summaries = results.map(summaryOf) as (RunSummary & { pg?: { rows: number } })[];
  const expected = await loadedRows(one);
  const loaded = await loadedRows(three);
  assert.deepEqual(loaded.tables, expected.tables);
  assert.ok(loaded.ledgerParts >= reference.splits, `one ledger row per clean part: ${loaded.ledgerParts}`);
  assert.equal(summaries[0].pg?.rows, reference.rows_valid, 'shard 0 reports the rows of every part');
  // A retried pod: shard 1 runs the whole run again after it finished. Nothing is loaded twice.
  const again = summaryOf(await shard(1)) as RunSummary & { pg?: { rows: number } };
  assert.equal(again.pg?.rows, 0, 'the rerun loaded no part');
  assert.deepEqual((await loadedRows(three)).tables, expected.tables);
});

test('a barrier that times out names the tasks and shards it waited for: one line, exit 1', async () => {
  const r = await runCli([
    ...shardArgs(join(dir, 'alone'), join(dir, 'shuffle-alone'), '0/2'),
    '--barrier-timeout',
    '1',
  ]);
  assert.equal(r.code, 1, r.stderr);
  const errors = r.stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('shardflow:'));
  assert.equal(errors.length, 1, r.stderr);
  assert.match(errors[0], /waiting at stage "map" for \d+ of \d+ tasks/);
  assert.match(errors[0], /1 \(shard 1\/2\), 3 \(shard 1\/2\)/);
});

test('shard options are checked before any work: exit 2 and one line', async () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--shard', '3/3', '--shuffle', dir], {}, /--shard must be i\/N/],
    [['--shard', '1/2'], {}, /--shuffle is required/],
    [['--shards', '2', '--shuffle', dir], {}, /JOB_COMPLETION_INDEX/],
    [['--shuffle', dir], { JOB_COMPLETION_INDEX: '1' }, /--shards/],
    [['--shards', '2', '--shuffle', dir], { JOB_COMPLETION_INDEX: '2' }, /below 2/],
  ];
  for (const [args, env, expect] of cases) {
    const r = await start(['run', 'interactions', '--input', input, '--out', join(dir, 'x'), ...args], env)
      .done;
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, expect);
  }
});
