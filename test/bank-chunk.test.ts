/**
 * `shardflow run bank-chunk` (issue #11, part X) through the real CLI: chunk names and bytes
 * (golden fixtures, and random CSV against a reference splitter), `--rows`, the pointer in
 * PostgreSQL and the one read off the chunks, a restart after SIGTERM, `--order-by` against an
 * in-memory stable sort through several external runs, `--every` pacing, `--follow` on a growing
 * file with its metrics, chunks on S3, and bad options.
 */

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, FIXTURES, runCli, tempDir } from './helpers/run-cli.js';
import { mulberry32 } from './helpers/mulberry32.js';
import { dropSchema, randomSchema, rawClient, testPgUrl } from './pg-test-env.js';
import { downloadPrefix, startS3Server } from './helpers/s3-server.js';
import { configureStorage } from '../io/storage.js';

const FIX = join(FIXTURES, 'bank-chunk');

/** The `--json` summary of a bank-chunk run. */
interface Summary {
  rows_read: number;
  chunks_written: number;
  pointer_before: number;
  pointer_after: number;
  pointer_kind: string;
  blank_lines: number;
  outputs: Record<string, string>;
  sort_runs?: number;
}

/** `run bank-chunk … --json --no-progress`; asserts exit 0 and returns the summary. */
async function chunk(args: readonly string[]): Promise<Summary> {
  const r = await runCli(['run', 'bank-chunk', ...args, '--json', '--no-progress']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Summary;
}

/** The chunk files of `dir` by name (other files, `_SUCCESS`, left out). */
async function chunks(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort())
    if (/^txn_batch_\d{10}\.csv$/.test(name)) out[name] = await readFile(join(dir, name), 'utf8');
  return out;
}

/**
 * The reference: records split at `\n` outside double quotes (a quote toggles), each with its
 * terminator, a last one without a line break given `\n`, blank lines dropped; the header first.
 */
function splitRecords(text: string): string[] {
  const records: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') quoted = !quoted;
    else if (text[i] === '\n' && !quoted) {
      records.push(text.slice(start, i + 1));
      start = i + 1;
    }
  }
  if (start < text.length) records.push(`${text.slice(start)}\n`);
  return records.filter((r) => r.trim() !== '');
}

/** The chunks a run over `text` with `rows` should write, records in `order` (default file order). */
function expectedChunks(text: string, rows: number, order?: (records: string[]) => string[]) {
  const [header, ...data] = splitRecords(text);
  const records = order ? order(data) : data;
  const out: Record<string, string> = {};
  for (let k = 0; k < records.length; k += rows)
    out[`txn_batch_${String(k).padStart(10, '0')}.csv`] = header + records.slice(k, k + rows).join('');
  return out;
}

/** A random CSV of `n` records: quoted fields with commas, quotes and line breaks, CRLF, blank lines. */
function randomCsv(seed: number, n: number, options: { finalNewline?: boolean } = {}): string {
  const next = mulberry32(seed);
  const eol = () => (next() % 4 === 0 ? '\r\n' : '\n');
  const field = () => {
    switch (next() % 6) {
      case 0:
        return `"a,${next() % 100}"`;
      case 1:
        return `"line\n${next() % 10}"`;
      case 2:
        return `"say ""${next() % 10}"""`;
      default:
        return String(next() % 1000);
    }
  };
  let text = `CustomerId,MerchantId,amount${eol()}`;
  for (let i = 0; i < n; i++) {
    if (next() % 50 === 0) text += eol(); // a blank line
    text += `C${next() % 200},M${i},${field()}`;
    if (i < n - 1 || options.finalNewline !== false) text += eol();
  }
  return text;
}

/** Starts the CLI in the background (for signals and growing inputs). */
function start(args: readonly string[]): {
  child: ChildProcess;
  done: Promise<{ code: number | null; stderr: string }>;
} {
  const child = spawn(process.execPath, [CLI, 'run', 'bank-chunk', ...args, '--json', '--no-progress'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdout?.resume();
  const done = new Promise<{ code: number | null; stderr: string }>((ok) =>
    child.on('exit', (code) => ok({ code, stderr })),
  );
  return { child, done };
}

/** Waits until `dir` holds at least `n` chunks (polling), or fails after `ms`. */
async function waitForChunks(dir: string, n: number, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Object.keys(await chunks(dir).catch(() => ({}))).length < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} chunks in ${dir} after ${ms} ms`);
    await sleep(20);
  }
}

/** The pointer rows of a schema. */
async function pointerRows(schema: string): Promise<{ source: string; last_index: string }[]> {
  const client = await rawClient();
  try {
    const { rows } = await client.query<{ source: string; last_index: string }>(
      `SELECT source, last_index::text FROM "${schema}".transaction_pointer ORDER BY id`,
    );
    return rows;
  } finally {
    await client.end();
  }
}

test('golden: CRLF, quoted line breaks, escaped quotes, blank lines, no final newline, short last chunk', async (t) => {
  const dir = await tempDir(t);
  for (const [name, extra] of [
    ['rows2', []],
    ['order-by', ['--order-by', 'Customer Id']],
  ] as const) {
    const out = join(dir, name);
    const s = await chunk([
      '--input',
      join(FIX, 'mixed.csv'),
      '--out',
      out,
      '--rows',
      '2',
      '--every',
      '0',
      '--no-pg',
      ...extra,
    ]);
    assert.deepEqual(await chunks(out), await chunks(join(FIX, `mixed.${name}`)), name);
    assert.deepEqual([s.rows_read, s.chunks_written, s.pointer_after, s.blank_lines], [5, 3, 5, 3]);
  }
});

test('random CSV: every chunk is the header plus the next --rows records, byte for byte', async (t) => {
  const dir = await tempDir(t);
  for (const [seed, rows, finalNewline] of [
    [11, 7, true],
    [12, 50, false],
    [13, 1000, true],
  ] as const) {
    const text = randomCsv(seed, 2345, { finalNewline });
    const input = join(dir, `in-${seed}.csv`);
    await writeFile(input, text);
    const out = join(dir, `out-${seed}`);
    const s = await chunk([
      '--input',
      input,
      '--out',
      out,
      '--rows',
      String(rows),
      '--every',
      '0',
      '--no-pg',
    ]);
    assert.deepEqual(await chunks(out), expectedChunks(text, rows), `seed ${seed}, --rows ${rows}`);
    assert.equal(s.pointer_after, 2345);
  }
});

test('--rows defaults to 1000; an empty input, a header alone or blank lines write no chunk', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'in.csv');
  await writeFile(input, randomCsv(21, 2500));
  const s = await chunk(['--input', input, '--out', join(dir, 'out'), '--every', '0', '--no-pg']);
  assert.deepEqual(Object.keys(await chunks(join(dir, 'out'))), [
    'txn_batch_0000000000.csv',
    'txn_batch_0000001000.csv',
    'txn_batch_0000002000.csv',
  ]);
  assert.equal(s.chunks_written, 3);
  for (const [name, text] of [
    ['empty', ''],
    ['header', 'CustomerId,amount\n'],
    ['blank', '\n\r\n  \n'],
  ]) {
    await writeFile(join(dir, `${name}.csv`), text);
    const e = await chunk([
      '--input',
      join(dir, `${name}.csv`),
      '--out',
      join(dir, name),
      '--every',
      '0',
      '--no-pg',
    ]);
    assert.deepEqual(await chunks(join(dir, name)), {}, name);
    assert.equal(e.pointer_after, 0);
  }
});

test('PostgreSQL: the pointer moves after each chunk is committed, never ahead of the chunks', async (t) => {
  const dir = await tempDir(t);
  const schema = randomSchema('bchunk');
  t.after(() => dropSchema(schema));
  const input = join(dir, 'in.csv');
  const text = randomCsv(31, 600);
  await writeFile(input, text);
  const out = join(dir, 'out');
  const pg = ['--pg', testPgUrl(), '--pg-schema', schema];
  const run = start(['--input', input, '--out', out, '--rows', '100', '--every', '150ms', ...pg]);
  const seen = new Set<number>();
  await waitForChunks(out, 1);
  while (run.child.exitCode === null) {
    const rows = await pointerRows(schema);
    const pointer = Number(rows[0].last_index);
    const present = Object.keys(await chunks(out)).map((n) => Number(n.slice(10, 20)));
    // Every chunk below the pointer is already there.
    for (let first = 0; first < pointer; first += 100)
      assert.ok(present.includes(first), `${first} < ${pointer}`);
    seen.add(pointer);
    await sleep(30);
  }
  assert.equal((await run.done).code, 0);
  assert.ok(seen.size >= 3, `pointer values seen: ${[...seen].join(', ')}`);
  for (const p of seen) assert.equal(p % 100, 0);
  assert.deepEqual(await pointerRows(schema), [{ source: resolve(input), last_index: '600' }]);
  assert.deepEqual(await chunks(out), expectedChunks(text, 100));
  // The pointer is trusted beyond the chunks present (an operator took them away): nothing is
  // written again; and --order-by is another source with its own pointer.
  await rm(out, { recursive: true });
  const again = await chunk(['--input', input, '--out', out, '--rows', '100', '--every', '0', ...pg]);
  assert.deepEqual([again.pointer_before, again.chunks_written, again.pointer_kind], [600, 0, 'postgres']);
  await chunk([
    '--input',
    input,
    '--out',
    out,
    '--rows',
    '100',
    '--every',
    '0',
    '--order-by',
    'CustomerId',
    ...pg,
  ]);
  assert.deepEqual(
    (await pointerRows(schema)).map((r) => [r.source, r.last_index]),
    [
      [resolve(input), '600'],
      [`${resolve(input)}#order-by=CustomerId`, '600'],
    ],
  );
});

test('a restart after SIGTERM goes on from the pointer and writes the same chunks', async (t) => {
  // With PostgreSQL; without it the kill -9 test (bank-chunk-kill) restarts from the chunks. One
  // stop only: the engine's stop of a pool whose threads are idle takes its 5 s timeout.
  const dir = await tempDir(t);
  const schema = randomSchema('bchunk');
  t.after(() => dropSchema(schema));
  const input = join(dir, 'in.csv');
  const text = randomCsv(41, 1000);
  await writeFile(input, text);
  const out = join(dir, 'out');
  const args = ['--input', input, '--out', out, '--rows', '100', '--pg', testPgUrl(), '--pg-schema', schema];
  const run = start([...args, '--every', '100ms']);
  await waitForChunks(out, 3);
  run.child.kill('SIGTERM');
  const stopped = await run.done;
  assert.equal(stopped.code, 143, stopped.stderr);
  const written = Object.keys(await chunks(out)).length;
  assert.ok(written >= 3 && written < 10, `${written} chunks before the stop`);
  const s = await chunk([...args, '--every', '0']);
  // A stop between a chunk's commit and its pointer update leaves the pointer one chunk behind:
  // that chunk is written again, with the same bytes.
  assert.ok([written * 100, (written - 1) * 100].includes(s.pointer_before), `from ${s.pointer_before}`);
  assert.equal(s.pointer_after, 1000);
  assert.deepEqual(await chunks(out), expectedChunks(text, 100));
  assert.deepEqual(await readdir(out), [...Object.keys(expectedChunks(text, 100)), '_SUCCESS'].sort());
  assert.deepEqual(await pointerRows(schema), [{ source: resolve(input), last_index: '1000' }]);
});

test('without PostgreSQL the pointer is the highest chunk: its first index plus its records', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'in.csv');
  const text = randomCsv(51, 1000);
  await writeFile(input, text);
  const out = join(dir, 'out');
  const args = ['--input', input, '--out', out, '--rows', '300', '--every', '0', '--no-pg'];
  await chunk(args);
  const all = await chunks(out);
  // The last two removed: they are written again, the same.
  await rm(join(out, 'txn_batch_0000000600.csv'));
  await rm(join(out, 'txn_batch_0000000900.csv'));
  const s = await chunk(args);
  assert.deepEqual([s.pointer_before, s.chunks_written, s.pointer_kind], [600, 2, 'chunks']);
  assert.deepEqual(await chunks(out), all);
  // The early ones removed (consumed): the highest still counts, nothing is rewritten.
  await rm(join(out, 'txn_batch_0000000000.csv'));
  const again = await chunk(args);
  assert.deepEqual([again.pointer_before, again.chunks_written], [1000, 0]);
});

/** Stable by the first field's UTF-8 bytes (unquoted, `""` as `"`, trimmed): the --order-by reference. */
function byFirstColumn(records: string[]): string[] {
  const key = (r: string) =>
    Buffer.from(
      r.startsWith('"') ? r.slice(1, r.indexOf('",')).replaceAll('""', '"') : r.split(',')[0].trim(),
    );
  return records
    .map((r, i) => ({ r, i, k: key(r) }))
    .sort((a, b) => Buffer.compare(a.k, b.k) || a.i - b.i)
    .map((x) => x.r);
}

test('--order-by: a stable sort by the column bytes, through several external runs, equal to an in-memory one', async (t) => {
  const dir = await tempDir(t);
  const next = mulberry32(61);
  // Keys whose UTF-16 order differs from their UTF-8 byte order (U+FFFD and an emoji), a quoted
  // key with an escaped quote, padded keys (trimmed, as the engine decodes a field), many ties,
  // and records with a quoted line break.
  const keys = ['b', 'a', '\uFFFD', '😀', '"q""x"', 'a ', ' c', 'ab', 'é', ''];
  let text = 'CustomerId,n,payload\n';
  for (let i = 0; i < 6000; i++)
    text += `${keys[next() % keys.length]},${i},${next() % 9 === 0 ? '"two\nlines"' : 'x'.repeat(next() % 40)}\n`;
  const input = join(dir, 'in.csv');
  await writeFile(input, text);
  const out = join(dir, 'out');
  const s = await chunk([
    ...['--input', input, '--out', out, '--rows', '333', '--every', '0', '--no-pg'],
    ...['--order-by', 'customerid', '--sort-memory', '64KiB', '--tmp-dir', dir],
  ]);
  assert.ok((s.sort_runs as number) >= 3, `${String(s.sort_runs)} sorted runs spilled`);
  assert.deepEqual(await chunks(out), expectedChunks(text, 333, byFirstColumn));
  assert.deepEqual(await readdir(dir), ['in.csv', 'out'], 'the runs are gone with the scratch directory');
  // An unknown column: one line naming it and the header's columns, exit 2.
  const bad = await runCli([
    'run',
    'bank-chunk',
    '--input',
    input,
    '--out',
    out,
    '--order-by',
    'Amount',
    '--no-progress',
  ]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /--order-by Amount: no such column; the header has "CustomerId", "n", "payload"/);
});

test('--every 200ms: chunk k is committed no earlier than k·200 ms after the start', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'in.csv');
  await writeFile(input, randomCsv(71, 500));
  const out = join(dir, 'out');
  // Before the process starts, so before the run's own start: a lower bound for it. A file's
  // mtime comes from the kernel's coarse clock (a tick behind at most): allow 20 ms.
  const before = Date.now();
  await chunk(['--input', input, '--out', out, '--rows', '100', '--every', '200ms', '--no-pg']);
  const names = Object.keys(await chunks(out));
  assert.equal(names.length, 5);
  for (const [k, name] of names.entries()) {
    const at = (await stat(join(out, name))).mtimeMs - before;
    assert.ok(at >= k * 200 - 20, `chunk ${k} written ${at.toFixed(0)} ms after the start`);
  }
});

/** A free loopback port for --metrics-port. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

/** One sample's value from a Prometheus text page. */
function sample(page: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(page);
  assert.ok(m, `${name} is on /metrics`);
  return Number(m[1]);
}

test('--follow: whole chunks of terminated records as the input grows, metrics, then SIGTERM', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'in.csv');
  const lines = splitRecords(randomCsv(81, 500));
  const [header, ...records] = lines;
  await writeFile(input, header + records.slice(0, 250).join(''));
  const out = join(dir, 'out');
  const port = await freePort();
  const run = start([
    ...['--input', input, '--out', out, '--rows', '100', '--every', '0', '--no-pg', '--follow'],
    ...['--poll', '50ms', '--metrics-port', String(port)],
  ]);
  t.after(() => run.child.kill('SIGKILL'));
  await waitForChunks(out, 2);
  // 250 records: no short third chunk; then 150 more and half a line still being written.
  await sleep(300);
  assert.equal(Object.keys(await chunks(out)).length, 2);
  const half = records[400].slice(0, 5);
  await appendFile(input, records.slice(250, 400).join('') + half);
  await waitForChunks(out, 4);
  await sleep(300);
  assert.equal(Object.keys(await chunks(out)).length, 4, 'the half line is not a record yet');
  await appendFile(input, records[400].slice(5) + records.slice(401, 500).join(''));
  await waitForChunks(out, 5);
  const page = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.equal(sample(page, 'shardflow_bank_chunks_total'), 5);
  assert.equal(sample(page, 'shardflow_bank_chunk_records_total'), 500);
  assert.equal(sample(page, 'shardflow_bank_pointer'), 500);
  run.child.kill('SIGTERM');
  assert.equal((await run.done).code, 143);
  assert.deepEqual(await chunks(out), expectedChunks(header + records.join(''), 100));
});

test('chunks to s3://, and the pointer read off them there', async (t) => {
  const dir = await tempDir(t);
  const server = await startS3Server({ buckets: ['bank'] });
  t.after(() => server.stop());
  // The CLI's children and this process's storage see the server's credentials.
  const saved = { ...process.env };
  Object.assign(process.env, server.env);
  t.after(() => {
    for (const k of Object.keys(server.env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  });
  const input = join(dir, 'in.csv');
  const text = randomCsv(91, 700);
  await writeFile(input, text);
  const args = ['--input', input, '--out', 's3://bank/chunks', '--rows', '250', '--every', '0', '--no-pg'];
  const first = await chunk(args);
  assert.equal(first.chunks_written, 3);
  const again = await chunk(args);
  assert.deepEqual([again.pointer_before, again.chunks_written], [700, 0]);
  const local = join(dir, 'down');
  await mkdir(local);
  configureStorage({ s3: { endpoint: server.endpoint } });
  await downloadPrefix('s3://bank/chunks', local);
  assert.deepEqual(await chunks(local), expectedChunks(text, 250));
});

test('bad options and inputs: one line naming the option, exit 2', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'in.csv');
  await writeFile(input, 'CustomerId\nc1\n');
  await writeFile(join(dir, 'in2.csv'), 'CustomerId\nc2\n');
  const base = ['run', 'bank-chunk', '--input', input, '--out', join(dir, 'out'), '--no-pg', '--no-progress'];
  for (const [extra, pattern] of [
    [['--rows', '0'], /--rows must be at least 1/],
    [['--rows', 'many'], /--rows must be a whole number/],
    [['--every', '7 seconds'], /--every must be a duration/],
    [['--poll', '0'], /--poll must be more than 0/],
    [['--order-by', 'CustomerId', '--follow'], /--order-by .* cannot --follow/],
    [['--sort-memory', '1k'], /--sort-memory must be a size/],
    [['--chunk-size', '9'], /unknown option "--chunk-size"/],
    [['--input', join(dir, 'in2.csv')], /chunks one file; --input matched 2/],
  ] as const) {
    const r = await runCli([...base, ...extra]);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
  }
});
