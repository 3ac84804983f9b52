/**
 * The example jobs (examples/), run as a user runs them (`shardflow run ./dist/examples/x.js`),
 * checked against answers computed without shardflow: with one process and with 3 shards over a
 * shuffle, on local disk and on S3, into PostgreSQL (twice: the second run loads nothing again).
 * Every layout gives byte-identical files.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { CLI, filesUnder, readParts, runCli, type CliResult, type Row } from './helpers/run-cli.js';
import {
  eventsJsonl,
  ordersCsv,
  type CustomerExpected,
  type SessionExpected,
} from './helpers/example-data.js';
import { downloadPrefix, startS3Server, useS3rverCredentials, type S3Server } from './helpers/s3-server.js';
import { dropSchema, randomSchema, rawClient, testPgUrl } from './pg-test-env.js';
import { configureStorage, writeObject } from '../io/storage.js';

const REVENUE = fileURLToPath(new URL('../examples/customer-revenue.js', import.meta.url));
const SESSIONS = fileURLToPath(new URL('../examples/user-sessions.js', import.meta.url));
const GAP_MS = 30 * 60_000;
const COMMON = ['--no-progress', '--json', '--partitions', '8', '--split-size', '24KiB', '--workers', '2'];

const orders = ordersCsv(11, 6000, 400);
const events = eventsJsonl(12, 5000, 150, GAP_MS);
let dir = '';
let s3: S3Server;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardflow-examples-'));
  s3 = await startS3Server({ buckets: ['ex-in', 'ex-out'] });
  useS3rverCredentials();
  configureStorage({ s3: { endpoint: s3.endpoint } });
  await writeObject('s3://ex-in/orders.csv', [Buffer.from(orders.text)]);
  await writeObject('s3://ex-in/events.jsonl', [Buffer.from(events.text)]);
});
after(async () => {
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
});

interface Summary {
  rows_read: number;
  rows_valid: number;
  rows_rejected: number;
  rejected_by_reason: Record<string, number>;
  splits: number;
  run_id: string;
  rows_out: Record<string, number>;
}

function summaryOf(result: CliResult): Summary {
  assert.equal(result.code, 0, `the run failed: ${result.stderr}`);
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Summary;
}

/** N processes `--shard i/N` at once, over `shuffle`; the summaries in shard order. */
async function shards(args: string[], n: number, shuffle: string): Promise<Summary[]> {
  const runs = Array.from(
    { length: n },
    (_, i) =>
      new Promise<CliResult>((resolve) => {
        const child = spawn(process.execPath, [
          CLI,
          ...args,
          '--shard',
          `${i}/${n}`,
          '--shuffle',
          shuffle,
          '--run-id',
          'ex-shards',
        ]);
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      }),
  );
  return (await Promise.all(runs)).map(summaryOf);
}

function customersOf(rows: Row[]): CustomerExpected[] {
  return rows
    .map((r) => ({
      customer_id: r.customer_id as string,
      orders: Number(r.orders),
      revenue: r.revenue as number,
      first_order: (r.first_order as Date).getTime(),
      last_order: (r.last_order as Date).getTime(),
    }))
    .sort((a, b) => (a.customer_id < b.customer_id ? -1 : 1));
}

async function sameFiles(a: string, b: string, what: string): Promise<void> {
  const names = await filesUnder(a);
  assert.deepEqual(await filesUnder(b), names, `${what}: the same files`);
  for (const name of names)
    assert.ok(
      (await readFile(join(a, name))).equals(await readFile(join(b, name))),
      `${what}: ${name} differs`,
    );
}

test('customer-revenue: one process gives the independent answer, with every reject counted', async () => {
  const input = join(dir, 'orders.csv');
  await writeFile(input, orders.text);
  const s = summaryOf(
    await runCli(['run', REVENUE, '--orders', input, '--out', join(dir, 'one'), '--no-pg', ...COMMON]),
  );
  assert.ok(s.splits > 4, `several splits (${s.splits})`);
  assert.deepEqual(s.rejected_by_reason, Object.fromEntries(Object.entries(orders.rejects).sort()));
  assert.equal(s.rows_read, s.rows_valid + s.rows_rejected);
  const got = customersOf(await readParts(join(dir, 'one', 'customers')));
  assert.equal(got.length, orders.expected.length);
  assert.deepEqual(got, orders.expected);
  const rejects = await readParts(join(dir, 'one', 'rejects'));
  assert.equal(rejects.length, s.rows_rejected);
  // Line numbers point at the rejected lines of the file (1 is the header).
  const lines = orders.text.split('\n');
  for (const r of rejects) assert.equal(lines[Number(r.line) - 1], r.raw, `line ${String(r.line)}`);

  // Another split size: the same customers, byte for byte.
  const s2 = summaryOf(
    await runCli([
      'run',
      REVENUE,
      '--input',
      input,
      '--out',
      join(dir, 'big'),
      '--no-pg',
      ...COMMON,
      '--split-size',
      '1MiB',
      '--workers',
      '1',
    ]),
  );
  assert.equal(s2.splits, 1);
  await sameFiles(join(dir, 'one', 'customers'), join(dir, 'big', 'customers'), 'split size');
});

test('customer-revenue: 3 shards over a directory shuffle and over S3 give the same bytes', async () => {
  const input = join(dir, 'orders.csv');
  const local = await shards(
    ['run', REVENUE, '--orders', input, '--out', join(dir, 'three'), '--no-pg', ...COMMON],
    3,
    join(dir, 'shuffle'),
  );
  assert.equal(
    local.reduce((n, s) => n + s.rows_out.customers, 0),
    orders.expected.length,
  );
  await sameFiles(join(dir, 'one'), join(dir, 'three'), '3 shards');

  const onS3 = [
    'run',
    REVENUE,
    '--orders',
    's3://ex-in/orders.csv',
    '--s3-endpoint',
    s3.endpoint,
    '--no-pg',
    ...COMMON,
  ];
  summaryOf(await runCli([...onS3, '--out', 's3://ex-out/one']));
  await downloadPrefix('s3://ex-out/one', join(dir, 's3-one'));
  await shards([...onS3, '--out', 's3://ex-out/three'], 3, 's3://ex-out/shuffle');
  await downloadPrefix('s3://ex-out/three', join(dir, 's3-three'));
  await sameFiles(join(dir, 'one', 'customers'), join(dir, 's3-one', 'customers'), 'S3, one process');
  await sameFiles(join(dir, 's3-one'), join(dir, 's3-three'), 'S3, 3 shards');
});

test('customer-revenue into PostgreSQL: the table holds the answer, and a rerun loads nothing twice', async (t) => {
  const schema = randomSchema('revenue');
  t.after(() => dropSchema(schema));
  const input = join(dir, 'orders.csv');
  const args = [
    'run',
    REVENUE,
    '--orders',
    input,
    '--out',
    join(dir, 'pg'),
    '--pg',
    testPgUrl(),
    '--pg-schema',
    schema,
    ...COMMON,
  ];
  await shards(args, 3, join(dir, 'pg-shuffle'));
  const client = await rawClient();
  t.after(() => client.end());
  const read = async () =>
    (
      await client.query(
        `SELECT customer_id, orders::int, revenue, first_order, last_order FROM "${schema}".customer_revenue ORDER BY customer_id COLLATE "C"`,
      )
    ).rows.map((r: Record<string, unknown>) => ({
      customer_id: r.customer_id,
      orders: r.orders,
      revenue: r.revenue,
      // timestamp without time zone comes back as a local Date: read its wall clock as UTC.
      first_order: Date.UTC(...wall(r.first_order as Date)),
      last_order: Date.UTC(...wall(r.last_order as Date)),
    }));
  assert.deepEqual(await read(), orders.expected);
  const ledger = await client.query(
    `SELECT count(*)::int AS n, sum(rows)::int AS rows FROM "${schema}".shardflow_sink_ledger WHERE part >= 0`,
  );
  assert.deepEqual(ledger.rows[0], { n: 8, rows: orders.expected.length });
  // The same run again (same run id): every part is in the ledger already.
  const again = summaryOf(await runCli([...args, '--run-id', 'ex-shards']));
  assert.equal(again.rows_out.table ?? 0, 0);
  assert.deepEqual(await read(), orders.expected);
});

function wall(d: Date): [number, number, number, number, number, number, number] {
  return [
    d.getFullYear(),
    d.getMonth(),
    d.getDate(),
    d.getHours(),
    d.getMinutes(),
    d.getSeconds(),
    d.getMilliseconds(),
  ];
}

function sessionsOf(rows: Row[]): SessionExpected[] {
  return rows
    .map((r) => ({
      user_id: r.user_id as string,
      session_start: (r.session_start as Date).getTime(),
      session_end: (r.session_end as Date).getTime(),
      events: Number(r.events),
    }))
    .sort((a, b) =>
      a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : a.session_start - b.session_start,
    );
}

test('user-sessions: sessions from JSON Lines match the independent answer, in one process, 3 shards and on S3', async () => {
  const input = join(dir, 'events.jsonl');
  await writeFile(input, events.text);
  const s = summaryOf(
    await runCli(['run', SESSIONS, '--events', input, '--out', join(dir, 'sessions'), '--no-pg', ...COMMON]),
  );
  assert.ok(s.splits > 4);
  assert.deepEqual(s.rejected_by_reason, Object.fromEntries(Object.entries(events.rejects).sort()));
  assert.deepEqual(sessionsOf(await readParts(join(dir, 'sessions', 'sessions'))), events.expected);
  const jsonlRows = (await filesUnder(join(dir, 'sessions', 'sessions-jsonl'))).length;
  assert.ok(jsonlRows > 0, 'JSON Lines parts written');
  // by-day: one folder a day, each session in the folder of its first day, without the day column.
  const byDay = join(dir, 'sessions', 'by-day');
  const days = new Map<string, number>();
  for (const name of await filesUnder(byDay)) {
    const m = /^day=(\d{4}-\d{2}-\d{2})\/part-\d{5}\.jsonl$/.exec(name);
    assert.ok(m, `a hive part: ${name}`);
    for (const line of (await readFile(join(byDay, name), 'utf8')).trimEnd().split('\n')) {
      const row = JSON.parse(line) as { session_start: string; day?: string };
      assert.equal(row.day, undefined);
      assert.equal(row.session_start.slice(0, 10), m[1]);
      days.set(m[1], (days.get(m[1]) ?? 0) + 1);
    }
  }
  assert.equal(
    [...days.values()].reduce((a, b) => a + b, 0),
    events.expected.length,
  );
  // The report: the run's counts, the same as the summary's.
  const report = JSON.parse(await readFile(join(dir, 'sessions', 'report.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.deepEqual(
    [report.rows_read, report.rows_valid, report.rows_rejected, report.rejected_by_reason],
    [s.rows_read, s.rows_valid, s.rows_rejected, s.rejected_by_reason],
  );
  assert.deepEqual(report.rows, {
    'by-day': events.expected.length,
    sessions: events.expected.length,
    'sessions-jsonl': events.expected.length,
  });

  await shards(
    ['run', SESSIONS, '--events', input, '--out', join(dir, 'sessions3'), '--no-pg', ...COMMON],
    3,
    join(dir, 'shuffle-s'),
  );
  await sameFiles(join(dir, 'sessions'), join(dir, 'sessions3'), '3 shards');

  summaryOf(
    await runCli([
      'run',
      SESSIONS,
      '--events',
      's3://ex-in/events.jsonl',
      '--out',
      's3://ex-out/sessions',
      '--s3-endpoint',
      s3.endpoint,
      '--no-pg',
      ...COMMON,
    ]),
  );
  await downloadPrefix('s3://ex-out/sessions', join(dir, 'sessions-s3'));
  await sameFiles(join(dir, 'sessions', 'sessions'), join(dir, 'sessions-s3', 'sessions'), 'S3');

  // Another gap gives other sessions, still the independent answer.
  const tight = eventsJsonl(12, 5000, 150, GAP_MS, 10 * 60_000);
  summaryOf(
    await runCli([
      'run',
      SESSIONS,
      '--events',
      input,
      '--out',
      join(dir, 'tight'),
      '--gap',
      '10m',
      '--no-pg',
      ...COMMON,
    ]),
  );
  assert.deepEqual(sessionsOf(await readParts(join(dir, 'tight', 'sessions'))), tight.expected);
  assert.notEqual(tight.expected.length, events.expected.length);
});

test('user-sessions into PostgreSQL upserts by user and session start: a second run id updates, never duplicates', async (t) => {
  const schema = randomSchema('sessions');
  t.after(() => dropSchema(schema));
  const input = join(dir, 'events.jsonl');
  const args = [
    'run',
    SESSIONS,
    '--events',
    input,
    '--out',
    join(dir, 'sessions-pg'),
    '--pg',
    testPgUrl(),
    '--pg-schema',
    schema,
    ...COMMON,
  ];
  const client = await rawClient();
  t.after(() => client.end());
  const read = async () =>
    (
      await client.query(
        `SELECT user_id, session_start, session_end, events::int FROM "${schema}".user_sessions ORDER BY user_id COLLATE "C", session_start`,
      )
    ).rows.map((r: Record<string, unknown>) => ({
      user_id: r.user_id,
      session_start: Date.UTC(...wall(r.session_start as Date)),
      session_end: Date.UTC(...wall(r.session_end as Date)),
      events: r.events,
    }));
  const first = summaryOf(await runCli([...args, '--run-id', 'sessions-a']));
  assert.equal(first.rows_out.table, events.expected.length);
  assert.deepEqual(await read(), events.expected);
  // A new run id loads every part again: upserted, so still one row a session.
  const second = summaryOf(await runCli([...args, '--run-id', 'sessions-b']));
  assert.equal(second.rows_out.table, events.expected.length);
  assert.deepEqual(await read(), events.expected);
});
