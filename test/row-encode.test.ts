/**
 * io/row-encode.ts, the one place a job's rows become bytes: every output type, nullable columns
 * with nulls, int64 beyond 2^53 and negative, timestamps before 1970, dates from text and from
 * milliseconds, and strings that need quoting or escaping, written by each encoder and read back
 * by an independent reader: hyparquet and DuckDB for Parquet, JSON.parse for JSON Lines, an RFC
 * 4180 parser written here for CSV, and PostgreSQL itself for the COPY text. A value that does not
 * fit its column is E_JOB_OUTPUT in every encoder.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetReadObjects } from 'hyparquet';
import { from as copyFrom } from 'pg-copy-streams';
import {
  encodeRowsCopyText,
  encodeRowsCsv,
  encodeRowsJsonl,
  encodeRowsParquet,
  type OutputColumns,
} from '../io/row-encode.js';
import { ShardflowError } from '../errors.js';
import { tempDir } from './helpers/run-cli.js';
import { rawClient } from './pg-test-env.js';

const DAY = 86_400_000;

const COLUMNS = {
  s: 'string',
  s_opt: 'string?',
  i: 'int64',
  i_opt: 'int64?',
  d: 'double',
  d_opt: 'double?',
  b: 'boolean',
  b_opt: 'boolean?',
  t: 'timestamp',
  t_opt: 'timestamp?',
  day: 'date',
  day_opt: 'date?',
} as const satisfies OutputColumns;
type Name = keyof typeof COLUMNS;
const NAMES = Object.keys(COLUMNS) as Name[];

const HOSTILE = 'comma, "quote" and\nnewline\r\nCRLF\ttab\\backslash \\N \r lone CR';

/** Rows as a job hands them over. */
const ROWS: Record<string, unknown>[] = [
  {
    s: 'plain',
    s_opt: 'x',
    i: 0,
    i_opt: 1,
    d: 0.5,
    d_opt: 2,
    b: true,
    b_opt: false,
    t: 0,
    t_opt: 1_700_000_000_123,
    day: '1970-01-01',
    day_opt: '2024-02-29',
  },
  {
    s: HOSTILE,
    s_opt: null,
    i: 2n ** 62n + 1n, // beyond 2^53
    i_opt: null,
    d: -1e300,
    d_opt: null,
    b: false,
    b_opt: null,
    t: Date.UTC(1900, 0, 1, 0, 0, 0, 1), // before 1970
    t_opt: null,
    day: Date.UTC(1969, 11, 31), // from milliseconds, before 1970
    day_opt: null,
  },
  {
    s: '',
    // absent optional columns are null too
    i: -(2n ** 63n), // the smallest int64
    d: 5e-324,
    b: true,
    t: -1, // one millisecond before 1970
    day: '0001-01-01',
  },
  {
    s: 'ünïcødé ✓ 😀',
    s_opt: '\\N',
    i: -9_007_199_254_740_993n,
    i_opt: -12_345,
    d: -0,
    d_opt: 1.7976931348623157e308,
    b: false,
    b_opt: true,
    t: new Date(Date.UTC(1969, 6, 20, 20, 17, 40, 5)),
    t_opt: Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    day: new Date(Date.UTC(1960, 1, 29, 13)), // a Date mid-day: its day
    day_opt: Date.UTC(1969, 11, 31, 23, 59, 59, 999), // the last ms of a day before 1970
  },
  {
    s: 'N',
    s_opt: '',
    i: Number.MAX_SAFE_INTEGER,
    i_opt: 2n ** 63n - 1n, // the largest int64
    d: 123456.789,
    d_opt: -2.5e-308,
    b: true,
    b_opt: true,
    t: Date.UTC(2024, 1, 29, 12, 30, 15, 250),
    t_opt: -62135596800000, // 0001-01-01
    day: '9999-12-31',
    day_opt: -DAY, // 1969-12-31
  },
];

/** What each cell means: int64 as bigint, timestamp as ms, date as days since 1970, or null. */
type Canonical = string | bigint | number | boolean | null;
const EXPECTED: Record<Name, Canonical>[] = [
  {
    s: 'plain',
    s_opt: 'x',
    i: 0n,
    i_opt: 1n,
    d: 0.5,
    d_opt: 2,
    b: true,
    b_opt: false,
    t: 0,
    t_opt: 1_700_000_000_123,
    day: 0,
    day_opt: 19782,
  },
  {
    s: HOSTILE,
    s_opt: null,
    i: 4611686018427387905n,
    i_opt: null,
    d: -1e300,
    d_opt: null,
    b: false,
    b_opt: null,
    t: -2208988799999,
    t_opt: null,
    day: -1,
    day_opt: null,
  },
  {
    s: '',
    s_opt: null,
    i: -9223372036854775808n,
    i_opt: null,
    d: 5e-324,
    d_opt: null,
    b: true,
    b_opt: null,
    t: -1,
    t_opt: null,
    day: -719162,
    day_opt: null,
  },
  {
    s: 'ünïcødé ✓ 😀',
    s_opt: '\\N',
    i: -9007199254740993n,
    i_opt: -12345n,
    d: -0,
    d_opt: 1.7976931348623157e308,
    b: false,
    b_opt: true,
    t: -14182939995,
    t_opt: 253402300799999,
    day: -3594,
    day_opt: -1,
  },
  {
    s: 'N',
    s_opt: '',
    i: 9007199254740991n,
    i_opt: 9223372036854775807n,
    d: 123456.789,
    d_opt: -2.5e-308,
    b: true,
    b_opt: true,
    t: 1709209815250,
    t_opt: -62135596800000,
    day: 2932896,
    day_opt: -1,
  },
];

test('the expected values are right (checked against Date, independently of the encoders)', () => {
  assert.equal(EXPECTED[0].day_opt, Date.UTC(2024, 1, 29) / DAY);
  assert.equal(EXPECTED[1].t, Date.UTC(1900, 0, 1) + 1);
  assert.equal(EXPECTED[2].day, new Date('0001-01-01T00:00:00Z').getTime() / DAY);
  assert.equal(EXPECTED[3].t, Date.parse('1969-07-20T20:17:40.005Z'));
  assert.equal(EXPECTED[3].day, Date.UTC(1960, 1, 29) / DAY);
  assert.equal(EXPECTED[4].day, Date.parse('9999-12-31T00:00:00Z') / DAY);
  assert.equal(EXPECTED[4].t_opt, new Date('0001-01-01T00:00:00Z').getTime());
});

/** The day a number of days since 1970 falls on, as `YYYY-MM-DD`. */
const isoDay = (days: number): string => new Date(days * DAY).toISOString().slice(0, 10);

test('Parquet: every type and null read back by hyparquet', async () => {
  const bytes = encodeRowsParquet(ROWS, COLUMNS, 'test');
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const rows = await parquetReadObjects({ file });
  const got = rows.map((row) => {
    const out: Record<string, Canonical> = {};
    for (const name of NAMES) {
      const v = row[name] as unknown;
      const type = COLUMNS[name].replace('?', '');
      if (v === null || v === undefined) out[name] = null;
      else if (type === 'timestamp') out[name] = (v as Date).getTime();
      else if (type === 'date') out[name] = (v as Date).getTime() / DAY;
      else out[name] = v as Canonical;
    }
    return out;
  });
  assert.deepStrictEqual(got, EXPECTED);
});

test('Parquet: every type and null read back by DuckDB, with its column types', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'rows.parquet');
  await writeFile(file, encodeRowsParquet(ROWS, COLUMNS, 'test'));
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  t.after(() => {
    conn.closeSync();
    db.closeSync();
  });
  const select = NAMES.map((n) => {
    const type = COLUMNS[n].replace('?', '');
    if (type === 'timestamp') return `epoch_ms(${n})`;
    if (type === 'date') return `(${n} - DATE '1970-01-01')`;
    return n;
  });
  const reader = await conn.runAndReadAll(
    `SELECT ${select.join(', ')} FROM read_parquet('${file}', file_row_number = true) ORDER BY file_row_number`,
  );
  const want = EXPECTED.map((row) =>
    NAMES.map((n) => {
      const v = row[n];
      const type = COLUMNS[n].replace('?', '');
      return v !== null && (type === 'timestamp' || type === 'date') ? BigInt(v as number) : v;
    }),
  );
  assert.deepStrictEqual(reader.getRows(), want);
  const types = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
  assert.deepEqual(
    types.getRows().map((r) => `${String(r[0])} ${String(r[1])}`),
    NAMES.map((n) => {
      const type = COLUMNS[n].replace('?', '');
      const duck = { string: 'VARCHAR', int64: 'BIGINT', double: 'DOUBLE', boolean: 'BOOLEAN' }[type];
      return `${n} ${duck ?? type.toUpperCase()}`; // TIMESTAMP (wall clock, no zone), DATE
    }),
  );
  // Nullability as declared: REQUIRED columns have no definition levels.
  const schema = await conn.runAndReadAll(
    `SELECT name, repetition_type FROM parquet_schema('${file}') WHERE name <> 'shardflow' AND name <> 'schema'`,
  );
  assert.deepEqual(
    schema.getRows().map((r) => `${String(r[0])} ${String(r[1])}`),
    NAMES.map((n) => `${n} ${COLUMNS[n].endsWith('?') ? 'OPTIONAL' : 'REQUIRED'}`),
  );
});

test('Parquet: no rows is a valid empty file', async () => {
  const bytes = encodeRowsParquet([], COLUMNS, 'test');
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  assert.deepEqual(await parquetReadObjects({ file }), []);
});

/** A cell as text the way JSON Lines, CSV and COPY spell it (null aside). */
function cellText(name: Name, v: Canonical): string {
  const type = COLUMNS[name].replace('?', '');
  if (type === 'timestamp') return new Date(v as number).toISOString();
  if (type === 'date') return isoDay(v as number);
  return String(v);
}

test('JSON Lines: one object a line, keys in column order, int64 exact, ISO times and days', () => {
  const text = Buffer.from(encodeRowsJsonl(ROWS, COLUMNS, 'test')).toString('utf8');
  assert.ok(text.endsWith('\n'));
  const lines = text.slice(0, -1).split('\n');
  assert.equal(lines.length, EXPECTED.length);
  lines.forEach((line, r) => {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), NAMES, `row ${r}: keys`);
    for (const name of NAMES) {
      const want = EXPECTED[r][name];
      const type = COLUMNS[name].replace('?', '');
      if (want === null) assert.equal(parsed[name], null, `row ${r} ${name}`);
      else if (type === 'int64') {
        // JSON.parse would round: the digits must be in the text exactly.
        assert.ok(line.includes(`"${name}":${String(want)},`), `row ${r} ${name}: ${line}`);
      } else if (type === 'timestamp' || type === 'date')
        assert.equal(parsed[name], cellText(name, want), `row ${r} ${name}`);
      else
        assert.ok(
          Object.is(parsed[name], want) || (Object.is(want, -0) && parsed[name] === 0),
          `row ${r} ${name}`,
        );
    }
  });
  assert.equal(encodeRowsJsonl([], COLUMNS, 'test').length, 0);
});

/** RFC 4180: fields separated by commas, quoted when they hold commas, quotes, CR or LF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"' && field === '') {
      i++;
      for (;;) {
        assert.ok(i < text.length, 'an unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else field += text[i++];
      }
      assert.ok(
        i === text.length || [',', '\n', '\r'].includes(text[i]),
        `text after a closing quote at ${i}`,
      );
    } else if (ch === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\n' || ch === '\r') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      assert.ok(ch !== '"', `a bare quote in an unquoted field at ${i}`);
      field += ch;
      i++;
    }
  }
  assert.equal(field, '', 'the last record ends with a line break');
  assert.equal(row.length, 0);
  return rows;
}

test('CSV: a header line, then every value; quotes, commas, CR and LF inside strings survive', () => {
  const text = Buffer.from(encodeRowsCsv(ROWS, COLUMNS, 'test')).toString('utf8');
  const [header, ...records] = parseCsv(text);
  assert.deepEqual(header, NAMES);
  assert.deepEqual(
    records,
    EXPECTED.map((row) => NAMES.map((n) => (row[n] === null ? '' : cellText(n, row[n])))),
  );
  assert.deepEqual(parseCsv(Buffer.from(encodeRowsCsv([], COLUMNS, 'test')).toString('utf8')), [NAMES]);
});

/** COPY text format, read back by the rules of PostgreSQL's docs (not by the encoder's code). */
function parseCopyText(text: string): (string | null)[][] {
  assert.ok(text === '' || text.endsWith('\n'));
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) =>
      line.split('\t').map((field) => {
        if (field === '\\N') return null;
        return field.replace(
          /\\(.)/g,
          (_m, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c,
        );
      }),
    );
}

test('COPY text: escapes of backslash, tab, newline and CR, \\N for null, one line a row', () => {
  const text = Buffer.from(encodeRowsCopyText(ROWS, COLUMNS, 'test')).toString('utf8');
  const lines = text.split('\n');
  assert.equal(lines.length, EXPECTED.length + 1, 'no raw newline inside a row');
  assert.equal(lines[1].split('\t').length, NAMES.length, 'no raw tab inside a row');
  assert.ok(!text.includes('\r'), 'no raw CR');
  assert.deepEqual(
    parseCopyText(text),
    EXPECTED.map((row) =>
      NAMES.map((n) => {
        const v = row[n];
        if (v === null) return null;
        const type = COLUMNS[n].replace('?', '');
        if (type === 'boolean') return v ? 't' : 'f';
        if (type === 'timestamp') return cellText(n, v).replace('T', ' ').replace('Z', '');
        return cellText(n, v);
      }),
    ),
  );
  // The string "\N" is not a null: its backslash is escaped.
  assert.ok(lines[3].split('\t')[1] === '\\\\N');
  assert.equal(encodeRowsCopyText([], COLUMNS, 'test').length, 0);
});

test('COPY text: PostgreSQL loads it into the declared types and returns every value', async (t) => {
  const client = await rawClient();
  t.after(() => client.end());
  const pgType = { string: 'text', int64: 'bigint', double: 'double precision', boolean: 'boolean' };
  const ddl = NAMES.map((n) => {
    const type = COLUMNS[n].replace('?', '');
    const sql = pgType[type as keyof typeof pgType] ?? type;
    return `${n} ${sql}${COLUMNS[n].endsWith('?') ? '' : ' NOT NULL'}`;
  });
  await client.query(`CREATE TEMP TABLE rows_back (r serial, ${ddl.join(', ')})`);
  await pipeline(
    Readable.from([Buffer.from(encodeRowsCopyText(ROWS, COLUMNS, 'test'))]),
    client.query(copyFrom(`COPY rows_back (${NAMES.join(', ')}) FROM STDIN`)),
  );
  const select = NAMES.map((n) => {
    const type = COLUMNS[n].replace('?', '');
    if (type === 'int64') return `${n}::text AS ${n}`;
    if (type === 'timestamp') return `(extract(epoch FROM ${n}) * 1000)::text AS ${n}`;
    if (type === 'date') return `(${n} - DATE '1970-01-01') AS ${n}`;
    return n;
  });
  const { rows } = await client.query<Record<string, unknown>>(
    `SELECT ${select.join(', ')} FROM rows_back ORDER BY r`,
  );
  const got = rows.map((row) => {
    const out: Record<string, Canonical> = {};
    for (const n of NAMES) {
      const v = row[n];
      const type = COLUMNS[n].replace('?', '');
      if (v === null) out[n] = null;
      else if (type === 'int64') out[n] = BigInt(v as string);
      else if (type === 'timestamp') out[n] = Number(v as string);
      else out[n] = v as Canonical;
    }
    return out;
  });
  // The text encoders write -0 as "0" (String(-0)): only Parquet keeps the sign of zero.
  const want = EXPECTED.map((row) => ({ ...row, d: Object.is(row.d, -0) ? 0 : row.d }));
  assert.deepStrictEqual(got, want);
});

test('doubles NaN and ±Infinity: Parquet bits, CSV and COPY text, JSON null', async () => {
  const cols = { d: 'double' } as const;
  const values = [NaN, Infinity, -Infinity];
  const rows = values.map((d) => ({ d }));
  const bytes = encodeRowsParquet(rows, cols, 'test');
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  assert.deepStrictEqual(
    (await parquetReadObjects({ file })).map((r) => r.d),
    values,
  );
  assert.equal(Buffer.from(encodeRowsCsv(rows, cols, 'test')).toString(), 'd\nNaN\nInfinity\n-Infinity\n');
  assert.equal(Buffer.from(encodeRowsCopyText(rows, cols, 'test')).toString(), 'NaN\nInfinity\n-Infinity\n');
  assert.equal(Buffer.from(encodeRowsJsonl(rows, cols, 'test')).toString(), '{"d":null}\n'.repeat(3));
});

const ENCODERS = {
  parquet: encodeRowsParquet,
  jsonl: encodeRowsJsonl,
  csv: encodeRowsCsv,
  copy: encodeRowsCopyText,
};

function jobOutputError(err: unknown): boolean {
  assert.ok(err instanceof ShardflowError, `not a ShardflowError: ${String(err)}`);
  assert.equal(err.code, 'E_JOB_OUTPUT');
  return true;
}

test('a null or absent value in a column not declared nullable is E_JOB_OUTPUT in every encoder', () => {
  for (const [kind, encode] of Object.entries(ENCODERS))
    for (const name of NAMES.filter((n) => !COLUMNS[n].endsWith('?'))) {
      const type = COLUMNS[name];
      const cols = { [name]: type } as OutputColumns;
      const fine = ROWS[0][name];
      assert.doesNotThrow(() => encode([{ [name]: fine }], cols, 'test'), `${kind} ${name}`);
      assert.throws(
        () => encode([{ [name]: fine }, { [name]: null }], cols, 'test'),
        jobOutputError,
        `${kind} ${name}`,
      );
      assert.throws(() => encode([{}], cols, 'test'), jobOutputError, `${kind} ${name} absent`);
      if (type !== 'double')
        assert.throws(() => encode([{ [name]: NaN }], cols, 'test'), jobOutputError, `${kind} ${name} NaN`);
    }
});

/** Values each type must refuse. */
const WRONG: Record<string, unknown[]> = {
  int64: [1.5, '12', 2 ** 53, -(2 ** 53), Infinity, true, 2n ** 63n, -(2n ** 63n) - 1n, 2n ** 64n, {}],
  double: ['1.5', 1n, true, {}],
  boolean: [1, 0, 'true', 'false', 't'],
  timestamp: ['2024-01-01', Infinity, -Infinity, new Date(NaN), true, 1n, 1e16, -1e16],
  date: ['not a date', '2024-02-30', '2023-02-29', '2024-13-01', '2024-1-1', '2024-01', Infinity, true, 1e16],
};

test('a value of the wrong type for its column is E_JOB_OUTPUT in every encoder', () => {
  for (const [kind, encode] of Object.entries(ENCODERS))
    for (const [type, values] of Object.entries(WRONG))
      for (const value of values) {
        const cols = { v: `${type}?` } as unknown as OutputColumns;
        const label = `${kind}: ${type} given ${typeof value === 'bigint' ? `${value}n` : String(value)}`;
        assert.throws(() => encode([{ v: value }], cols, 'test'), jobOutputError, label);
      }
});

test('a string column takes any value as its text; COPY refuses a NUL', () => {
  const cols = { v: 'string' } as const;
  assert.equal(
    Buffer.from(encodeRowsCsv([{ v: 12 }, { v: true }, { v: 5n }], cols, 't')).toString(),
    'v\n12\ntrue\n5\n',
  );
  assert.throws(() => encodeRowsCopyText([{ v: 'a\0b' }], cols, 't'), jobOutputError);
});
