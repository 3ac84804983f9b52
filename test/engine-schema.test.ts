/**
 * engine/schema.ts: header names matched under each rule, a schema bound to a header (aliases,
 * extra and absent columns, a missing or doubled column stopped with its code), and field text or
 * JSON values turned into typed values or the reject reason. Timestamps are compared with
 * expectations computed here from Date.UTC, independently of the parser.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Schema } from '../engine/job-contract.js';
import {
  ENGINE_REASONS,
  bindSchema,
  convertJson,
  convertText,
  normalizeHeaderName,
  parseTimestamp,
} from '../engine/schema.js';
import { InputError } from '../errors.js';

const COMPOSED = 'Caf\u00e9 Name'; // é as one code point
const DECOMPOSED = 'Cafe\u0301 Name'; // e + combining acute accent

test('normalizeHeaderName: exact keeps the name as written', () => {
  for (const name of ['Order ID', ' x ', 'a_b', DECOMPOSED])
    assert.equal(normalizeHeaderName(name, 'exact'), name);
  assert.notEqual(normalizeHeaderName(COMPOSED, 'exact'), normalizeHeaderName(DECOMPOSED, 'exact'));
});

test('normalizeHeaderName: case-insensitive trims and lower-cases, in NFC', () => {
  assert.equal(normalizeHeaderName('  Order ID ', 'case-insensitive'), 'order id');
  assert.equal(normalizeHeaderName('Number of Employees', 'case-insensitive'), 'number of employees');
  assert.equal(normalizeHeaderName('Distance(m)', 'case-insensitive'), 'distance(m)');
  assert.equal(normalizeHeaderName(DECOMPOSED, 'case-insensitive'), 'caf\u00e9 name');
  assert.equal(
    normalizeHeaderName(DECOMPOSED, 'case-insensitive'),
    normalizeHeaderName(COMPOSED, 'case-insensitive'),
  );
});

test('normalizeHeaderName: normalized, the cases of the next job', () => {
  const cases: [string, string][] = [
    ['Order ID', 'order_id'],
    ['Distance(m)', 'distance_m'],
    ['Number of employees', 'number_of_employees'],
    ['Number of Employees', 'number_of_employees'],
    [' __Weird--Name__ ', 'weird_name'],
    ['already_snake_1', 'already_snake_1'],
    ['ID', 'id'],
    ['a  .  b', 'a_b'],
  ];
  for (const [raw, want] of cases) assert.equal(normalizeHeaderName(raw, 'normalized'), want, raw);
  // NFC first: without it the decomposed e would survive as "e" plus an "_" for the accent.
  assert.equal(normalizeHeaderName(DECOMPOSED, 'normalized'), normalizeHeaderName(COMPOSED, 'normalized'));
});

const ORDERS: Schema = {
  header: 'normalized',
  columns: {
    order_id: { type: 'integer', aliases: ['Order Number'] },
    customer: { aliases: ['client', 'Customer Name'] },
    amount: { type: 'number' },
    note: { required: false },
  },
};

test('bindSchema: columns found by name and alias under the rule, extra columns ignored', () => {
  const b = bindSchema(ORDERS, 'orders.csv', ['Extra', 'Amount', 'Order Number', 'CLIENT', 'Note', 'more']);
  assert.deepEqual(b.names, ['order_id', 'customer', 'amount', 'note']);
  assert.deepEqual(b.types, ['integer', 'string', 'number', 'string']);
  assert.deepEqual(b.required, [true, true, true, false]);
  assert.deepEqual([...b.fieldIndex], [2, 3, 1, 4]);
  assert.equal(b.rule, 'normalized');
  assert.ok(b.nulls.has('') && b.nulls.has('null') && b.nulls.has('NULL'));
  // Spellings (for JSON Lines keys) include names and aliases after the rule.
  assert.equal(b.spellings.get('order_number'), 0);
  assert.equal(b.spellings.get('customer_name'), 1);
  assert.equal(b.spellings.get('amount'), 2);
});

test('bindSchema: an optional column that is absent has fieldIndex -1', () => {
  const b = bindSchema(ORDERS, 'orders.csv', ['order_id', 'customer', 'amount']);
  assert.deepEqual([...b.fieldIndex], [0, 1, 2, -1]);
});

test('bindSchema: JSON Lines (no header) binds without checking columns', () => {
  const b = bindSchema(ORDERS, 'events.jsonl', null);
  assert.deepEqual([...b.fieldIndex], [-1, -1, -1, -1]);
  assert.equal(b.spellings.get('client'), 1);
});

test('bindSchema: the default rule is case-insensitive, and exact is exact', () => {
  const schema: Schema = { columns: { UserId: {} } };
  assert.deepEqual([...bindSchema(schema, 'f', [' userid ']).fieldIndex], [0]);
  const exact: Schema = { header: 'exact', columns: { UserId: {} } };
  assert.deepEqual([...bindSchema(exact, 'f', ['x', 'UserId']).fieldIndex], [1]);
  assert.throws(() => bindSchema(exact, 'orders.csv', ['userid']), inputError('E_MISSING_COLUMN'));
});

test('bindSchema: custom null strings', () => {
  const b = bindSchema({ columns: { a: {} }, nulls: ['-', 'n/a'] }, 'f', ['a']);
  assert.deepEqual([...b.nulls].sort(), ['-', 'n/a']);
});

function inputError(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof InputError, `not an InputError: ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.exitCode, 2);
    assert.equal(err.file, 'orders.csv');
    return true;
  };
}

test('bindSchema: a missing required column is E_MISSING_COLUMN, exit 2', () => {
  assert.throws(
    () => bindSchema(ORDERS, 'orders.csv', ['order_id', 'amount', 'note']),
    inputError('E_MISSING_COLUMN'),
  );
  assert.throws(() => bindSchema(ORDERS, 'orders.csv', []), inputError('E_MISSING_COLUMN'));
});

test('bindSchema: a header naming a column twice is E_AMBIGUOUS_HEADER', () => {
  const cases: [string, string[]][] = [
    ['the same name twice', ['order_id', 'customer', 'amount', 'customer']],
    ['a name and its alias', ['order_id', 'customer', 'amount', 'client']],
    ['two aliases of one column', ['order_id', 'client', 'amount', 'Customer Name']],
    ['only equal after normalisation', ['Order ID', 'order_id', 'customer', 'amount']],
    ['an optional column twice', ['order_id', 'customer', 'amount', 'note', 'NOTE']],
  ];
  for (const [label, header] of cases)
    assert.throws(() => bindSchema(ORDERS, 'orders.csv', header), inputError('E_AMBIGUOUS_HEADER'), label);
  // The same two spellings are fine under a rule that tells them apart.
  const exact: Schema = { header: 'exact', columns: { id: {}, ID: {} } };
  assert.deepEqual([...bindSchema(exact, 'orders.csv', ['ID', 'id']).fieldIndex], [1, 0]);
});

const reason = (r: string) => ({ reason: r });

test('convertText: string', () => {
  for (const s of ['', ' x ', 'ünïcode', '12']) assert.equal(convertText(s, 'string'), s);
});

test('convertText: integer, safe integers only', () => {
  const ok: [string, number][] = [
    ['0', 0],
    ['42', 42],
    ['-17', -17],
    ['+5', 5],
    ['007', 7],
    [String(2 ** 53 - 1), 2 ** 53 - 1],
    [String(-(2 ** 53 - 1)), -(2 ** 53 - 1)],
  ];
  for (const [text, want] of ok) assert.equal(convertText(text, 'integer'), want, text);
  const bad = [
    String(2 ** 53), // 9007199254740992: not safe
    '9007199254740993',
    '9999999999999999',
    '12345678901234567890',
    '-9007199254740992',
    '1.5',
    '1e3',
    '',
    ' 1',
    '1 ',
    '0x10',
    'abc',
    '--1',
    '+',
  ];
  for (const text of bad) assert.deepEqual(convertText(text, 'integer'), reason('bad_integer'), text);
});

test('convertText: number', () => {
  const ok: [string, number][] = [
    ['1e3', 1000],
    ['1E-2', 0.01],
    ['-2.5', -2.5],
    ['.5', 0.5],
    ['5.', 5],
    ['+0.25', 0.25],
    ['12345678901234567890', 1.2345678901234567e19],
  ];
  for (const [text, want] of ok) assert.equal(convertText(text, 'number'), want, text);
  const bad = ['NaN', 'Infinity', '-Infinity', 'inf', '1e400', '', '.', '1,5', '1.2.3', 'e5', '0x1p3', ' 1'];
  for (const text of bad) assert.deepEqual(convertText(text, 'number'), reason('bad_number'), text);
});

test('convertText: boolean', () => {
  for (const t of ['true', 'TRUE', 'True', '1']) assert.equal(convertText(t, 'boolean'), true, t);
  for (const t of ['false', 'FALSE', 'False', '0']) assert.equal(convertText(t, 'boolean'), false, t);
  for (const t of ['yes', 'no', 't', 'f', '', '2', ' true'])
    assert.deepEqual(convertText(t, 'boolean'), reason('bad_boolean'), t);
});

test('convertText: timestamp', () => {
  assert.equal(convertText('2024-03-01 12:00:00Z', 'timestamp'), Date.UTC(2024, 2, 1, 12));
  for (const t of ['2024-13-01', 'yesterday', '', '1700000000000'])
    assert.deepEqual(convertText(t, 'timestamp'), reason('bad_timestamp'), t);
});

test('convertJson: numbers', () => {
  assert.equal(convertJson(42, 'integer'), 42);
  assert.equal(convertJson(-0.5, 'number'), -0.5);
  assert.equal(convertJson(1e300, 'number'), 1e300);
  assert.equal(convertJson(42, 'string'), '42');
  assert.equal(convertJson(0.1, 'string'), '0.1');
  assert.deepEqual(convertJson(1.5, 'integer'), reason('bad_integer'));
  assert.deepEqual(convertJson(2 ** 53, 'integer'), reason('bad_integer'));
  assert.deepEqual(convertJson(1, 'boolean'), reason('bad_boolean'));
  assert.deepEqual(convertJson(1700000000000, 'timestamp'), reason('bad_timestamp'));
});

test('convertJson: strings are converted as text', () => {
  assert.equal(convertJson('42', 'integer'), 42);
  assert.equal(convertJson(' 42 ', 'integer'), 42);
  assert.equal(convertJson('1e3', 'number'), 1000);
  assert.equal(convertJson('true', 'boolean'), true);
  assert.equal(convertJson('2024-01-02T03:04:05Z', 'timestamp'), Date.UTC(2024, 0, 2, 3, 4, 5));
  assert.deepEqual(convertJson('4x', 'integer'), reason('bad_integer'));
  assert.deepEqual(convertJson('NaN', 'number'), reason('bad_number'));
  assert.deepEqual(convertJson('maybe', 'boolean'), reason('bad_boolean'));
});

test('convertJson: a string column keeps its value as written, spaces too (as CSV does)', () => {
  for (const s of ['abc', ' padded id ', '\tx', '', 'ünï'])
    assert.equal(convertJson(s, 'string'), s, JSON.stringify(s));
  // The same text through the CSV path keeps its spaces: a key must not depend on the format.
  assert.equal(convertJson(' u1 ', 'string'), convertText(' u1 ', 'string'));
});

test('convertJson: booleans, objects and arrays', () => {
  assert.equal(convertJson(true, 'boolean'), true);
  assert.equal(convertJson(false, 'boolean'), false);
  assert.equal(convertJson(true, 'string'), 'true');
  assert.deepEqual(convertJson(true, 'integer'), reason('bad_integer'));
  assert.deepEqual(convertJson(false, 'number'), reason('bad_number'));
  assert.deepEqual(convertJson(true, 'timestamp'), reason('bad_timestamp'));
  for (const v of [{ a: 1 }, [1, 2], []]) {
    assert.deepEqual(convertJson(v, 'string'), reason('bad_string'));
    assert.deepEqual(convertJson(v, 'integer'), reason('bad_integer'));
    assert.deepEqual(convertJson(v, 'number'), reason('bad_number'));
    assert.deepEqual(convertJson(v, 'boolean'), reason('bad_boolean'));
    assert.deepEqual(convertJson(v, 'timestamp'), reason('bad_timestamp'));
  }
});

/** Milliseconds of a UTC date and time, for any year (Date.UTC maps years 0–99 to 1900–1999). */
function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, ms);
  return t.getTime();
}

const MINUTE = 60_000;

test('parseTimestamp: the accepted forms', () => {
  const cases: [string, number][] = [
    ['2024-03-05', utc(2024, 3, 5)],
    ['2024-03-05 06:07', utc(2024, 3, 5, 6, 7)],
    ['2024-03-05T06:07', utc(2024, 3, 5, 6, 7)],
    ['2024-03-05 06:07:08', utc(2024, 3, 5, 6, 7, 8)],
    ['2024-03-05T06:07:08', utc(2024, 3, 5, 6, 7, 8)],
    ['2024-03-05T06:07:08.5', utc(2024, 3, 5, 6, 7, 8, 500)],
    ['2024-03-05T06:07:08.05', utc(2024, 3, 5, 6, 7, 8, 50)],
    ['2024-03-05T06:07:08.123', utc(2024, 3, 5, 6, 7, 8, 123)],
    ['2024-03-05T06:07:08.999999', utc(2024, 3, 5, 6, 7, 8, 999)],
    ['2024-03-05T06:07:08.123456789', utc(2024, 3, 5, 6, 7, 8, 123)],
    ['2024-03-05T06:07:08Z', utc(2024, 3, 5, 6, 7, 8)],
    ['2024-03-05T06:07:08.250Z', utc(2024, 3, 5, 6, 7, 8, 250)],
    ['2024-03-05T06:07Z', utc(2024, 3, 5, 6, 7)],
    ['2024-03-05T06:07:08+02:00', utc(2024, 3, 5, 6, 7, 8) - 120 * MINUTE],
    ['2024-03-05T06:07:08-05:30', utc(2024, 3, 5, 6, 7, 8) + 330 * MINUTE],
    ['2024-03-05T06:07:08+0245', utc(2024, 3, 5, 6, 7, 8) - 165 * MINUTE],
    ['2024-03-05T06:07:08-0100', utc(2024, 3, 5, 6, 7, 8) + 60 * MINUTE],
    ['2024-03-05 00:30+01:00', utc(2024, 3, 4, 23, 30)], // crosses the day back
    ['2024-02-29', utc(2024, 2, 29)],
    ['2000-02-29', utc(2000, 2, 29)], // divisible by 400: a leap year
    ['2024-12-31T23:59:59.999Z', utc(2024, 12, 31, 23, 59, 59, 999)],
    ['1969-12-31T23:59:59.5', -500],
    ['1900-01-01', utc(1900, 1, 1)],
    ['0001-01-01', -62135596800000], // the first day of year 1 (proleptic Gregorian)
    ['0001-01-01T00:00:00', utc(1, 1, 1)],
    ['0099-12-31', utc(99, 12, 31)],
    ['9999-12-31T23:59:59', utc(9999, 12, 31, 23, 59, 59)],
  ];
  for (const [text, want] of cases) assert.equal(parseTimestamp(text), want, text);
  assert.equal(utc(1, 1, 1), -62135596800000, 'the helper itself');
});

test('parseTimestamp: not a calendar date and time, or not the format', () => {
  const bad = [
    '2023-02-29', // not a leap year
    '1900-02-29', // divisible by 100, not by 400
    '2024-13-01',
    '2024-00-10',
    '2024-04-31',
    '2024-01-32',
    '2024-01-00',
    '2024-01-01 24:00',
    '2024-01-01 23:60',
    '2024-01-01 23:59:60',
    '2024-01-01T10:00:00+24:00',
    '2024-01-01T10:00:00+01:60',
    '2024-01-01T10:00:00+1',
    '2024-01-01T10',
    '2024-01-01T10:00.5', // a fraction needs seconds
    '2024-01-01T10:00:00.', // and digits
    '2024-01-01T10:00:00.1234567890',
    '2024-1-1',
    '24-01-01',
    '2024/01/01',
    ' 2024-01-01',
    '2024-01-01 ',
    '2024-01-01t10:00',
    '2024-01-01T10:00:00z',
    '',
    '1700000000',
  ];
  for (const text of bad) assert.equal(parseTimestamp(text), null, text);
});

test('parseTimestamp: every day of four years, against Date.UTC', () => {
  for (let day = 0; day < 4 * 366; day++) {
    const ms = Date.UTC(2023, 0, 1) + day * 86_400_000;
    const iso = new Date(ms).toISOString();
    assert.equal(parseTimestamp(iso.slice(0, 10)), ms, iso);
    assert.equal(
      parseTimestamp(`${iso.slice(0, 10)} 13:14:15.016+01:00`),
      ms + 12 * 3_600_000 + 14 * MINUTE + 15_016,
      iso,
    );
  }
});

test('every reason a conversion gives is one of ENGINE_REASONS (so the metrics list it from the start)', () => {
  const given = new Set<string>();
  const types = ['string', 'integer', 'number', 'timestamp', 'boolean'] as const;
  for (const type of types) {
    for (const text of ['x', '', '1.5', 'NaN']) {
      const v = convertText(text, type);
      if (typeof v === 'object') given.add(v.reason);
    }
    for (const value of ['x', 1.5, 2 ** 53, true, { a: 1 }, [1], null]) {
      const v = convertJson(value, type);
      if (typeof v === 'object') given.add(v.reason);
    }
  }
  assert.ok(given.size >= 5);
  for (const r of given) assert.ok((ENGINE_REASONS as readonly string[]).includes(r), r);
});
