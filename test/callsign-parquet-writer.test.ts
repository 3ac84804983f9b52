/**
 * The callsign job's Parquet outputs, written by the project's one writer (io/parquet-columns.ts,
 * through shardflow/kernel) since issue #10 replaced parquet-wasm + apache-arrow, read back by
 * DuckDB: the same rows, in the same order, with the same column types and schema as before (every
 * column OPTIONAL, min/max statistics on the ids), compared with the golden fixtures' expected
 * JSON Lines by EXCEPT ALL both ways. The bytes differ from the old writer's; the rows may not.
 */

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { storageFor } from '../kernel-api.js';
import { AGGREGATED_ROW_GROUP_ROWS, writeAggregated } from '../jobs/callsign/outputs.js';
import { emptyAggregatedRows } from '../jobs/callsign/tasks.js';
import { runCallsignCli } from './helpers/callsign.js';
import { FIXTURES, tempDir } from './helpers/run-cli.js';

const FIXTURE = join(FIXTURES, 'callsign', 'basic');

/** The columns and DuckDB types of each output, as parquet-wasm + apache-arrow wrote them. */
const AGGREGATED_TYPES = [
  ['profile_id', 'VARCHAR'],
  ['session_id', 'VARCHAR'],
  ['collections', 'BIGINT'],
  ['weighted_mean_score', 'DOUBLE'],
  ['mean_swipe_score', 'DOUBLE'],
  ['failed_keystroke_predictions', 'BIGINT'],
];
const REJECTS_TYPES = [
  ['source', 'VARCHAR'],
  ['line', 'BIGINT'],
  ['reason', 'VARCHAR'],
  ['raw', 'VARCHAR'],
];

/** `read_json` of JSON Lines with these columns as these types (no type guessing). */
function readJson(path: string, types: string[][], extra: string[][] = []): string {
  const columns = [...extra, ...types].map(([name, type]) => `${name}: '${type}'`).join(', ');
  return `read_json('${path}', format = 'newline_delimited', columns = {${columns}})`;
}

/** A copy of JSON Lines in `dir` with each line's 0-based position added as `n`. */
async function numbered(path: string, dir: string, name: string): Promise<string> {
  const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
  const copy = join(dir, name);
  await writeFile(copy, lines.map((l, n) => JSON.stringify({ n, ...JSON.parse(l) })).join('\n') + '\n');
  return copy;
}

async function duckdb(t: { after: (fn: () => void) => void }): Promise<DuckDBConnection> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  t.after(() => {
    conn.closeSync();
    db.closeSync();
  });
  return conn;
}

async function scalar(conn: DuckDBConnection, sql: string): Promise<unknown> {
  return (await conn.runAndReadAll(sql)).getRows()[0][0];
}

/** Rows of `a` not in `b` and of `b` not in `a` (EXCEPT ALL: duplicates count), both 0 when equal. */
async function exceptBothWays(conn: DuckDBConnection, a: string, b: string): Promise<[unknown, unknown]> {
  return [
    await scalar(conn, `SELECT count(*) FROM (${a} EXCEPT ALL ${b})`),
    await scalar(conn, `SELECT count(*) FROM (${b} EXCEPT ALL ${a})`),
  ];
}

/** Column name and type of each column DuckDB reads from `relation`. */
async function describe(conn: DuckDBConnection, relation: string): Promise<string[][]> {
  const rows = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`)).getRows();
  return rows.map((r) => [String(r[0]), String(r[1])]);
}

/** Every column's repetition in the file's schema (the root element left out). */
async function repetitions(conn: DuckDBConnection, file: string): Promise<string[]> {
  const rows = await conn.runAndReadAll(
    `SELECT repetition_type FROM parquet_schema('${file}') WHERE num_children IS NULL OR num_children = 0`,
  );
  return rows.getRows().map((r) => String(r[0]));
}

const LAYOUTS: [string, string[]][] = [
  ['default splits and partitions', []],
  ['64-byte splits, 3 partitions, 1 worker', ['--split-size', '64', '--partitions', '3', '--workers', '1']],
];

for (const [layout, flags] of LAYOUTS)
  test(`DuckDB reads the golden rows, order and types from callsign's Parquet: ${layout}`, async (t) => {
    const out = await tempDir(t);
    const input = join(FIXTURE, 'input');
    await runCallsignCli(join(input, 'collections.jsonl'), join(input, 'predictions.jsonl'), out, [
      '--workers',
      '2',
      ...flags,
    ]);
    const conn = await duckdb(t);
    const names = (types: string[][]) => types.map(([n]) => n).join(', ');

    // data.parquet: rows with their position, against the expected data.jsonl's lines in order.
    const parquet = join(out, 'aggregated-result', 'data.parquet');
    assert.deepEqual(await describe(conn, `read_parquet('${parquet}')`), AGGREGATED_TYPES, 'types');
    assert.deepEqual(await repetitions(conn, parquet), Array(6).fill('OPTIONAL'), 'every column OPTIONAL');
    const want = await numbered(
      join(FIXTURE, 'expected', 'aggregated-result', 'data.jsonl'),
      out,
      'want.jsonl',
    );
    const expected = readJson(want, AGGREGATED_TYPES, [['n', 'BIGINT']]);
    const cols = names(AGGREGATED_TYPES);
    const rows = await scalar(conn, `SELECT count(*) FROM read_parquet('${parquet}')`);
    assert.equal(rows, 8n, 'the fixture has 8 aggregated rows');
    assert.deepEqual(
      await exceptBothWays(
        conn,
        `SELECT ${cols} FROM read_parquet('${parquet}')`,
        `SELECT ${cols} FROM ${expected}`,
      ),
      [0n, 0n],
      'data.parquet EXCEPT ALL data.jsonl, both ways',
    );
    assert.deepEqual(
      await exceptBothWays(
        conn,
        `SELECT file_row_number AS n, ${cols} FROM read_parquet('${parquet}', file_row_number = true)`,
        `SELECT n, ${cols} FROM ${expected}`,
      ),
      [0n, 0n],
      'the same rows at the same positions',
    );
    // The ids' statistics are there for readers to prune row groups by.
    const stats = await conn.runAndReadAll(
      `SELECT stats_min_value, stats_max_value FROM parquet_metadata('${parquet}') WHERE path_in_schema = 'profile_id'`,
    );
    assert.deepEqual(stats.getRows(), [['1234', 'p4']], 'profile_id min/max');

    // rejects: every part, in part then row order, `source` cut to its base name as the golden file has it.
    const parts = join(out, 'rejects', 'part-*.parquet');
    assert.deepEqual(await describe(conn, `read_parquet('${parts}')`), REJECTS_TYPES, 'rejects types');
    assert.deepEqual(
      await repetitions(conn, join(out, 'rejects', 'part-00000.parquet')),
      Array(4).fill('OPTIONAL'),
      'rejects: every column OPTIONAL',
    );
    const wantRejects = await numbered(join(FIXTURE, 'expected', 'rejects.jsonl'), out, 'want-rejects.jsonl');
    const rejectCols = `regexp_extract(source, '[^/\\\\]*$') AS source, line, reason, raw`;
    assert.deepEqual(
      await exceptBothWays(
        conn,
        `SELECT row_number() OVER (ORDER BY filename, file_row_number) - 1 AS n, ${rejectCols}
           FROM read_parquet('${parts}', filename = true, file_row_number = true)`,
        `SELECT n, ${names(REJECTS_TYPES)} FROM ${readJson(wantRejects, REJECTS_TYPES, [['n', 'BIGINT']])}`,
      ),
      [0n, 0n],
      'rejects parts EXCEPT ALL rejects.jsonl, both ways, positions included',
    );
    assert.equal(await scalar(conn, `SELECT count(*) FROM read_parquet('${parts}')`), 7n);
  });

test(`data.parquet is cut into row groups of ${AGGREGATED_ROW_GROUP_ROWS} rows that hold every row in order`, async (t) => {
  const n = AGGREGATED_ROW_GROUP_ROWS + 1000;
  // Row i is held at position at(i) of the columns (a permutation: 7919 is prime, n not a multiple),
  // and `order` lists the positions: writeAggregated writes the rows `order` lists, in that order.
  const at = (i: number) => (i * 7919) % n;
  const c = emptyAggregatedRows();
  for (const column of Object.values(c)) column.length = n;
  const order = new Uint32Array(n);
  const expected: string[] = [];
  const profiles: string[] = [];
  for (let i = 0; i < n; i++) {
    // Some of every null, non-ASCII ids, a count past the writer's dictionary range.
    const row = {
      profile_id: `p${String(Math.floor(i / 4)).padStart(6, '0')}${i % 97 === 0 ? 'é𝄞' : ''}`,
      session_id: i % 4 === 0 ? null : `s${i % 4}`,
      collections: i % 11,
      weighted_mean_score: i % 3 === 0 ? null : (i % 1000) / 999,
      mean_swipe_score: i % 5 === 0 ? null : -i / 7,
      failed_keystroke_predictions: i % 250_000 === 3 ? 2 ** 40 : i % 3,
    };
    const k = at(i);
    order[i] = k;
    c.profile[k] = row.profile_id;
    c.session[k] = row.session_id;
    c.collections[k] = row.collections;
    c.weighted[k] = row.weighted_mean_score;
    c.swipe[k] = row.mean_swipe_score;
    c.failed[k] = row.failed_keystroke_predictions;
    profiles.push(row.profile_id);
    expected.push(JSON.stringify({ n: i, ...row }));
  }
  const out = await tempDir(t);
  await writeAggregated(await storageFor(out), out, c, order);
  const wantFile = join(out, 'want.jsonl');
  await writeFile(wantFile, `${expected.join('\n')}\n`);

  const conn = await duckdb(t);
  const parquet = join(out, 'aggregated-result', 'data.parquet');
  const groups = await conn.runAndReadAll(
    `SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata('${parquet}') ORDER BY 1`,
  );
  assert.deepEqual(
    groups.getRows(),
    [
      [0n, BigInt(AGGREGATED_ROW_GROUP_ROWS)],
      [1n, 1000n],
    ],
    'row groups',
  );
  assert.deepEqual(await describe(conn, `read_parquet('${parquet}')`), AGGREGATED_TYPES, 'types');
  const cols = AGGREGATED_TYPES.map(([name]) => name).join(', ');
  assert.deepEqual(
    await exceptBothWays(
      conn,
      `SELECT file_row_number AS n, ${cols} FROM read_parquet('${parquet}', file_row_number = true)`,
      `SELECT n, ${cols} FROM ${readJson(wantFile, AGGREGATED_TYPES, [['n', 'BIGINT']])}`,
    ),
    [0n, 0n],
    'every row at its position',
  );
  // Each group's profile_id statistics cover its own rows only: a reader of one profile reads one group.
  const stats = await conn.runAndReadAll(
    `SELECT stats_min_value, stats_max_value FROM parquet_metadata('${parquet}') WHERE path_in_schema = 'profile_id' ORDER BY row_group_id`,
  );
  const minMax = (ids: string[]) => {
    const sorted = ids.map((id) => Buffer.from(id)).sort(Buffer.compare);
    return [sorted[0].toString(), sorted[sorted.length - 1].toString()];
  };
  assert.deepEqual(stats.getRows(), [
    minMax(profiles.slice(0, AGGREGATED_ROW_GROUP_ROWS)),
    minMax(profiles.slice(AGGREGATED_ROW_GROUP_ROWS)),
  ]);
});
