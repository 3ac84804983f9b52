/**
 * The clean parts' own Parquet writer (io/parquet-columns.ts), read back by two independent
 * readers, DuckDB and hyparquet: every value, the column types, and the statistics. Values are
 * chosen to reach every encoding path: delta widths from 0 to 53 bits (pieces of 24 bits above
 * 24), PLAIN for negative and ≥ 2^52 values, dictionaries of strings and counts and the fall back
 * to delta when counts are many or large, partial blocks and miniblocks, 0 and 1 rows.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetReadObjects } from 'hyparquet';
import { encodeParquetColumns, type ParquetColumn } from '../io/parquet-columns.js';
import { tempDir } from './helpers/run-cli.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 4294967296);
}

interface Case {
  rows: number;
  ids: bigint[]; // int64, delta or PLAIN
  micros: bigint[]; // timestamp
  counts: number[]; // count column
  actions: number[]; // indices into ACTIONS
}

const ACTIONS = ['view', 'click', 'café ✓', ''];

function makeCase(rows: number, seed: number, shape: string): Case {
  const r = rng(seed);
  const ids: bigint[] = [];
  const micros: bigint[] = [];
  const counts: number[] = [];
  const actions: number[] = [];
  let id = 1000n;
  for (let i = 0; i < rows; i++) {
    if (shape === 'sequential') id += BigInt(1 + Math.floor(r() * 3));
    else if (shape === 'wide')
      id = BigInt(Math.floor(r() * 2 ** 52)); // deltas of up to 53 bits
    else if (shape === 'negative')
      id = BigInt(Math.floor(r() * 2000)) - 1000n; // PLAIN
    else id = 2n ** 62n + BigInt(i); // ≥ 2^52: PLAIN
    ids.push(id);
    const secs = shape === 'negative' ? -86400 * 365 * 80 : 1.6e9;
    micros.push(BigInt(Math.floor(secs + r() * 3e7)) * 1_000_000n);
    counts.push(
      shape === 'sequential'
        ? 1 + Math.floor(r() * 40) // a dictionary
        : shape === 'wide'
          ? Math.floor(r() * 100_000) // more than 4096 distinct: delta
          : 2 ** 21 + Math.floor(r() * 5), // above 2^20: delta
    );
    actions.push(Math.floor(r() * ACTIONS.length));
  }
  return { rows, ids, micros, counts, actions };
}

function columns(c: Case): ParquetColumn[] {
  const words = (v: bigint[]) => new Uint32Array(BigInt64Array.from(v).buffer);
  return [
    { name: 'id', kind: 'int64', words: words(c.ids), statistics: true },
    { name: 'ts', kind: 'timestamp', words: words(c.micros), statistics: true },
    { name: 'action', kind: 'dictionary-string', indices: Uint16Array.from(c.actions), dictionary: ACTIONS },
    { name: 'n', kind: 'count', values: Float64Array.from(c.counts), statistics: true },
  ];
}

test('values, types and statistics read back by DuckDB and hyparquet', async (t) => {
  const dir = await tempDir(t);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  let k = 0;
  for (const shape of ['sequential', 'wide', 'negative', 'huge'])
    for (const rows of [0, 1, 2, 31, 33, 129, 1000, 20_000]) {
      const c = makeCase(rows, ++k, shape);
      const label = `${shape}, ${rows} rows`;
      const bytes = encodeParquetColumns(rows, columns(c), 'test');
      const file = join(dir, `case-${k}.parquet`);
      await writeFile(file, bytes);

      const hy = await parquetReadObjects({ file: bytes.slice().buffer as ArrayBuffer });
      assert.equal(hy.length, rows, label);
      hy.forEach((row, i) => {
        assert.equal(row.id, c.ids[i], `${label}: hyparquet id ${i}`);
        assert.equal((row.ts as Date).getTime(), Number(c.micros[i] / 1000n), `${label}: hyparquet ts ${i}`);
        assert.equal(row.action, ACTIONS[c.actions[i]], `${label}: hyparquet action ${i}`);
        assert.equal(Number(row.n), c.counts[i], `${label}: hyparquet count ${i}`);
      });

      const got = await conn.runAndReadAll(
        `SELECT id, epoch_us(ts) AS ts, action, n FROM read_parquet('${file}')`,
      );
      const want = c.ids.map((id, i) => [id, c.micros[i], ACTIONS[c.actions[i]], BigInt(c.counts[i])]);
      assert.deepEqual(got.getRows(), want, `${label}: DuckDB rows`);
      const types = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
      assert.deepEqual(
        types.getRows().map((r) => `${r[0]} ${r[1]}`),
        ['id BIGINT', 'ts TIMESTAMP', 'action VARCHAR', 'n BIGINT'],
      );
      if (rows > 0) {
        const stats = await conn.runAndReadAll(
          `SELECT path_in_schema, stats_min_value, stats_max_value FROM parquet_metadata('${file}') ORDER BY column_id`,
        );
        const min = (v: bigint[]) => v.reduce((a, b) => (b < a ? b : a));
        const max = (v: bigint[]) => v.reduce((a, b) => (b > a ? b : a));
        const s = stats.getRows();
        assert.deepEqual(s[0], ['id', String(min(c.ids)), String(max(c.ids))], `${label}: id statistics`);
        const ns = c.counts.map(BigInt);
        assert.deepEqual(s[3], ['n', String(min(ns)), String(max(ns))], `${label}: count statistics`);
        assert.equal(s[2][1], null, 'no statistics on the action column');
      }
    }
});

test('a count column with a value that is not a whole number from 0 to 2^52 is an error, not a wrong file', () => {
  for (const bad of [-1, 1.5, NaN, 2 ** 52]) {
    assert.throws(
      () => encodeParquetColumns(2, [{ name: 'n', kind: 'count', values: Float64Array.of(1, bad) }], 'test'),
      /counts are whole numbers/,
      String(bad),
    );
  }
});
