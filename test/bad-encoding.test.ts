/**
 * The encoding rule of every job (issue #10): a record with a NUL byte or invalid UTF-8 is a
 * `bad_encoding` reject with its file and line, and valid multi-byte text beside it comes through
 * byte for byte. Interactions through the CLI into Parquet and a real PostgreSQL (before the rule a
 * NUL failed the whole COPY with exit 1, and invalid bytes were loaded as U+FFFD); callsign into its
 * folders, where two profile ids that differ only in an invalid byte were one folder.
 */

import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { readParts, runInteractionsCli, tempDir } from './helpers/run-cli.js';
import { readTree, rejectRows, runCallsignCli } from './helpers/callsign.js';
import { dropSchema, randomSchema, rawClient, testPgUrl } from './pg-test-env.js';

const b = (text: string): Buffer => Buffer.from(text, 'utf8');
const bytes = (...values: number[]): Buffer => Buffer.from(values);

const MULTI = 'café 😀 中文 ½'; // 2-, 4- and 3-byte characters

/** Physical lines of the interactions input (the header is line 1), each with its verdict. */
const ROWS: [line: Buffer, verdict: 'valid' | 'bad_encoding', raw?: string][] = [
  [b('1,10,100,view,2024-01-01 10:00:00'), 'valid'],
  [b('2,10,100,vi\0ew,2024-01-01 10:00:00'), 'bad_encoding', '2,10,100,vi\\0ew,2024-01-01 10:00:00'],
  [
    Buffer.concat([b('3,11,101,caf'), bytes(0xe9), b(',2024-01-02 10:00:00')]), // é in latin1
    'bad_encoding',
    '3,11,101,caf\ufffd,2024-01-02 10:00:00',
  ],
  [
    Buffer.concat([b('4,12,102,'), bytes(0xc0, 0xaf), b('view,2024-01-03 10:00:00')]), // overlong "/"
    'bad_encoding',
    '4,12,102,\ufffd\ufffdview,2024-01-03 10:00:00',
  ],
  [b(`5,13,103,${MULTI},2024-01-04 10:00:00`), 'valid'],
  [
    Buffer.concat([b('6,14,104,"quoted '), bytes(0xed, 0xa0, 0x80), b('",2024-01-05 10:00:00')]), // U+D800
    'bad_encoding',
    '6,14,104,"quoted \ufffd\ufffd\ufffd",2024-01-05 10:00:00',
  ],
  [b('7,10,105,"日本語, quoted",2024-01-05 10:00:00'), 'valid'],
  [b('8,15,106,view,2024-01-06 10:00:00\0'), 'bad_encoding', '8,15,106,view,2024-01-06 10:00:00\\0'],
  [b('9,16,107,👍,2024-01-07 10:00:00'), 'valid'],
];

const VALID_ACTIONS = new Map([
  [1n, 'view'],
  [5n, MULTI],
  [7n, '日本語, quoted'],
  [9n, '👍'],
]);

async function writeInteractions(dir: string): Promise<string> {
  const path = join(dir, 'interactions.csv');
  const header = b('interaction_id,user_id,product_id,action,timestamp');
  await writeFile(path, Buffer.concat([header, ...ROWS.flatMap(([line]) => [b('\n'), line]), b('\n')]));
  return path;
}

function expectedRejects(input: string): Record<string, unknown>[] {
  return ROWS.flatMap(([, verdict, raw], i) =>
    verdict === 'valid' ? [] : [{ source: input, line: BigInt(i + 2), reason: 'bad_encoding', raw }],
  );
}

test('interactions: NUL and invalid UTF-8 rows are bad_encoding rejects; Parquet and PostgreSQL hold the good rows byte for byte', async (t) => {
  const dir = await tempDir(t, 'shardflow-encoding-');
  const input = await writeInteractions(dir);
  const schema = randomSchema('encoding');
  t.after(() => dropSchema(schema));
  const out = join(dir, 'out');
  // runInteractionsCli asserts exit code 0 (a NUL used to fail the COPY with exit 1).
  const summary = await runInteractionsCli([input], out, ['--pg', testPgUrl(), '--pg-schema', schema]);
  assert.equal(summary.rows_read, 9);
  assert.equal(summary.rows_valid, 4);
  assert.equal(summary.rows_rejected, 5);
  assert.equal(summary.rejected_by_reason.bad_encoding, 5);
  assert.deepEqual(
    Object.entries(summary.rejected_by_reason).filter(([r, n]) => r !== 'bad_encoding' && n !== 0),
    [],
  );

  assert.deepEqual(
    await readParts(join(out, 'rejects')),
    expectedRejects(input),
    'file, line, reason and raw',
  );
  const clean = await readParts(join(out, 'clean'));
  assert.deepEqual(new Map(clean.map((r) => [r.interaction_id, r.action])), VALID_ACTIONS, 'clean Parquet');

  // DuckDB reads the same text from the Parquet files (it validates UTF-8 in string columns).
  const db = await DuckDBInstance.create(':memory:');
  const duck = await db.connect();
  try {
    const read = async (sql: string) => (await duck.runAndReadAll(sql)).getRows();
    const actions = await read(
      `SELECT interaction_id, action FROM read_parquet('${join(out, 'clean', '*.parquet')}') ORDER BY 1`,
    );
    assert.deepEqual(actions, [...VALID_ACTIONS]);
    const raws = await read(
      `SELECT line, raw FROM read_parquet('${join(out, 'rejects', '*.parquet')}') ORDER BY 1`,
    );
    assert.deepEqual(
      raws,
      expectedRejects(input).map((r) => [r.line, r.raw]),
    );
  } finally {
    duck.closeSync();
    db.closeSync();
  }

  const client = await rawClient();
  try {
    const { rows } = await client.query<{ id: string; action: Buffer }>(
      `SELECT interaction_id::text AS id, convert_to(action, 'UTF8') AS action
         FROM "${schema}".user_interactions ORDER BY interaction_id`,
    );
    assert.deepEqual(
      rows.map((r) => [BigInt(r.id), r.action.toString('hex')]),
      [...VALID_ACTIONS].map(([id, action]) => [id, b(action).toString('hex')]),
      'exactly the good rows, their text byte for byte',
    );
  } finally {
    await client.end();
  }
});

test('interactions: the same rejects with tiny splits and two workers (the decoder path and the fast path agree)', async (t) => {
  const dir = await tempDir(t, 'shardflow-encoding-');
  const input = await writeInteractions(dir);
  const out = join(dir, 'out');
  const summary = await runInteractionsCli([input], out, ['--split-size', '60', '--workers', '2', '--no-pg']);
  assert.ok(summary.splits > 4, `${summary.splits} splits`);
  assert.equal(summary.rejected_by_reason.bad_encoding, 5);
  assert.deepEqual(await readParts(join(out, 'rejects')), expectedRejects(input));
});

const line = (profile: string, session: string, body: string): string =>
  `{"metadata":{"profile_id":"${profile}","session_id":"${session}","collection_id":"c-${session}"},${body}}`;
const BEHAVIOUR = '"behaviour":{"mobile":{"touch":[]}}';
const PREDICTION = '"prediction":{"model_name":"swipe_model","score":0.5,"confidence":1}';

test('callsign: profile ids that differ only in an invalid byte are bad_encoding rejects, not one folder', async (t) => {
  const dir = await tempDir(t, 'shardflow-encoding-');
  const [pre, post] = line('@', 's1', BEHAVIOUR).split('@');
  const collections = Buffer.concat([
    b(pre + 'p'),
    bytes(0xff),
    b(post + '\n'), // line 1: p<FF>
    b(pre + 'p'),
    bytes(0xfe),
    b(post.replace('s1', 's2') + '\n'), // line 2: p<FE>, the same after U+FFFD
    b(line('pé', 's3', BEHAVIOUR) + '\n'), // line 3: valid multi-byte
    b(line('p1', 's4', '"behaviour":{"mobile":{"touch":[{"n":"a\0b"}]}}') + '\n'), // line 4: a NUL
    b(line('p1', 's5', BEHAVIOUR) + '\n'), // line 5
  ]);
  const predictions = Buffer.concat([
    b(line('p1', 's5', PREDICTION) + '\n'), // line 1
    b('{"metadata":{"profile_id":"p'),
    bytes(0xe0, 0x80, 0x80),
    b('"}}\n'), // line 2: an overlong NUL
    b(line('pé', 's3', PREDICTION) + '\n'), // line 3
  ]);
  await writeFile(join(dir, 'c.jsonl'), collections);
  await writeFile(join(dir, 'p.jsonl'), predictions);
  const out = join(dir, 'out');
  const summary = await runCallsignCli(join(dir, 'c.jsonl'), join(dir, 'p.jsonl'), out);
  assert.equal(summary.rejected_by_reason.bad_encoding, 4);
  assert.equal(summary.rows_valid, 4);
  assert.equal(summary.rows_rejected, 4);

  for (const top of ['labels', 'predictions'])
    assert.deepEqual((await readdir(join(out, top))).sort(), ['profile-id=p%C3%A9', 'profile-id=p1'], top);
  assert.equal(
    await readFile(join(out, 'labels', 'profile-id=p%C3%A9', 'collections.jsonl'), 'utf8'),
    line('pé', 's3', BEHAVIOUR) + '\n',
    'valid multi-byte text is kept byte for byte',
  );
  const rejects = await rejectRows(await readTree(out));
  assert.deepEqual(rejects, [
    { source: 'c.jsonl', line: 1, reason: 'bad_encoding', raw: pre + 'p\ufffd' + post },
    { source: 'c.jsonl', line: 2, reason: 'bad_encoding', raw: pre + 'p\ufffd' + post.replace('s1', 's2') },
    {
      source: 'c.jsonl',
      line: 4,
      reason: 'bad_encoding',
      raw: line('p1', 's4', '"behaviour":{"mobile":{"touch":[{"n":"a\\0b"}]}}'),
    },
    {
      source: 'p.jsonl',
      line: 2,
      reason: 'bad_encoding',
      raw: '{"metadata":{"profile_id":"p\ufffd\ufffd\ufffd"}}',
    },
  ]);
  const report = JSON.parse(await readFile(join(out, 'validation', 'report.json'), 'utf8')) as {
    files: Record<string, { rejected_by_reason: Record<string, number> }>;
  };
  assert.equal(report.files.collections.rejected_by_reason.bad_encoding, 3);
  assert.equal(report.files.predictions.rejected_by_reason.bad_encoding, 1);
});
