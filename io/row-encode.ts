/**
 * Encodes a part's rows (plain objects, as a job's `finalize` returns them) for each file sink:
 * Parquet through the one writer (io/parquet-columns.ts), JSON Lines, and PostgreSQL's COPY text
 * format. Each output column has a declared type; a type ending in `?` is nullable, and a null in
 * a column that is not is a clear error naming the column (a job bug, not bad input).
 *
 * Values: `int64` a safe integer or a bigint; `double` a number; `timestamp` milliseconds since
 * 1970 (or a Date), written as microseconds, wall clock; `date` milliseconds (or a Date, or
 * `YYYY-MM-DD`), written as days; `string` any value's String().
 */

import { stringify } from 'csv-stringify/sync';
import { ShardflowError } from '../errors.js';
import { encodeParquetColumns, type ParquetColumn } from './parquet-columns.js';

/** An output column type. */
export type OutputType = 'string' | 'int64' | 'double' | 'boolean' | 'timestamp' | 'date';

/** An output's columns: name → type; a type ending in `?` is nullable. */
export type OutputColumns = Readonly<Record<string, OutputType | `${OutputType}?`>>;

interface Column {
  name: string;
  type: OutputType;
  nullable: boolean;
}

function columnsOf(columns: OutputColumns): Column[] {
  return Object.entries(columns).map(([name, t]) => ({
    name,
    type: t.replace('?', '') as OutputType,
    nullable: t.endsWith('?'),
  }));
}

const MS_PER_DAY = 86_400_000;
/** The range of a JS Date (±10^8 days): beyond it the text sinks cannot write a time at all. */
const MAX_MS = 8.64e15;

/** Milliseconds of a real `YYYY-MM-DD` day; NaN otherwise (Date.parse rolls 02-30 over to March). */
function dayTextMs(text: string): number {
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === text ? ms : NaN;
}

/** A cell as its typed value, or null; throws when the value does not fit the column. */
function cell(
  row: Record<string, unknown>,
  c: Column,
  where: string,
): number | bigint | string | boolean | null {
  const v = row[c.name];
  if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v) && c.type !== 'double')) {
    if (c.nullable) return null;
    throw new ShardflowError(
      'E_JOB_OUTPUT',
      `${where}: column "${c.name}" is null (or absent) but not declared nullable; declare it "${c.type}?" or give it a value`,
    );
  }
  const bad = (): never => {
    throw new ShardflowError(
      'E_JOB_OUTPUT',
      `${where}: column "${c.name}" (${c.type}) got ${JSON.stringify(String(v)).slice(0, 80)}`,
    );
  };
  switch (c.type) {
    case 'string':
      return typeof v === 'string' ? v : String(v);
    case 'int64':
      if (typeof v === 'bigint') return BigInt.asIntN(64, v) === v ? v : bad(); // else Parquet wraps it
      if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
      return bad();
    case 'double':
      return typeof v === 'number' ? v : bad();
    case 'boolean':
      return typeof v === 'boolean' ? v : bad();
    case 'timestamp': {
      const ms = v instanceof Date ? v.getTime() : v;
      return typeof ms === 'number' && Math.abs(ms) <= MAX_MS ? Math.trunc(ms) : bad();
    }
    case 'date': {
      const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? dayTextMs(v) : v;
      return typeof ms === 'number' && Math.abs(ms) <= MAX_MS ? Math.floor(ms / MS_PER_DAY) : bad();
    }
  }
}

/** The rows as one Parquet file (row groups of at most 131,072 rows). */
export function encodeRowsParquet(
  rows: readonly Record<string, unknown>[],
  columns: OutputColumns,
  where: string,
): Uint8Array {
  const n = rows.length;
  const out: ParquetColumn[] = columnsOf(columns).map((c) => {
    const nulls = c.nullable ? new Uint8Array(n) : undefined;
    const values = rows.map((r, i) => {
      const v = cell(r, c, `${where}, row ${i}`);
      if (v === null) nulls![i] = 1;
      return v;
    });
    const base = { name: c.name, ...(nulls ? { nulls } : {}) };
    switch (c.type) {
      case 'int64':
      case 'timestamp': {
        const words = new Uint32Array(2 * n);
        values.forEach((v, i) => {
          if (v === null) return;
          const big = BigInt.asUintN(
            64,
            c.type === 'timestamp' ? BigInt(v as number) * 1000n : BigInt(v as number | bigint),
          );
          words[2 * i] = Number(big & 0xffffffffn);
          words[2 * i + 1] = Number(big >> 32n);
        });
        return { ...base, kind: c.type, words, statistics: true };
      }
      case 'date':
        return {
          ...base,
          kind: 'date',
          days: Int32Array.from(values, (v) => (v === null ? 0 : (v as number))),
          statistics: true,
        };
      case 'double':
        return {
          ...base,
          kind: 'double',
          values: Float64Array.from(values, (v) => (v === null ? 0 : (v as number))),
        };
      case 'boolean':
        return { ...base, kind: 'boolean', values: Uint8Array.from(values, (v) => (v === true ? 1 : 0)) };
      case 'string': {
        const encoded = values.map((v) => Buffer.from(v === null ? '' : (v as string), 'utf8'));
        const offsets = new Int32Array(n + 1);
        encoded.forEach((b, i) => (offsets[i + 1] = offsets[i] + b.length));
        return { ...base, kind: 'string', offsets, bytes: Buffer.concat(encoded) };
      }
    }
  }) as ParquetColumn[];
  return encodeParquetColumns(n, out, 'shardflow', { rowGroupRows: 131_072 });
}

/** The rows as JSON Lines, keys in column order; int64 beyond 2^53 as JSON numbers' exact text. */
export function encodeRowsJsonl(
  rows: readonly Record<string, unknown>[],
  columns: OutputColumns,
  where: string,
): Uint8Array {
  const cols = columnsOf(columns);
  const lines = rows.map((r, i) => {
    const parts = cols.map((c) => {
      const v = cell(r, c, `${where}, row ${i}`);
      let text: string;
      if (v === null) text = 'null';
      else if (c.type === 'timestamp') text = JSON.stringify(new Date(v as number).toISOString());
      else if (c.type === 'date')
        text = JSON.stringify(new Date((v as number) * MS_PER_DAY).toISOString().slice(0, 10));
      else if (typeof v === 'bigint') text = v.toString();
      else if (c.type === 'double' && !Number.isFinite(v as number)) text = 'null';
      else text = JSON.stringify(v);
      return `${JSON.stringify(c.name)}:${text}`;
    });
    return `{${parts.join(',')}}\n`;
  });
  return Buffer.from(lines.join(''), 'utf8');
}

/** A cell as text (timestamps ISO 8601, dates YYYY-MM-DD), or null. */
function cellText(row: Record<string, unknown>, c: Column, where: string): string | null {
  const v = cell(row, c, where);
  if (v === null) return null;
  if (c.type === 'timestamp') return new Date(v as number).toISOString();
  if (c.type === 'date') return new Date((v as number) * MS_PER_DAY).toISOString().slice(0, 10);
  return String(v);
}

/** Column `name` of `row` as text, as a CSV field shows it (for folder names); null for null. */
export function columnText(
  row: Record<string, unknown>,
  columns: OutputColumns,
  name: string,
  where: string,
): string | null {
  const c = columnsOf(columns).find((col) => col.name === name);
  if (c === undefined) throw new ShardflowError('E_JOB_OUTPUT', `${where}: no column "${name}"`);
  return cellText(row, c, where);
}

/** The rows as CSV (RFC 4180, csv-stringify) with a header line; null is an empty field. */
export function encodeRowsCsv(
  rows: readonly Record<string, unknown>[],
  columns: OutputColumns,
  where: string,
): Uint8Array {
  const cols = columnsOf(columns);
  const records = rows.map((r, i) => cols.map((c) => cellText(r, c, `${where}, row ${i}`) ?? ''));
  return Buffer.from(
    stringify(records, { header: true, columns: cols.map((c) => c.name), eof: true }),
    'utf8',
  );
}

/** The rows in COPY's text format (tab-separated, `\N` for null), in column order. */
export function encodeRowsCopyText(
  rows: readonly Record<string, unknown>[],
  columns: OutputColumns,
  where: string,
): Uint8Array {
  const cols = columnsOf(columns);
  const lines = rows.map(
    (r, i) =>
      cols
        .map((c) => {
          const v = cell(r, c, `${where}, row ${i}`);
          if (v === null) return '\\N';
          if (c.type === 'timestamp')
            return new Date(v as number).toISOString().replace('T', ' ').replace('Z', '');
          if (c.type === 'date') return new Date((v as number) * MS_PER_DAY).toISOString().slice(0, 10);
          if (c.type === 'boolean') return v ? 't' : 'f';
          if (c.type === 'string') {
            if ((v as string).includes('\0'))
              throw new ShardflowError(
                'E_JOB_OUTPUT',
                `${where}, row ${i}: column "${c.name}" holds a NUL character, which PostgreSQL text cannot store`,
              );
            return (v as string).replace(/[\\\t\n\r]/g, (ch) =>
              ch === '\\' ? '\\\\' : ch === '\t' ? '\\t' : ch === '\n' ? '\\n' : '\\r',
            );
          }
          return String(v);
        })
        .join('\t') + '\n',
  );
  return Buffer.from(lines.join(''), 'utf8');
}

/** PostgreSQL column types for the output types. */
export const PG_TYPES: Readonly<Record<OutputType, string>> = Object.freeze({
  string: 'text',
  int64: 'bigint',
  double: 'double precision',
  boolean: 'boolean',
  timestamp: 'timestamp',
  date: 'date',
});

/** `[name, pgType, nullable]` per column, for CREATE TABLE. */
export function pgColumns(columns: OutputColumns): [string, string, boolean][] {
  return columnsOf(columns).map((c) => [c.name, PG_TYPES[c.type], c.nullable]);
}
