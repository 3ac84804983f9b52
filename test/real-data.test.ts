import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parquetMetadata } from 'hyparquet';
import { murmur3Words } from '../partitioners/murmur3.js';
import {
  FIXTURES,
  readParquetRows,
  readParts,
  runInteractionsCli,
  sortedRowKeys,
  tempDir,
  type Row,
} from './helpers/run-cli.js';

const ICUSTOMER = join(FIXTURES, 'interactions-icustomer', 'interaction_data.csv');
const AWAISHK = join(FIXTURES, 'interactions-awaishk', 'sample.csv');

/** The data lines of a plain CSV (no quotes in these files) as objects keyed by header name. */
async function plainRows(path: string): Promise<{ line: number; raw: string; f: Record<string, string> }[]> {
  const lines = (await readFile(path, 'utf8')).split(/\r?\n/);
  const header = lines[0].split(',');
  const rows = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i] === '') continue;
    const cells = lines[i].split(',');
    rows.push({ line: i + 1, raw: lines[i], f: Object.fromEntries(header.map((h, k) => [h, cells[k]])) });
  }
  return rows;
}

function countBy<T>(items: readonly T[], key: (x: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of items) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return m;
}

const asCounts = (rows: Row[], key: string): [bigint, bigint][] =>
  rows.map((r) => [r[key] as bigint, r.interaction_count as bigint]);

function columnSchema(bytes: Buffer, name: string): Record<string, unknown> {
  const metadata = parquetMetadata(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
  );
  const column = metadata.schema.find((c) => c.name === name);
  assert.ok(column, `column ${name}`);
  return column as unknown as Record<string, unknown>;
}

test('interaction_data.csv (icustomer): 1000 valid rows and counts that match an independent count', async (t) => {
  const dir = await tempDir(t, 'shardflow-real-');
  const out = join(dir, 'out');
  const summary = await runInteractionsCli([ICUSTOMER], out);
  assert.equal(summary.rows_read, 1000);
  assert.equal(summary.rows_valid, 1000);
  assert.equal(summary.rows_rejected, 0);
  assert.ok(Object.values(summary.rejected_by_reason).every((n) => n === 0));

  const csv = await plainRows(ICUSTOMER);
  assert.equal(csv.length, 1000);
  const users = countBy(csv, (r) => r.f.user_id);
  const products = countBy(csv, (r) => r.f.product_id);
  const pairs = countBy(csv, (r) => `${r.f.user_id}/${r.f.product_id}`);
  const days = countBy(csv, (r) => r.f.timestamp.slice(0, 10));

  // users.parquet: sorted by id, equal to the independent count; the top of it pinned.
  const userRows = asCounts(await readParquetRows(join(out, 'users.parquet')), 'user_id');
  assert.deepEqual(
    userRows,
    [...users].map(([k, n]) => [BigInt(k), BigInt(n)]).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
  );
  const byCount = [...userRows].sort((a, b) => Number(b[1] - a[1]) || Number(a[0] - b[0]));
  assert.deepEqual(byCount.slice(0, 4), [
    [1044n, 19n],
    [1002n, 17n],
    [1031n, 16n],
    [1093n, 16n],
  ]);
  assert.deepEqual(
    userRows.filter((r) => r[1] === 15n).map((r) => r[0]),
    [1016n, 1056n, 1067n, 1080n],
    'the full tie set at 15, by id',
  );

  const productRows = asCounts(await readParquetRows(join(out, 'products.parquet')), 'product_id');
  assert.deepEqual(
    productRows,
    [...products].map(([k, n]) => [BigInt(k), BigInt(n)]).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
  );
  const topProducts = [...productRows].sort((a, b) => Number(b[1] - a[1]) || Number(a[0] - b[0]));
  assert.deepEqual(topProducts.slice(0, 2), [
    [295n, 17n],
    [265n, 16n],
  ]);

  // pairs: 949 of them, each in the part of its partition (murmur3 of its 4 words mod 64).
  const pairDir = join(out, 'pairs');
  const parts = (await readdir(pairDir)).filter((f) => f.endsWith('.parquet')).sort();
  assert.equal(parts.length, 64, 'one part per partition, empty ones included');
  let pairCount = 0;
  for (const part of parts) {
    const p = Number(/part-(\d+)/.exec(part)![1]);
    const rows = await readParquetRows(join(pairDir, part));
    pairCount += rows.length;
    for (const r of rows) {
      const words = new Uint32Array([Number(r.user_id), 0, Number(r.product_id), 0]);
      assert.equal(murmur3Words(words, 0, 4) % 64, p, `pair ${r.user_id}/${r.product_id} in part ${p}`);
    }
  }
  assert.equal(pairCount, 949);
  assert.equal(pairs.size, 949);
  assert.deepEqual(
    sortedRowKeys(await readParts(pairDir)),
    sortedRowKeys(
      [...pairs].map(([k, n]) => {
        const [u, p] = k.split('/');
        return { user_id: BigInt(u), product_id: BigInt(p), interaction_count: BigInt(n) };
      }),
    ),
  );

  // daily: 336 days, sorted, equal to the independent count.
  const daily = await readParquetRows(join(out, 'daily.parquet'));
  assert.equal(daily.length, 336);
  assert.deepEqual(
    daily.map((r) => [(r.day as Date).toISOString().slice(0, 10), r.interactions]),
    [...days].sort().map(([d, n]) => [d, BigInt(n)]),
  );

  // clean: every row with its counts.
  const clean = await readParts(join(out, 'clean'));
  assert.deepEqual(
    sortedRowKeys(clean),
    sortedRowKeys(
      csv.map(({ f }) => ({
        interaction_id: BigInt(f.interaction_id),
        user_id: BigInt(f.user_id),
        product_id: BigInt(f.product_id),
        action: f.action,
        timestamp: new Date(`${f.timestamp.replace(' ', 'T')}Z`),
        user_interaction_count: BigInt(users.get(f.user_id)!),
        product_interaction_count: BigInt(products.get(f.product_id)!),
        interaction_count: BigInt(pairs.get(`${f.user_id}/${f.product_id}`)!),
      })),
    ),
  );
  assert.deepEqual(await readParts(join(out, 'rejects')), []);

  // Schema: int64 ids, a wall-clock (not UTC-adjusted) microsecond timestamp, a DATE day.
  const cleanBytes = await readFile(join(out, 'clean', 'part-00000.parquet'));
  for (const name of ['interaction_id', 'user_id', 'product_id', 'user_interaction_count']) {
    assert.equal(columnSchema(cleanBytes, name).type, 'INT64', name);
  }
  assert.deepEqual(columnSchema(cleanBytes, 'timestamp').logical_type, {
    type: 'TIMESTAMP',
    isAdjustedToUTC: false,
    unit: 'MICROS',
  });
  assert.deepEqual(columnSchema(cleanBytes, 'action').logical_type, { type: 'STRING' });
  const dailyBytes = await readFile(join(out, 'daily.parquet'));
  assert.deepEqual(columnSchema(dailyBytes, 'day').logical_type, { type: 'DATE' });
});

test('sample.csv (awaishk, CRLF, date-only timestamps): 3 missing_field, 7 bad_timestamp, 0 valid', async (t) => {
  // Independent reading of the file: which rows have an empty field, which a date-only timestamp.
  const csv = await plainRows(AWAISHK);
  assert.equal(csv.length, 10);
  const verdict = (f: Record<string, string>): string =>
    Object.values(f).some((v) => v === '' || v === 'null' || v === 'NULL')
      ? 'missing_field'
      : /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(f.timestamp)
        ? 'valid'
        : 'bad_timestamp';
  const expected = csv.map((r) => ({ line: r.line, raw: r.raw, reason: verdict(r.f) }));
  assert.deepEqual(
    expected.filter((r) => r.reason === 'missing_field').map((r) => r.line),
    [3, 6, 11],
    'data rows 2 (empty timestamp), 5 and 10 (empty action)',
  );
  assert.equal(expected.filter((r) => r.reason === 'bad_timestamp').length, 7);

  const dir = await tempDir(t, 'shardflow-real-');
  const out = join(dir, 'out');
  const summary = await runInteractionsCli([AWAISHK], out);
  assert.equal(summary.rows_read, 10);
  assert.equal(summary.rows_valid, 0);
  assert.equal(summary.rows_rejected, 10);
  assert.deepEqual(summary.rejected_by_reason, {
    malformed_row: 0,
    bad_encoding: 0,
    missing_field: 3,
    bad_integer: 0,
    zero_id: 0,
    bad_timestamp: 7,
    duplicate_id: 0,
  });
  assert.deepEqual(
    await readParts(join(out, 'rejects')),
    expected.map((r) => ({ source: AWAISHK, line: BigInt(r.line), reason: r.reason, raw: r.raw })),
    'raw lines without their CR',
  );
  assert.deepEqual(await readParts(join(out, 'clean')), []);
  assert.deepEqual(await readParquetRows(join(out, 'users.parquet')), []);
  assert.deepEqual(await readParquetRows(join(out, 'daily.parquet')), []);
});
