/**
 * The Parquet writer's later kinds and shapes (io/parquet-columns.ts): DOUBLE and BOOLEAN columns,
 * nullable (OPTIONAL) columns of every kind, and several row groups. Every case is read back by
 * two independent readers, hyparquet and DuckDB: values, nulls, types and statistics. The calls
 * that existed before these features write the same bytes as before (pinned sha256).
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import {
  Utf8Bytes,
  encodeParquetColumns,
  type ParquetColumn,
  type ParquetColumnsOptions,
} from '../io/parquet-columns.js';
import { tempDir } from './helpers/run-cli.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 4294967296);
}

const words = (v: bigint[]) => new Uint32Array(BigInt64Array.from(v).buffer);

/**
 * Calls of the kinds that existed before nullable columns, doubles, booleans and row groups, with
 * no `nulls` and no options, reaching every encoding path: delta widths of 0 to 53 bits, PLAIN
 * int64 (negative, ≥ 2^52), count dictionaries and their fall back to delta, string dictionaries,
 * PLAIN strings (multibyte, empty, repaired UTF-8), dates, 0 and 1 rows, 16 columns (a long list
 * header), with and without statistics.
 */
function legacyCalls(): { label: string; rows: number; columns: ParquetColumn[]; createdBy: string }[] {
  const calls: { label: string; rows: number; columns: ParquetColumn[]; createdBy: string }[] = [];
  const shapes = ['sequential', 'wide', 'negative', 'huge'] as const;
  let seed = 0;
  for (const shape of shapes)
    for (const rows of [0, 1, 2, 33, 129, 3000]) {
      const r = rng(++seed);
      const ids: bigint[] = [];
      const micros: bigint[] = [];
      const counts: number[] = [];
      const actions: number[] = [];
      const days: number[] = [];
      const text = new Utf8Bytes(4, 4);
      let id = 1000n;
      for (let i = 0; i < rows; i++) {
        if (shape === 'sequential') id += BigInt(Math.floor(r() * 3));
        else if (shape === 'wide') id = BigInt(Math.floor(r() * 2 ** 52));
        else if (shape === 'negative') id = BigInt(Math.floor(r() * 2000)) - 1000n;
        else id = 2n ** 62n + BigInt(i * 7);
        ids.push(id);
        micros.push(BigInt(Math.floor((shape === 'negative' ? -2.5e9 : 1.6e9) + r() * 3e7)) * 1_000_000n);
        counts.push(
          shape === 'sequential'
            ? Math.floor(r() * 40)
            : shape === 'wide'
              ? Math.floor(r() * 100_000)
              : 2 ** 21 + Math.floor(r() * 5),
        );
        actions.push(Math.floor(r() * 4));
        days.push(Math.floor((r() - 0.3) * 40_000));
        const s = ['', 'a', 'café ✓ 𝄞', 'x'.repeat(Math.floor(r() * 300))][Math.floor(r() * 4)];
        text.push(Buffer.from(s));
        if (i % 97 === 5) text.push(Buffer.from([0x61, 0xff])); // repaired to U+FFFD, an extra row
      }
      const stringColumn = text.column('text');
      if (stringColumn.kind !== 'string') throw new Error('unreachable');
      const strings: ParquetColumn = {
        name: 'text',
        kind: 'string',
        offsets: stringColumn.offsets.subarray(0, rows + 1),
        bytes: stringColumn.bytes,
      };
      const statistics = seed % 2 === 1;
      calls.push({
        label: `${shape}, ${rows} rows`,
        rows,
        createdBy: `shardflow ${shape}`,
        columns: [
          { name: 'id', kind: 'int64', words: words(ids), statistics },
          { name: 'ts', kind: 'timestamp', words: words(micros), statistics: true },
          {
            name: 'action',
            kind: 'dictionary-string',
            indices: Uint16Array.from(actions),
            dictionary: ['view', 'click', 'café ✓', ''],
          },
          { name: 'n', kind: 'count', values: Float64Array.from(counts), statistics },
          { name: 'day', kind: 'date', days: Int32Array.from(days), statistics },
          strings,
        ],
      });
    }
  const many: ParquetColumn[] = [];
  for (let c = 0; c < 16; c++)
    many.push({
      name: `c${c}`,
      kind: 'count',
      values: Float64Array.from({ length: 50 }, (_, i) => (i * c) % 9),
    });
  calls.push({ label: '16 columns', rows: 50, columns: many, createdBy: 'shardflow' });
  calls.push({ label: 'no columns', rows: 0, columns: [], createdBy: 'shardflow' });
  return calls;
}

/** sha256 of each call's file (first 16 hex digits), computed before these features were added. */
const LEGACY_SHA256: Record<string, string> = {
  'sequential, 0 rows': 'fbd5aaf82ee5f9a6',
  'sequential, 1 rows': '5b1512dba2bd0048',
  'sequential, 2 rows': '0406f47bc2d79e83',
  'sequential, 33 rows': '4eb184cb3ef15196',
  'sequential, 129 rows': 'd63809b752fdb8d4',
  'sequential, 3000 rows': '099eb40e30d1fadf',
  'wide, 0 rows': '63b3b35c75689ee3',
  'wide, 1 rows': '95e04613d633017f',
  'wide, 2 rows': '12d4adc6cf750910',
  'wide, 33 rows': '12098ee9de2fb92e',
  'wide, 129 rows': 'bae915f4fa64b1e3',
  'wide, 3000 rows': '27923a08cb690a11',
  'negative, 0 rows': '4707108d0f7875d9',
  'negative, 1 rows': 'f5f9ef1209dab39d',
  'negative, 2 rows': '521cb3ea95b77655',
  'negative, 33 rows': '07dd341bb60daf5d',
  'negative, 129 rows': 'c5a2efc453591f01',
  'negative, 3000 rows': 'd5a622105da13255',
  'huge, 0 rows': 'c46a7559e3d21cfe',
  'huge, 1 rows': '43cdb55f20909441',
  'huge, 2 rows': '77640c1a2601bd0c',
  'huge, 33 rows': '78ca0b3f35c6317f',
  'huge, 129 rows': 'b1f7e4e4b0c6f81a',
  'huge, 3000 rows': 'b9640226fac62b62',
  '16 columns': '6222999d8db07e86',
  'no columns': '0d25b3564ca4f689',
};
const LEGACY_ALL_SHA256 = '133741c0e9329459eb30db307447ea80febfd4b93e53b51ccd33d7a3a3798287';

test('byte identity: calls without nulls or options write the bytes they wrote before', () => {
  const all = createHash('sha256');
  const calls = legacyCalls();
  assert.deepEqual(
    calls.map((c) => c.label),
    Object.keys(LEGACY_SHA256),
  );
  for (const call of calls) {
    const bytes = encodeParquetColumns(call.rows, call.columns, call.createdBy);
    const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    assert.equal(hash, LEGACY_SHA256[call.label], call.label);
    // The same call with the default options spelled out, or a row group larger than the rows.
    for (const options of [{}, { rowGroupRows: undefined }, { rowGroupRows: Math.max(1, call.rows) }]) {
      const again = encodeParquetColumns(call.rows, call.columns, call.createdBy, options);
      assert.equal(
        createHash('sha256').update(again).digest('hex').slice(0, 16),
        hash,
        `${call.label} with options`,
      );
    }
    all.update(bytes);
  }
  assert.equal(all.digest('hex'), LEGACY_ALL_SHA256);
});

type Kind = ParquetColumn['kind'];
const KINDS: readonly Kind[] = [
  'int64',
  'timestamp',
  'count',
  'dictionary-string',
  'string',
  'date',
  'double',
  'boolean',
];
/** A row's value: bigint (int64, timestamp µs), number (count, date days, double), string, boolean. */
type Value = bigint | number | string | boolean;

/** A column as the test means it: its values with null for a null row. */
interface Spec {
  name: string;
  kind: Kind;
  values: (Value | null)[];
  /** Give the writer a `nulls` array (an OPTIONAL column), even when no value is null. */
  nullable: boolean;
  statistics: boolean;
}

const DICTIONARY = ['a', 'b', 'café ✓ 𝄞', '', 'x'.repeat(40)];
const SPECIAL_DOUBLES = [
  -0,
  0,
  NaN,
  Infinity,
  -Infinity,
  5e-324,
  -5e-324,
  1e-310,
  2.2250738585072014e-308,
  1.7976931348623157e308,
  -1.7976931348623157e308,
  -1.5,
];

/** A random value of `kind` (timestamps whole milliseconds, so hyparquet's Dates are exact). */
function randomValue(kind: Kind, r: () => number, shape: number): Value {
  switch (kind) {
    case 'int64':
      return shape === 0
        ? BigInt(Math.floor(r() * 50))
        : shape === 1
          ? BigInt(Math.floor(r() * 2 ** 52))
          : BigInt(Math.floor(r() * 2 ** 53)) * (r() < 0.5 ? -1n : 1n) * 1024n;
    case 'timestamp':
      return BigInt(Math.floor((shape === 2 ? -1e9 : 1.6e9) * 1000 + r() * 3e10)) * 1000n;
    case 'count':
      return shape === 0
        ? Math.floor(r() * 30)
        : shape === 1
          ? Math.floor(r() * 100_000)
          : 2 ** 21 + Math.floor(r() * 9);
    case 'dictionary-string':
      return DICTIONARY[Math.floor(r() * DICTIONARY.length)];
    case 'string':
      return ['', 'plain', 'café ✓ 𝄞', 'y'.repeat(Math.floor(r() * 100))][Math.floor(r() * 4)];
    case 'date':
      return Math.floor(-25_000 + r() * 75_000);
    case 'double':
      return r() < 0.3
        ? SPECIAL_DOUBLES[Math.floor(r() * SPECIAL_DOUBLES.length)]
        : (r() - 0.5) * 10 ** (r() * 40 - 20);
    case 'boolean':
      return r() < 0.5;
  }
}

/**
 * The writer's column for a spec. Null rows hold placeholders that would show in the values, the
 * statistics or as an error if they were written: a huge int64, NaN counts, an index past the
 * dictionary, a far date, 1e300.
 */
function toColumn(spec: Spec): ParquetColumn {
  const { name, values } = spec;
  const rows = values.length;
  const nulls = spec.nullable ? Uint8Array.from(values, (v) => (v === null ? 1 : 0)) : undefined;
  const statistics = spec.statistics;
  switch (spec.kind) {
    case 'int64':
    case 'timestamp': {
      const w = BigInt64Array.from(values, (v) => (v === null ? 0x7ffffffffffffff0n : (v as bigint)));
      return { name, kind: spec.kind, words: new Uint32Array(w.buffer), statistics, nulls };
    }
    case 'count':
      return {
        name,
        kind: 'count',
        values: Float64Array.from(values, (v) => (v === null ? NaN : (v as number))),
        statistics,
        nulls,
      };
    case 'dictionary-string':
      return {
        name,
        kind: 'dictionary-string',
        indices: Uint16Array.from(values, (v) => (v === null ? 65535 : DICTIONARY.indexOf(v as string))),
        dictionary: DICTIONARY,
        nulls,
      };
    case 'string': {
      const text = new Utf8Bytes(rows + 1);
      for (const v of values) text.push(Buffer.from(v === null ? '' : (v as string)));
      const c = text.column(name);
      return { ...c, nulls };
    }
    case 'date':
      return {
        name,
        kind: 'date',
        days: Int32Array.from(values, (v) => (v === null ? 2 ** 31 - 1 : (v as number))),
        statistics,
        nulls,
      };
    case 'double':
      return {
        name,
        kind: 'double',
        values: Float64Array.from(values, (v) => (v === null ? 1e300 : (v as number))),
        statistics,
        nulls,
      };
    case 'boolean':
      return {
        name,
        kind: 'boolean',
        values: Uint8Array.from(values, (v) => (v === true ? 1 : v === null ? 1 : 0)),
        nulls,
      };
  }
}

/** A value as the test compares it, from the spec or from hyparquet (Dates to ms or days). */
function canonical(kind: Kind, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (kind) {
    case 'timestamp':
      return v instanceof Date ? v.getTime() : Number((v as bigint) / 1000n);
    case 'date':
      return v instanceof Date ? v.getTime() / 86_400_000 : v;
    case 'count':
      return Number(v);
    default:
      return v;
  }
}

/** DuckDB's SQL for a column, and its value as DuckDB returns it. */
function duckdbSelect(spec: Spec): string {
  const q = `"${spec.name}"`;
  if (spec.kind === 'timestamp') return `epoch_us(${q})`;
  if (spec.kind === 'date') return `(${q} - DATE '1970-01-01')`;
  return q;
}
function duckdbValue(kind: Kind, v: Value | null): unknown {
  if (v === null) return null;
  if (kind === 'count' || kind === 'date') return BigInt(v as number);
  return v;
}

const DUCKDB_TYPES: Record<Kind, string> = {
  int64: 'BIGINT',
  timestamp: 'TIMESTAMP',
  count: 'BIGINT',
  'dictionary-string': 'VARCHAR',
  string: 'VARCHAR',
  date: 'DATE',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
};
const PHYSICAL_TYPES: Record<Kind, string> = {
  int64: 'INT64',
  timestamp: 'INT64',
  count: 'INT64',
  'dictionary-string': 'BYTE_ARRAY',
  string: 'BYTE_ARRAY',
  date: 'INT32',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
};

/**
 * The statistics a column chunk of rows [from, to) should carry: null_count on OPTIONAL columns
 * (and with min/max), min/max when asked for a kind that has them, over the non-null values,
 * NaN left out, a zero min as -0 and a zero max as +0 (parquet.thrift, ColumnOrder).
 */
function expectedStats(
  spec: Spec,
  from: number,
  to: number,
): { nullCount: number; min: unknown; max: unknown } | null {
  const present = spec.values.slice(from, to).filter((v) => v !== null);
  const nullCount = to - from - present.length;
  const ordered = ['int64', 'timestamp', 'count', 'date', 'double'].includes(spec.kind);
  const candidates = spec.kind === 'double' ? present.filter((v) => !Number.isNaN(v)) : present;
  const withMinMax = spec.statistics && ordered && candidates.length > 0;
  if (!withMinMax && !spec.nullable) return null;
  if (!withMinMax) return { nullCount, min: undefined, max: undefined };
  let min = candidates[0];
  let max = candidates[0];
  for (const v of candidates) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (spec.kind === 'double') {
    if (min === 0) min = -0;
    if (max === 0) max = 0;
  }
  return { nullCount, min: canonical(spec.kind, min), max: canonical(spec.kind, max) };
}

/**
 * Writes `specs` (all of `rows` rows) with `options`, reads the file back with hyparquet and DuckDB
 * and compares values, nulls, types, row groups and statistics.
 */
async function checkReadBack(
  conn: DuckDBConnection,
  dir: string,
  label: string,
  rows: number,
  specs: Spec[],
  options?: ParquetColumnsOptions,
  readers: { hyparquet: boolean } = { hyparquet: true },
): Promise<void> {
  for (const s of specs) assert.equal(s.values.length, rows, `${label}: spec ${s.name}`);
  const bytes = encodeParquetColumns(rows, specs.map(toColumn), 'test', options);
  const file = join(dir, `${label.replace(/[^a-z0-9]+/gi, '-')}.parquet`);
  await writeFile(file, bytes);
  const groupRows = options?.rowGroupRows ?? Infinity;
  const groups: [number, number][] = [];
  for (let from = 0; groups.length === 0 || from < rows; from += groupRows)
    groups.push([from, Math.min(rows, from + groupRows)]);

  // DuckDB: the rows, in file order, and the types.
  if (specs.length > 0) {
    const got = await conn.runAndReadAll(
      `SELECT ${specs.map(duckdbSelect).join(', ')} FROM read_parquet('${file}', file_row_number = true) ORDER BY file_row_number`,
    );
    const want = Array.from({ length: rows }, (_, i) => specs.map((s) => duckdbValue(s.kind, s.values[i])));
    assert.deepEqual(got.getRows(), want, `${label}: DuckDB rows`);
    const types = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
    assert.deepEqual(
      types.getRows().map((r) => `${r[0]} ${r[1]}`),
      specs.map((s) => `${s.name} ${DUCKDB_TYPES[s.kind]}`),
      `${label}: DuckDB types`,
    );
    // DuckDB's view of the statistics: null counts everywhere, min/max of integers and dates.
    const meta = await conn.runAndReadAll(
      `SELECT row_group_id, column_id, row_group_num_rows, stats_null_count, stats_min_value, stats_max_value FROM parquet_metadata('${file}') ORDER BY row_group_id, column_id`,
    );
    const wantMeta = groups.flatMap(([from, to], g) =>
      specs.map((s, c) => {
        const e = expectedStats(s, from, to);
        const text = (v: unknown) =>
          v === undefined || !['int64', 'count', 'date'].includes(s.kind)
            ? null
            : s.kind === 'date'
              ? new Date((v as number) * 86_400_000).toISOString().slice(0, 10)
              : String(v);
        return [
          BigInt(g),
          BigInt(c),
          BigInt(to - from),
          e === null ? null : BigInt(e.nullCount),
          text(e?.min),
          text(e?.max),
        ];
      }),
    );
    const gotMeta = meta
      .getRows()
      .map((r) =>
        ['int64', 'count', 'date'].includes(specs[Number(r[1])].kind) ? r : [...r.slice(0, 4), null, null],
      );
    assert.deepEqual(gotMeta, wantMeta, `${label}: DuckDB row groups and statistics`);
  }

  if (!readers.hyparquet) return;
  // hyparquet: schema, row groups, typed statistics, and the rows.
  const metadata = parquetMetadata(bytes.slice().buffer as ArrayBuffer);
  assert.deepEqual(
    metadata.schema.slice(1).map((e) => [e.name, e.type, e.repetition_type]),
    specs.map((s) => [s.name, PHYSICAL_TYPES[s.kind], s.nullable ? 'OPTIONAL' : 'REQUIRED']),
    `${label}: hyparquet schema`,
  );
  assert.equal(metadata.num_rows, BigInt(rows), `${label}: num_rows`);
  assert.deepEqual(
    metadata.row_groups.map((g) => Number(g.num_rows)),
    groups.map(([from, to]) => to - from),
    `${label}: row group sizes`,
  );
  metadata.row_groups.forEach((g, gi) => {
    const [from, to] = groups[gi];
    assert.equal(g.ordinal, gi, `${label}: group ${gi} ordinal`);
    // Each group's chunks are its own: after the previous group's, a dictionary page in each.
    const first = Number(
      g.columns[0]?.meta_data?.dictionary_page_offset ?? g.columns[0]?.meta_data?.data_page_offset ?? 0,
    );
    if (gi > 0 && specs.length > 0) {
      const previous = metadata.row_groups[gi - 1].columns.at(-1)?.meta_data;
      assert.ok(first >= Number(previous?.data_page_offset), `${label}: group ${gi} after group ${gi - 1}`);
    }
    specs.forEach((s, c) => {
      if (s.kind === 'dictionary-string')
        assert.ok(
          g.columns[c].meta_data?.dictionary_page_offset !== undefined,
          `${label}: group ${gi} ${s.name} dictionary`,
        );
    });
    specs.forEach((s, c) => {
      const meta = g.columns[c].meta_data;
      assert.equal(meta?.num_values, BigInt(to - from), `${label}: group ${gi} ${s.name} num_values`);
      const e = expectedStats(s, from, to);
      const st = meta?.statistics;
      if (e === null) assert.equal(st, undefined, `${label}: group ${gi} ${s.name}: no statistics`);
      else
        assert.deepEqual(
          {
            nullCount: st?.null_count,
            min: canonical(s.kind, st?.min_value),
            max: canonical(s.kind, st?.max_value),
          },
          {
            nullCount: BigInt(e.nullCount),
            min: e.min === undefined ? null : e.min,
            max: e.max === undefined ? null : e.max,
          },
          `${label}: group ${gi} ${s.name} statistics`,
        );
    });
  });
  const hy = await parquetReadObjects({ file: bytes.slice().buffer as ArrayBuffer });
  assert.equal(hy.length, rows, `${label}: hyparquet rows`);
  for (const s of specs)
    assert.deepEqual(
      hy.map((row) => canonical(s.kind, row[s.name])),
      s.values.map((v) => canonical(s.kind, v)),
      `${label}: hyparquet ${s.name}`,
    );
}

async function duckdb(t: {
  after: (fn: () => Promise<void>) => void;
}): Promise<{ conn: DuckDBConnection; dir: string }> {
  const dir = await tempDir(t);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  t.after(async () => {
    conn.closeSync();
    db.closeSync();
  });
  return { conn, dir };
}

/** One column of each kind over `values` (a row's null applies to every kind), nullable or not. */
function everyKind(nullAt: (i: number) => boolean, rows: number, seed: number, nullable = true): Spec[] {
  const r = rng(seed);
  return KINDS.map((kind, k) => ({
    name: `${kind.replace('-', '_')}_${k}`,
    kind,
    values: Array.from({ length: rows }, (_, i) => (nullAt(i) ? null : randomValue(kind, r, k % 3))),
    nullable,
    statistics: true,
  }));
}

test('doubles: -0, NaN, ±Infinity, subnormals and extremes read back bit for bit, statistics without NaN', async (t) => {
  const { conn, dir } = await duckdb(t);
  const specials = [...SPECIAL_DOUBLES, ...SPECIAL_DOUBLES.reverse()];
  const plain = (name: string, values: (number | null)[], nullable = false): Spec => ({
    name,
    kind: 'double',
    values,
    nullable,
    statistics: true,
  });
  await checkReadBack(conn, dir, 'doubles special', specials.length, [
    plain('d', specials),
    plain(
      'dn',
      specials.map((v, i) => (i % 5 === 2 ? null : v)),
      true,
    ),
    { ...plain('no_stats', specials), statistics: false },
  ]);
  await checkReadBack(conn, dir, 'doubles zeros', 6, [
    plain('pos_then_neg', [0, 0, -0, 0, -0, 0]), // min -0, max +0 whatever the order
    plain('only_pos_zero', [0, 0, 0, 0, 0, 0]), // still min -0
    plain('only_neg_zero', [-0, -0, -0, -0, -0, -0]), // still max +0
    plain('nan_and_zero', [NaN, -0, NaN, NaN, NaN, NaN]),
  ]);
  await checkReadBack(conn, dir, 'doubles all NaN', 3, [
    plain('nan', [NaN, NaN, NaN]),
    plain('nan_null', [NaN, null, NaN], true),
  ]);
  await checkReadBack(conn, dir, 'doubles subnormals', 4, [
    plain('sub', [5e-324, -5e-324, 1e-310, 2.2250738585072009e-308]),
  ]);
  await checkReadBack(conn, dir, 'doubles infinities', 3, [
    plain('inf', [Infinity, Infinity, Infinity]),
    plain('neg_inf', [-Infinity, 1, -Infinity]),
  ]);
  // Random doubles, a third of them null in the nullable copy, in row groups of 1000.
  const r = rng(7);
  const many = Array.from({ length: 2500 }, () => randomValue('double', r, 0) as number);
  await checkReadBack(
    conn,
    dir,
    'doubles random',
    2500,
    [
      plain('d', many),
      plain(
        'dn',
        many.map((v, i) => (i % 3 ? v : null)),
        true,
      ),
    ],
    {
      rowGroupRows: 1000,
    },
  );
});

test('booleans: PLAIN bit-packed at every length around a byte', async (t) => {
  const { conn, dir } = await duckdb(t);
  for (const rows of [1, 2, 7, 8, 9, 15, 16, 17, 100, 1001]) {
    const r = rng(rows);
    const values = Array.from({ length: rows }, () => r() < 0.5);
    await checkReadBack(conn, dir, `booleans ${rows}`, rows, [
      { name: 'b', kind: 'boolean', values, nullable: false, statistics: false },
      {
        name: 'all_true',
        kind: 'boolean',
        values: values.map(() => true),
        nullable: false,
        statistics: false,
      },
      {
        name: 'bn',
        kind: 'boolean',
        values: values.map((v, i) => (i % 4 === 1 ? null : v)),
        nullable: true,
        statistics: false,
      },
    ]);
  }
});

test('nullable columns of every kind: nulls at the start, middle and end, all null, none with a nulls array', async (t) => {
  const { conn, dir } = await duckdb(t);
  const rows = 50;
  const patterns: [string, (i: number) => boolean][] = [
    ['first', (i) => i === 0],
    ['first ten', (i) => i < 10], // an RLE run of nulls, then one of values
    ['middle', (i) => i === 25],
    ['last', (i) => i === rows - 1],
    ['alternate', (i) => i % 2 === 1], // bit-packed levels
    ['mixed runs', (i) => (i >= 3 && i < 5) || (i >= 12 && i < 30) || i % 7 === 0],
    ['all', () => true],
    ['none', () => false],
  ];
  let seed = 100;
  for (const [name, nullAt] of patterns)
    await checkReadBack(conn, dir, `nulls ${name}`, rows, everyKind(nullAt, rows, ++seed));
  // The same values as REQUIRED columns beside them are unchanged by the nulls array.
  await checkReadBack(conn, dir, 'required beside nullable', rows, [
    ...everyKind(() => false, rows, 1, false),
    ...everyKind((i) => i % 3 === 0, rows, 2).map((s) => ({ ...s, name: `${s.name}_n` })),
  ]);
});

test('nullable columns with 0 rows and with 1 row', async (t) => {
  const { conn, dir } = await duckdb(t);
  await checkReadBack(
    conn,
    dir,
    'zero rows nullable',
    0,
    everyKind(() => false, 0, 3),
  );
  await checkReadBack(
    conn,
    dir,
    'zero rows required',
    0,
    everyKind(() => false, 0, 3, false),
  );
  await checkReadBack(
    conn,
    dir,
    'zero rows in groups',
    0,
    everyKind(() => false, 0, 3),
    { rowGroupRows: 7 },
  );
  await checkReadBack(
    conn,
    dir,
    'one null row',
    1,
    everyKind(() => true, 1, 4),
  );
  await checkReadBack(
    conn,
    dir,
    'one row',
    1,
    everyKind(() => false, 1, 5),
  );
  await checkReadBack(
    conn,
    dir,
    'one required row',
    1,
    everyKind(() => false, 1, 6, false),
  );
});

test('row groups: 2,500 rows in groups of 1, 7 and 1000, each with its own chunks, dictionaries and statistics', async (t) => {
  const { conn, dir } = await duckdb(t);
  const rows = 2500;
  for (const rowGroupRows of [1, 7, 1000]) {
    const specs = [
      ...everyKind((i) => i % 11 === 3 || (i >= 700 && i < 1400), rows, rowGroupRows),
      ...everyKind(() => false, rows, rowGroupRows + 1, false).map((s) => ({ ...s, name: `${s.name}_r` })),
    ];
    // 2,500 row groups: hyparquet reads them all, but slowly; DuckDB checks every group's metadata.
    await checkReadBack(
      conn,
      dir,
      `row groups of ${rowGroupRows}`,
      rows,
      specs,
      { rowGroupRows },
      { hyparquet: rowGroupRows > 1 },
    );
  }
  // One group per row, read by hyparquet too, on fewer rows.
  await checkReadBack(
    conn,
    dir,
    'row groups of 1, 40 rows',
    40,
    everyKind((i) => i % 3 === 0, 40, 9),
    { rowGroupRows: 1 },
  );
  // Exactly full groups, and a last group of one row.
  await checkReadBack(
    conn,
    dir,
    'full groups',
    21,
    everyKind((i) => i === 20, 21, 10),
    { rowGroupRows: 7 },
  );
  await checkReadBack(
    conn,
    dir,
    'last group of one',
    22,
    everyKind((i) => i === 21, 22, 11),
    { rowGroupRows: 7 },
  );
});

test('property: random columns of random kinds with random nulls, any row group size, read back by DuckDB', async (t) => {
  const { conn, dir } = await duckdb(t);
  const r = rng(20260);
  for (let trial = 0; trial < 60; trial++) {
    const rows = [0, 1, 2, 8, 9][trial] ?? Math.floor(r() ** 2 * 3000);
    const density = [0, 1, r(), r() * 0.05, 0.95][Math.floor(r() * 5)];
    const specs: Spec[] = [];
    const columns = 1 + Math.floor(r() * 10);
    for (let c = 0; c < columns; c++) {
      const kind = KINDS[Math.floor(r() * KINDS.length)];
      const nullable = r() < 0.7;
      const runs = r() < 0.5; // nulls in runs (RLE levels) or scattered (bit-packed)
      let isNull = false;
      const shape = Math.floor(r() * 3);
      const values = Array.from({ length: rows }, () => {
        isNull = runs ? (r() < 0.05 ? !isNull : isNull) : r() < density;
        return nullable && isNull ? null : randomValue(kind, r, shape);
      });
      specs.push({ name: `c${c}`, kind, values, nullable, statistics: r() < 0.5 });
    }
    const rowGroupRows =
      r() < 0.25 ? undefined : 1 + Math.floor(r() * Math.max(1, rows / (r() < 0.5 ? 3 : 1)) + r() * 5);
    await checkReadBack(
      conn,
      dir,
      `trial ${trial}`,
      rows,
      specs,
      { rowGroupRows },
      { hyparquet: trial % 4 === 0 },
    );
  }
});

test('bad options and columns are clear errors that name them', () => {
  const column: ParquetColumn = { name: 'n', kind: 'count', values: Float64Array.of(1, 2, 3) };
  for (const rowGroupRows of [0, -1, 1.5, NaN, Infinity, 2 ** 53])
    assert.throws(
      () => encodeParquetColumns(3, [column], 'test', { rowGroupRows }),
      /options\.rowGroupRows must be a positive integer/,
      String(rowGroupRows),
    );
  assert.throws(
    () => encodeParquetColumns(40_000, [], 'test', { rowGroupRows: 1 }),
    /more than 32767 row groups/,
  );
  assert.throws(
    () => encodeParquetColumns(3, [{ ...column, nulls: new Uint8Array(2) }], 'test'),
    /column n: nulls must have one entry per row \(3\), not 2/,
  );
  assert.throws(
    () => encodeParquetColumns(3, [{ name: 'd', kind: 'double', values: new Float64Array(2) }], 'test'),
    /column d: 2 values for 3 rows/,
  );
  // A null row's placeholder is never read: NaN in a nullable count column is no error.
  encodeParquetColumns(
    3,
    [{ ...column, values: Float64Array.of(1, NaN, 3), nulls: Uint8Array.of(0, 1, 0) }],
    'test',
  );
});

test('string statistics: min/max by UTF-8 bytes per row group, nulls left out, column_orders written', async (t) => {
  const { conn, dir } = await duckdb(t);
  // U+FF61 sorts before U+1D11E in UTF-8 bytes (EF… < F0…) but after it in UTF-16 (FF61 > D834):
  // the statistics follow the bytes, as TypeDefinedOrder says for UTF-8.
  const pool = ['', 'a', 'ab', 'b', 'p10', 'p9', 'café', '\uff61', '𝄞', 'z'.repeat(30)];
  const r = rng(4242);
  const rows = 200;
  const groupRows = 7;
  const strings = Array.from({ length: rows }, (_, i) =>
    i % 50 < 9 ? null : pool[Math.floor(r() * pool.length)],
  );
  const dictionary = ['reason_b', 'reason_a', 'é', 'unused_zzz'];
  const picks = Array.from({ length: rows }, (_, i) => (i % 13 === 0 ? null : Math.floor(r() * 3)));
  const text = new Utf8Bytes(rows + 1);
  for (const v of strings) text.push(Buffer.from(v ?? ''));
  const s = text.column('s');
  if (s.kind !== 'string') throw new Error('unreachable');
  const columns: ParquetColumn[] = [
    { ...s, statistics: true, nulls: Uint8Array.from(strings, (v) => (v === null ? 1 : 0)) },
    {
      name: 'd',
      kind: 'dictionary-string',
      indices: Uint16Array.from(picks, (v) => v ?? 3), // a null row's index is not counted
      dictionary,
      statistics: true,
      nulls: Uint8Array.from(picks, (v) => (v === null ? 1 : 0)),
    },
    { ...s, name: 'no_stats' }, // REQUIRED, no statistics asked
  ];
  const bytes = encodeParquetColumns(rows, columns, 'test', { rowGroupRows: groupRows });
  const file = join(dir, 'string-stats.parquet');
  await writeFile(file, bytes);

  const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const minMax = (values: (string | null)[]): [string | null, string | null] => {
    const present = values.filter((v): v is string => v !== null).sort(byBytes);
    return present.length === 0 ? [null, null] : [present[0], present[present.length - 1]];
  };
  const want: unknown[][] = [];
  const dictValues = picks.map((p) => (p === null ? null : dictionary[p]));
  for (let g = 0, from = 0; from < rows; g++, from += groupRows) {
    const to = Math.min(rows, from + groupRows);
    const s = strings.slice(from, to);
    const d = dictValues.slice(from, to);
    want.push([BigInt(g), 's', ...minMax(s), BigInt(s.filter((v) => v === null).length)]);
    want.push([BigInt(g), 'd', ...minMax(d), BigInt(d.filter((v) => v === null).length)]);
    want.push([BigInt(g), 'no_stats', null, null, null]);
  }
  assert.ok(
    want.some((w) => w[1] === 's' && w[2] === null),
    'a group whose strings are all null has no min/max',
  );
  const got = await conn.runAndReadAll(
    `SELECT row_group_id, path_in_schema, stats_min_value, stats_max_value, stats_null_count FROM parquet_metadata('${file}') ORDER BY row_group_id, column_id`,
  );
  assert.deepEqual(got.getRows(), want, 'DuckDB: statistics per row group');
  const orders = await conn.runAndReadAll(`SELECT column_orders FROM parquet_file_metadata('${file}')`);
  assert.deepEqual(
    (orders.getRows()[0][0] as { items: unknown[] }).items,
    Array(3).fill('ColumnOrder(TYPE_ORDER=TypeDefinedOrder())'),
    'column_orders: TypeDefinedOrder for each column',
  );
  // DuckDB prunes row groups by them: a point lookup reads back the right rows.
  const target = strings.find((v) => v === '\uff61');
  const hits = await conn.runAndReadAll(`SELECT count(*) FROM read_parquet('${file}') WHERE s = '${target}'`);
  assert.equal(hits.getRows()[0][0], BigInt(strings.filter((v) => v === target).length));

  // hyparquet: the same min/max per group.
  const metadata = parquetMetadata(bytes.slice().buffer as ArrayBuffer);
  const hy = metadata.row_groups.flatMap((g, gi) =>
    g.columns.map((c) => {
      const st = c.meta_data?.statistics;
      return [
        BigInt(gi),
        c.meta_data?.path_in_schema.join('.'),
        st?.min_value ?? null,
        st?.max_value ?? null,
      ];
    }),
  );
  assert.deepEqual(
    hy,
    want.map((w) => w.slice(0, 4)),
    'hyparquet: statistics per row group',
  );

  // Without string statistics the footer has no column_orders: those files keep their bytes.
  const plainFile = join(dir, 'no-string-stats.parquet');
  await writeFile(plainFile, encodeParquetColumns(rows, [columns[2]], 'test'));
  const none = await conn.runAndReadAll(`SELECT column_orders FROM parquet_file_metadata('${plainFile}')`);
  assert.equal(none.getRows()[0][0], null, 'no column_orders');
});
