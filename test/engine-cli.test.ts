/**
 * `shardflow run <job>` as a user meets it: built-in names and job files (also from outside this
 * repository, importing 'shardflow' as an installed package would), generated `--help`, `jobs`,
 * `--version`, one-line errors with exit 2 for bad usage and bad input, exit 1 when a job's own
 * code throws, and the engine's input rules (encoding, ambiguous headers, quoted line breaks
 * across splits) for every job.
 */

import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { readParquetRows, readParts, runCli, tempDir, type CliResult } from './helpers/run-cli.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const REVENUE = fileURLToPath(new URL('../examples/customer-revenue.js', import.meta.url));
const SESSIONS = fileURLToPath(new URL('../examples/user-sessions.js', import.meta.url));
const RUN = ['--no-progress', '--json', '--no-pg', '--workers', '1', '--partitions', '4'];

/** Asserts exit 2 and one line on stderr that matches `pattern`. */
function usageError(result: CliResult, pattern: RegExp): void {
  assert.equal(result.code, 2, `exit 2: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  assert.match(lines[0], pattern);
}

function summary(result: CliResult): {
  rows_read: number;
  rejected_by_reason: Record<string, number>;
  splits: number;
} {
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').at(-1) as string) as ReturnType<typeof summary>;
}

test('jobs lists the built-in jobs with their descriptions; --version prints the package version', async () => {
  const jobs = await runCli(['jobs']);
  assert.equal(jobs.code, 0);
  assert.match(jobs.stdout, /^interactions\s+\S.*$/m);
  assert.match(jobs.stdout, /^callsign\s+\S.*$/m);
  const version = await runCli(['--version']);
  const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
  assert.equal(version.stdout.trim(), `shardflow ${pkg.version}`);
});

test("run <job file> --help prints the job's inputs, options and outputs and the common options, exit 0", async () => {
  const help = await runCli(['run', SESSIONS, '--help']);
  assert.equal(help.code, 0, help.stderr);
  for (const text of [
    '--events',
    '--gap',
    'default 30m',
    'sessions-jsonl',
    'user_sessions (upsert)',
    '--shard',
    '--pg-schema',
    '--json',
  ])
    assert.ok(help.stdout.includes(text), `help mentions ${text}:\n${help.stdout}`);
  // A built-in kernel job's help shows its own defaults.
  const callsign = await runCli(['run', 'callsign', '--help']);
  assert.equal(callsign.code, 0, callsign.stderr);
  assert.match(callsign.stdout, /--split-size VALUE .*\(default 8MiB\)/);
  assert.match(callsign.stdout, /--collections/);
});

test('bad usage is one line naming the option, exit 2', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'e.jsonl');
  await writeFile(input, '{"user_id":"a","ts":"2026-01-01T00:00:00Z"}\n');
  usageError(
    await runCli(['run', SESSIONS, '--events', input, '--out', join(dir, 'o'), '--bogus']),
    /unknown option "--bogus"/,
  );
  usageError(
    await runCli(['run', SESSIONS, '--events', input, '--out', join(dir, 'o'), '--gap', '5 minutes']),
    /--gap must be a duration/,
  );
  usageError(await runCli(['run', SESSIONS, '--out', join(dir, 'o')]), /--events is required/);
  usageError(await runCli(['run', SESSIONS, '--events', input]), /--out is required/);
  usageError(
    await runCli(['run', SESSIONS, '--events', input, '--out', join(dir, 'o'), '--workers']),
    /--workers needs a value/,
  );
  usageError(
    await runCli(['run', SESSIONS, '--events', input, '--out', join(dir, 'o'), '--partitions', '0']),
    /--partitions/,
  );
  usageError(await runCli(['run', 'no-such-job', '--out', 'x']), /unknown job "no-such-job".*built-in jobs/);
  usageError(await runCli(['run', './no/such/job.js']), /no such job file/);
  usageError(
    await runCli(['run', 'interactions', '--input', input, '--out', join(dir, 'o'), '--bogus']),
    /unknown option "--bogus"/,
  );
  await writeFile(join(dir, 'not-a-job.mjs'), 'export default { name: "x" };\n');
  usageError(await runCli(['run', join(dir, 'not-a-job.mjs'), '--out', 'x']), /default export is not a job/);
  await writeFile(join(dir, 'file-as-out'), 'x');
  usageError(
    await runCli(['run', SESSIONS, '--events', input, '--out', join(dir, 'file-as-out'), ...RUN]),
    /file-as-out/,
  );
});

test("a user's job file outside the repository imports 'shardflow' like an installed package and runs", async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'node_modules'));
  await symlink(REPO, join(dir, 'node_modules', 'shardflow'), 'dir');
  await writeFile(
    join(dir, 'words.mjs'),
    `import { defineJob, csv, emit, reject, count, parquet } from 'shardflow';
export default defineJob({
  name: 'words',
  description: 'count words per language',
  inputs: { texts: csv({ columns: { lang: {}, text: {} } }) },
  stages: [{
    name: 'words',
    map: (r) => (r.lang === 'xx' ? reject('unknown_language') : String(r.text).split(/\\s+/).map((w) => emit(r.lang + ':' + w.toLowerCase()))),
    state: { n: count() },
    finalize: (key, v) => ({ lang: key.split(':')[0], word: key.slice(key.indexOf(':') + 1), n: v.n }),
  }],
  outputs: { words: parquet('words', { lang: 'string', word: 'string', n: 'int64' }) },
});
`,
  );
  await writeFile(join(dir, 'texts.csv'), 'lang,text\nen,the cat the hat\nfr,le chat\nxx,zzz\nen,The end\n');
  const s = summary(
    await runCli([
      'run',
      join(dir, 'words.mjs'),
      '--texts',
      join(dir, 'texts.csv'),
      '--out',
      join(dir, 'out'),
      ...RUN,
    ]),
  );
  assert.deepEqual(s.rejected_by_reason, { unknown_language: 1 });
  const rows = (await readParts(join(dir, 'out', 'words')))
    .map((r) => `${String(r.lang)}:${String(r.word)}=${String(r.n)}`)
    .sort();
  assert.deepEqual(rows, ['en:cat=1', 'en:end=1', 'en:hat=1', 'en:the=3', 'fr:chat=1', 'fr:le=1']);

  // A re-keying stage's rejects are written too (never dropped), without a line.
  await writeFile(
    join(dir, 'rekey.mjs'),
    (await readFile(join(dir, 'words.mjs'), 'utf8'))
      .replace("name: 'words',\n  description", "name: 'rekey',\n  description")
      .replace(
        '  }],\n  outputs',
        "  }, {\n    name: 'by-count',\n    map: (row) => (row.n > 2 ? reject('too_common') : emit(String(row.n), {})),\n    state: { words: count() },\n    finalize: (n, v) => ({ lang: 'all', word: n, n: v.words }),\n  }],\n  outputs",
      ),
  );
  const rekey = summary(
    await runCli([
      'run',
      join(dir, 'rekey.mjs'),
      '--texts',
      join(dir, 'texts.csv'),
      '--out',
      join(dir, 'out3'),
      ...RUN,
    ]),
  );
  assert.deepEqual(rekey.rejected_by_reason, { unknown_language: 1 });
  assert.deepEqual((rekey as { stage_rejects?: unknown }).stage_rejects, { 'by-count': { too_common: 1 } });
  const rekeyRejects = (await readParts(join(dir, 'out3', 'rejects'))).concat(
    ...(await Promise.all(
      (await readdir(join(dir, 'out3', 'rejects')))
        .filter((f) => f.startsWith('stage-'))
        .map((f) => readParquetRows(join(dir, 'out3', 'rejects', f))),
    )),
  );
  assert.deepEqual(
    rekeyRejects.map((r) => [r.source, r.reason, r.line === null ? null : Number(r.line)]).sort(),
    [
      [join(dir, 'texts.csv'), 'unknown_language', 4],
      ['stage by-count', 'too_common', null],
    ],
  );
  assert.match(String(rekeyRejects.find((r) => r.reason === 'too_common')?.raw), /"word":"the"/);

  // A map that throws is the job's bug: exit 1, naming the stage.
  await writeFile(
    join(dir, 'broken.mjs'),
    (await readFile(join(dir, 'words.mjs'), 'utf8')).replace("r.lang === 'xx'", 'r.lang.nope.x'),
  );
  const broken = await runCli([
    'run',
    join(dir, 'broken.mjs'),
    '--texts',
    join(dir, 'texts.csv'),
    '--out',
    join(dir, 'out2'),
    ...RUN,
  ]);
  assert.equal(broken.code, 1, broken.stderr);
  assert.match(broken.stderr, /stage "words": map threw/);
});

test('bad encoding (a NUL, invalid UTF-8) is a reject with its line; valid multi-byte text is kept', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'enc.jsonl');
  const lines = [
    Buffer.from('{"user_id":"é😀中","ts":"2026-01-01T00:00:00Z"}'),
    Buffer.from('{"user_id":"a\u0000b","ts":"2026-01-01T00:00:00Z"}'.replace('\\u0000', '\u0000')),
    Buffer.concat([
      Buffer.from('{"user_id":"a'),
      Buffer.from([0xff]),
      Buffer.from('b","ts":"2026-01-01T00:00:00Z"}'),
    ]),
    Buffer.concat([
      Buffer.from('{"user_id":"a'),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from('b","ts":"2026-01-01T00:00:00Z"}'),
    ]),
    Buffer.from('{"user_id":"ab","ts":"2026-01-01T00:00:00Z"}'),
  ];
  await writeFile(input, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
  const s = summary(await runCli(['run', SESSIONS, '--events', input, '--out', join(dir, 'out'), ...RUN]));
  assert.deepEqual(s.rejected_by_reason, { bad_encoding: 3 });
  const rejects = await readParts(join(dir, 'out', 'rejects'));
  assert.deepEqual(
    rejects.map((r) => [Number(r.line), r.reason]),
    [
      [2, 'bad_encoding'],
      [3, 'bad_encoding'],
      [4, 'bad_encoding'],
    ],
  );
  assert.match(String(rejects[0].raw), /a\\0b/);
  const users = (await readParts(join(dir, 'out', 'sessions'))).map((r) => r.user_id).sort();
  assert.deepEqual(users, ['ab', 'é😀中']);
});

test('a CSV header naming a column twice (after the header rule) stops with one line, exit 2', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'orders.csv');
  await writeFile(input, 'order_id,Customer,amount,Customer_ID,ordered_at\n1,a,1,b,2026-01-01\n');
  usageError(
    await runCli(['run', REVENUE, '--orders', input, '--out', join(dir, 'o'), ...RUN]),
    /names column "customer_id" twice/,
  );
  await writeFile(input, 'order_id,amount,ordered_at\n1,1,2026-01-01\n');
  usageError(
    await runCli(['run', REVENUE, '--orders', input, '--out', join(dir, 'o'), ...RUN]),
    /missing required column "customer_id"/,
  );
});

test('a quoted line break in a CSV of many splits: the file is read again as one split, same answer', async (t) => {
  const dir = await tempDir(t);
  const rows = ['order_id,customer_id,amount,ordered_at'];
  for (let i = 0; i < 3000; i++)
    rows.push(
      `${i},${i % 7 === 0 ? '"multi\nline"' : `c${i % 50}`},${(i % 13) + 0.5},2026-01-0${(i % 9) + 1}`,
    );
  const input = join(dir, 'orders.csv');
  await writeFile(input, `${rows.join('\n')}\n`);
  const small = summary(
    await runCli([
      'run',
      REVENUE,
      '--orders',
      input,
      '--out',
      join(dir, 'small'),
      ...RUN,
      '--split-size',
      '4KiB',
    ]),
  );
  const whole = summary(
    await runCli([
      'run',
      REVENUE,
      '--orders',
      input,
      '--out',
      join(dir, 'whole'),
      ...RUN,
      '--split-size',
      '64MiB',
    ]),
  );
  assert.ok(small.splits > 5);
  assert.equal(small.rows_read, 3000);
  assert.equal(whole.rows_read, 3000);
  const customers = async (d: string) =>
    (await readParts(join(d, 'customers'))).map((r) =>
      JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    );
  assert.deepEqual(await customers(join(dir, 'small')), await customers(join(dir, 'whole')));
  assert.ok((await customers(join(dir, 'small'))).some((r) => r.includes('multi\\nline')));
});

test('a split of bad rows is spilled, not held: its rejects come out in bounded parts, every line once', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'orders.csv');
  const rows = ['order_id,customer_id,amount,ordered_at'];
  for (let i = 0; i < 20_000; i++)
    rows.push(i % 1000 === 0 ? `${i},c1,1.5,2026-01-01` : `${i},c1,not-a-number,2026-01-01`);
  await writeFile(input, `${rows.join('\n')}\n`);
  const s = summary(
    await runCli([
      'run',
      REVENUE,
      '--orders',
      input,
      '--out',
      join(dir, 'out'),
      ...RUN,
      '--split-size',
      '64MiB',
    ]),
  );
  assert.equal(s.rejected_by_reason.bad_number, 19_980);
  const names = (await readdir(join(dir, 'out', 'rejects'))).sort();
  assert.deepEqual(names, ['part-00000-0001.parquet', 'part-00000.parquet']);
  const lines: number[] = [];
  for (const name of names)
    for (const r of await readParquetRows(join(dir, 'out', 'rejects', name))) lines.push(Number(r.line));
  assert.equal(lines.length, 19_980);
  assert.equal(new Set(lines).size, lines.length);
  for (const line of lines) assert.match(rows[line - 1], /not-a-number/);
});

test('a JSON array input is streamed element by element; a broken or non-UTF-8 file is one line, exit 2', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'node_modules'));
  await symlink(REPO, join(dir, 'node_modules', 'shardflow'), 'dir');
  await writeFile(
    join(dir, 'countries.mjs'),
    `import { defineJob, jsonArray, emit, count, parquet } from 'shardflow';
export default defineJob({
  name: 'countries',
  description: 'customers per country from JSON arrays',
  inputs: { customers: jsonArray({ columns: { customer_id: { type: 'integer' }, country: { aliases: ['Country'] } }, header: 'normalized' }) },
  stages: [{ name: 'by-country', map: (r) => emit(r.country), state: { customers: count() }, finalize: (c, v) => ({ country: c, customers: v.customers }) }],
  outputs: { countries: parquet('countries', { country: 'string', customers: 'int64' }) },
});
`,
  );
  const customers = [
    { customer_id: 1, Country: 'FR' },
    { customer_id: 2, country: 'NG' },
    'not an object',
    { customer_id: 'x', country: 'FR' },
    { customer_id: 4, country: 'FR', extra: [1, 2] },
    { customer_id: 5 },
  ];
  await writeFile(join(dir, 'a.json'), JSON.stringify(customers, null, 2));
  const job = join(dir, 'countries.mjs');
  const s = summary(
    await runCli(['run', job, '--customers', join(dir, 'a.json'), '--out', join(dir, 'out'), ...RUN]),
  );
  assert.deepEqual(s.rejected_by_reason, { bad_integer: 1, missing_field: 1, not_an_object: 1 });
  const rows = (await readParts(join(dir, 'out', 'countries')))
    .map((r) => `${String(r.country)}=${String(r.customers)}`)
    .sort();
  assert.deepEqual(rows, ['FR=2', 'NG=1']);
  const rejects = await readParts(join(dir, 'out', 'rejects'));
  assert.deepEqual(
    rejects.map((r) => [Number(r.line), r.reason]),
    [
      [3, 'not_an_object'],
      [4, 'bad_integer'],
      [6, 'missing_field'],
    ],
  );

  await writeFile(join(dir, 'broken.json'), '[{"customer_id": 1, "country": "FR"}, {"customer_id": 2,');
  usageError(
    await runCli(['run', job, '--customers', join(dir, 'broken.json'), '--out', join(dir, 'o2'), ...RUN]),
    /broken\.json: is not one JSON array/,
  );
  await writeFile(
    join(dir, 'latin1.json'),
    Buffer.concat([Buffer.from('[{"customer_id": 1, "country": "'), Buffer.from([0xe9]), Buffer.from('"}]')]),
  );
  usageError(
    await runCli(['run', job, '--customers', join(dir, 'latin1.json'), '--out', join(dir, 'o3'), ...RUN]),
    /latin1\.json: is not valid UTF-8/,
  );
});

test("a writer killed mid-write leaves a temporary file: the next run's commit removes it, and nothing else", async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'orders.csv');
  await writeFile(input, 'order_id,customer_id,amount,ordered_at\n1,a,1.5,2026-01-01\n');
  const out = join(dir, 'out');
  await mkdir(join(out, 'customers', 'deep'), { recursive: true });
  const leftovers = [
    join(out, 'customers', '.part-00001.parquet.4242.0.shardflow-tmp'),
    join(out, 'customers', 'deep', '.part-00002.parquet.4242.1.shardflow-tmp'),
    join(out, '._SUCCESS.4242.2.shardflow-tmp'),
  ];
  for (const f of leftovers) await writeFile(f, 'half a file');
  await mkdir(join(out, 'elsewhere'));
  await writeFile(join(out, 'elsewhere', '.x.4242.3.shardflow-tmp'), 'not ours');
  summary(await runCli(['run', REVENUE, '--orders', input, '--out', out, ...RUN]));
  for (const f of leftovers) await assert.rejects(readFile(f), { code: 'ENOENT' }, f);
  assert.equal(await readFile(join(out, 'elsewhere', '.x.4242.3.shardflow-tmp'), 'utf8'), 'not ours');
});
