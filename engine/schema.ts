/**
 * Binds an input's schema to what a file actually has: header names matched by the schema's rule
 * (with aliases), a missing required column or an ambiguous header stopped with one line naming
 * the file, and each field's text turned into its column's type or a reject reason.
 */

import { InputError } from '../errors.js';
import type { ColumnType, HeaderRule, JobRecord, Schema } from './job-contract.js';

/** Reasons the engine itself gives, before a job's own `map` sees a record. */
export const ENGINE_REASONS = Object.freeze([
  'malformed_row',
  'bad_encoding',
  'bad_json',
  'not_an_object',
  'line_too_long',
  'ambiguous_field',
  'missing_field',
  'bad_integer',
  'bad_number',
  'bad_timestamp',
  'bad_boolean',
  'bad_string',
] as const);

/** The schema as bound to one file (or, for JSON Lines, to the schema's own names). */
export interface BoundSchema {
  /** Column names in declaration order. */
  readonly names: readonly string[];
  readonly types: readonly ColumnType[];
  readonly required: readonly boolean[];
  /** For CSV: the field index of each column in the file, -1 when an optional column is absent. */
  readonly fieldIndex: Int32Array;
  /** Every accepted spelling (after the header rule) → column index: for JSON Lines keys. */
  readonly spellings: ReadonlyMap<string, number>;
  readonly nulls: ReadonlySet<string>;
  readonly rule: HeaderRule;
}

/** A header name under `rule` (see {@link HeaderRule}). */
export function normalizeHeaderName(name: string, rule: HeaderRule): string {
  if (rule === 'exact') return name;
  const trimmed = name.normalize('NFC').trim();
  if (rule === 'case-insensitive') return trimmed.toLowerCase();
  return trimmed
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** Binds `schema` to a header (`header` null for JSON Lines, whose keys are matched per record). */
export function bindSchema(schema: Schema, file: string, header: readonly string[] | null): BoundSchema {
  const rule = schema.header ?? 'case-insensitive';
  const names = Object.keys(schema.columns);
  const specs = names.map((n) => schema.columns[n]);
  const spellings = new Map<string, number>();
  names.forEach((name, c) => {
    for (const s of [name, ...(specs[c].aliases ?? [])]) spellings.set(normalizeHeaderName(s, rule), c);
  });
  const fieldIndex = new Int32Array(names.length).fill(-1);
  if (header !== null) {
    const seenAt = new Map<number, number>();
    header.forEach((raw, i) => {
      const c = spellings.get(normalizeHeaderName(raw, rule));
      if (c === undefined) return; // an extra column: ignored
      const first = seenAt.get(c);
      if (first !== undefined) {
        throw new InputError(
          'E_AMBIGUOUS_HEADER',
          `${file}: the header names column "${names[c]}" twice ("${header[first]}" at field ${first + 1} and "${raw}" at field ${i + 1}); keep one`,
          { file },
        );
      }
      seenAt.set(c, i);
      fieldIndex[c] = i;
    });
    names.forEach((name, c) => {
      if (fieldIndex[c] < 0 && specs[c].required !== false) {
        throw new InputError(
          'E_MISSING_COLUMN',
          `${file}: missing required column "${name}" (header has: ${header.join(', ')})`,
          { file },
        );
      }
    });
  }
  return Object.freeze({
    names,
    types: specs.map((s) => s.type ?? 'string'),
    required: specs.map((s) => s.required !== false),
    fieldIndex,
    spellings,
    nulls: new Set(schema.nulls ?? ['', 'null', 'NULL']),
    rule,
  });
}

/** A typed value, or a reject reason as `{ reason }`. */
export type Converted = string | number | boolean | { reason: string };

const INTEGER = /^[+-]?\d{1,16}$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Text → the column's type; the reason when it does not parse. */
export function convertText(text: string, type: ColumnType): Converted {
  switch (type) {
    case 'string':
      return text;
    case 'integer': {
      if (!INTEGER.test(text)) return { reason: 'bad_integer' };
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : { reason: 'bad_integer' };
    }
    case 'number': {
      if (!NUMBER.test(text)) return { reason: 'bad_number' };
      const n = Number(text);
      return Number.isFinite(n) ? n : { reason: 'bad_number' };
    }
    case 'timestamp': {
      const ms = parseTimestamp(text);
      return ms === null ? { reason: 'bad_timestamp' } : ms;
    }
    case 'boolean': {
      const t = text.toLowerCase();
      if (t === 'true' || t === '1') return true;
      if (t === 'false' || t === '0') return false;
      return { reason: 'bad_boolean' };
    }
  }
}

/** A JSON value → the column's type (numbers and strings are accepted for each other). */
export function convertJson(value: unknown, type: ColumnType): Converted {
  // A string column keeps the value as written (as CSV does): a key must not depend on the format.
  if (typeof value === 'string') return type === 'string' ? value : convertText(value.trim(), type);
  if (typeof value === 'number') {
    if (type === 'string') return String(value);
    if (type === 'integer') return Number.isSafeInteger(value) ? value : { reason: 'bad_integer' };
    if (type === 'number') return value;
    return { reason: `bad_${type}` };
  }
  if (typeof value === 'boolean') {
    if (type === 'boolean') return value;
    if (type === 'string') return String(value);
  }
  return { reason: type === 'string' ? 'bad_string' : `bad_${type}` };
}

/**
 * `YYYY-MM-DD`, optionally with ` hh:mm`, `:ss`, `.fraction` (T or space), and `Z` or `±hh:mm`,
 * as milliseconds since 1970 (a time without a zone is read as UTC); null when it is not a real
 * calendar date and time.
 */
export function parseTimestamp(text: string): number | null {
  const m = TIMESTAMP.exec(text);
  if (m === null) return null;
  const [y, mo, d, h = 0, mi = 0, s = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) =>
    v === undefined ? undefined : Number(v),
  ) as number[];
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) return null;
  let ms = Date.UTC(y, mo - 1, d, h, mi, s);
  if (y < 100) ms = new Date(ms).setUTCFullYear(y);
  if (m[7] !== undefined) ms += Math.floor(Number(`0.${m[7]}`) * 1000);
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const zh = Number(digits.slice(0, 2));
    const zm = Number(digits.slice(2));
    if (zh > 23 || zm > 59) return null;
    ms -= sign * (zh * 60 + zm) * 60_000;
  }
  return ms;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** A record with every column null: the start of each record's object. */
export function emptyRecord(bound: BoundSchema): JobRecord {
  const out: JobRecord = {};
  for (const n of bound.names) out[n] = null;
  return out;
}
