/**
 * The CLI end to end into a real PostgreSQL: `run interactions --pg` loads the clean rows and the
 * count tables, a rerun leaves exactly the same rows, and `query … --json` answers from them.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { FIXTURES, runCli, tempDir } from './helpers/run-cli.js';
import { dropSchema, randomSchema, rawClient, testPgUrl } from './pg-test-env.js';

const INPUT = join(FIXTURES, 'interactions-icustomer', 'interaction_data.csv');

const pgUrl = testPgUrl;

async function snapshot(schema: string): Promise<string[]> {
  const client = await rawClient();
  try {
    const rows = await client.query(
      `SELECT interaction_id::text, user_id::text, product_id::text, action, "timestamp"::text,
              user_interaction_count::text, product_interaction_count::text, interaction_count::text
         FROM "${schema}".user_interactions ORDER BY interaction_id`,
    );
    return rows.rows.map((r) => Object.values(r).join('|'));
  } finally {
    await client.end();
  }
}

test('run --pg loads partitions, indexes and counts; a rerun is idempotent; query answers', async (t) => {
  const schema = randomSchema('cli');
  t.after(() => dropSchema(schema));
  const out = await tempDir(t);
  const args = [
    'run',
    'interactions',
    '--input',
    INPUT,
    '--out',
    out,
    '--pg',
    pgUrl(),
    '--pg-schema',
    schema,
  ];
  const first = await runCli([...args, '--json', '--no-progress']);
  assert.equal(first.code, 0, first.stderr);
  const before = await snapshot(schema);
  assert.equal(before.length, 1000);
  // Every loaded row carries exactly the input's values (binary COPY: int8 words, timestamps).
  const csv = (await readFile(INPUT, 'utf8')).trim().split('\n').slice(1);
  const loaded = new Map(before.map((r) => [r.split('|')[0], r.split('|').slice(0, 5).join(',')]));
  for (const line of csv) assert.equal(loaded.get(line.split(',')[0]), line.trim());
  assert.equal(before[0], '1|1058|230|view|2023-12-22 17:43:07|11|14|1');

  const client = await rawClient();
  try {
    const parts = await client.query(
      `SELECT count(*)::int AS n FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
         JOIN pg_namespace s ON s.oid = p.relnamespace WHERE s.nspname = $1 AND p.relname = 'user_interactions'`,
      [schema],
    );
    assert.equal(parts.rows[0].n, 12, 'one partition per month of 2023');
    const idx = await client.query(
      `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'user_interactions'`,
      [schema],
    );
    const names = idx.rows.map((r) => r.indexname as string).sort();
    for (const col of ['pkey', 'product_id_idx', 'timestamp_idx', 'user_id_idx']) {
      assert.ok(
        names.some((n) => n.endsWith(col)),
        `index ${col} in ${names.join(', ')}`,
      );
    }
    const day = await client.query(
      `SELECT count(*)::int AS n, sum(interactions)::int AS s FROM "${schema}".user_interaction_daily`,
    );
    assert.deepEqual(day.rows[0], { n: 336, s: 1000 });
  } finally {
    await client.end();
  }

  const second = await runCli([...args, '--json', '--no-progress', '--workers', '1', '--split-size', '8KiB']);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(await snapshot(schema), before, 'a rerun leaves exactly the same rows');

  const q = await runCli([
    'query',
    'interactions',
    'top-users',
    '--pg',
    pgUrl(),
    '--pg-schema',
    schema,
    '--json',
  ]);
  assert.equal(q.code, 0, q.stderr);
  const top = JSON.parse(q.stdout.trim().split('\n').at(-1) as string) as {
    user_id: string;
    interactions: number;
  }[];
  assert.deepEqual(
    top.map((r) => `${r.user_id}:${r.interactions}`),
    ['1044:19', '1002:17', '1031:16', '1093:16', '1016:15'],
  );
  const missing = await runCli([
    'query',
    'interactions',
    'daily',
    '--pg',
    pgUrl(),
    '--pg-schema',
    `${schema}_none`,
  ]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no interactions loaded/);
});
