import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  INTERACTION_COLUMNS,
  REJECT_REASONS,
  daysFromCivil,
  isMissing,
  parseInt64,
  parseTimestamp,
} from '../jobs/interactions/rules.js';

// Each value is parsed from the middle of a larger buffer, so the [s, e) bounds are honoured.
function embed(text: string): { buf: Buffer; s: number; e: number } {
  const buf = Buffer.from(`9;${text};9`, 'utf8');
  return { buf, s: 2, e: buf.length - 2 };
}

/** The parsed int64 as a bigint, or null when parseInt64 refuses it. */
function int64(text: string): bigint | null {
  const { buf, s, e } = embed(text);
  const out = new Uint32Array([0xdead, 0xbeef, 0xdead, 0xbeef]);
  if (!parseInt64(buf, s, e, out, 1)) return null;
  assert.equal(out[0], 0xdead, 'writes nothing before `at`');
  assert.equal(out[3], 0xbeef, 'writes nothing after `at + 1`');
  return (BigInt(out[2]) << 32n) | BigInt(out[1]);
}

function timestamp(text: string): number {
  const { buf, s, e } = embed(text);
  return parseTimestamp(buf, s, e);
}

/** Seconds since 1970 of a wall-clock reading, by the platform's proleptic Gregorian calendar. */
function utcSeconds(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const date = new Date(Date.UTC(2000, mo - 1, d, h, mi, s));
  date.setUTCFullYear(y, mo - 1, d); // years 0–99 are not shifted to 19xx this way
  return date.getTime() / 1000;
}

test('the reasons and columns, in the order of the rules', () => {
  assert.deepEqual(
    [...REJECT_REASONS],
    [
      'malformed_row',
      'bad_encoding',
      'missing_field',
      'bad_integer',
      'zero_id',
      'bad_timestamp',
      'duplicate_id',
    ],
  );
  assert.deepEqual(
    [...INTERACTION_COLUMNS],
    ['interaction_id', 'user_id', 'product_id', 'action', 'timestamp'],
  );
});

test('parseInt64 accepts plain non-negative base-10 integers below 2^63, exactly', () => {
  const ok: [string, bigint][] = [
    ['0', 0n],
    ['007', 7n],
    ['00000000000000000000000000000042', 42n],
    ['0000000000000000000000', 0n],
    ['1', 1n],
    ['999999999999999', 999999999999999n],
    ['1000000000000000', 1000000000000000n],
    ['4294967295', 4294967295n],
    ['4294967296', 4294967296n],
    ['9007199254740992', 2n ** 53n],
    ['9007199254740993', 2n ** 53n + 1n],
    ['9223372036854775807', 2n ** 63n - 1n],
    ['09223372036854775807', 2n ** 63n - 1n],
  ];
  for (const [text, expected] of ok) assert.equal(int64(text), expected, text);
});

test('parseInt64: 2^53 + 1 lands in exact (lo, hi) words', () => {
  const { buf, s, e } = embed('9007199254740993');
  const out = new Uint32Array(2);
  assert.equal(parseInt64(buf, s, e, out, 0), true);
  assert.deepEqual([...out], [1, 0x200000]);
  const max = embed('9223372036854775807');
  assert.equal(parseInt64(max.buf, max.s, max.e, out, 0), true);
  assert.deepEqual([...out], [0xffffffff, 0x7fffffff]);
});

test('parseInt64 refuses everything else', () => {
  const bad = [
    '',
    '9223372036854775808',
    '18446744073709551615',
    '99999999999999999999',
    '100000000000000000000',
    '-1',
    '-0',
    '+1',
    '1.0',
    '1.',
    '1e3',
    '0x10',
    '1_000',
    '1,000',
    '12a',
    'a12',
    ' 1',
    '1 ',
    '１', // a full-width digit
    '٣', // an Arabic-Indic digit
    'null',
  ];
  for (const text of bad) assert.equal(int64(text), null, JSON.stringify(text));
});

test('parseInt64 agrees with BigInt on random values of every length', () => {
  let x = 0x2545f4914f6cdd1dn;
  for (let i = 0; i < 5000; i++) {
    x ^= (x << 13n) & 0xffffffffffffffffn;
    x ^= x >> 7n;
    x ^= (x << 17n) & 0xffffffffffffffffn;
    const v = (x & 0x7fffffffffffffffn) >> BigInt(i % 63);
    assert.equal(int64(String(v)), v);
  }
});

test('parseTimestamp accepts exactly YYYY-MM-DD hh:mm:ss of a real date and time', () => {
  const ok: [string, number][] = [
    ['1970-01-01 00:00:00', 0],
    ['1969-12-31 23:59:59', -1],
    ['2024-02-29 12:34:56', Date.UTC(2024, 1, 29, 12, 34, 56) / 1000],
    ['2000-02-29 00:00:00', Date.UTC(2000, 1, 29) / 1000],
    ['2023-12-31 23:59:59', Date.UTC(2023, 11, 31, 23, 59, 59) / 1000],
    ['0001-01-01 00:00:00', utcSeconds(1, 1, 1, 0, 0, 0)],
    ['9999-12-31 23:59:59', utcSeconds(9999, 12, 31, 23, 59, 59)],
  ];
  for (const [text, seconds] of ok) assert.equal(timestamp(text), seconds, text);
});

test('parseTimestamp refuses impossible dates and other shapes', () => {
  const bad = [
    '2023-02-29 00:00:00', // not a leap year
    '1900-02-29 00:00:00', // divisible by 100, not by 400
    '2100-02-29 00:00:00',
    '2024-02-30 00:00:00',
    '2024-04-31 00:00:00',
    '2024-00-10 00:00:00',
    '2024-13-01 00:00:00',
    '2024-01-00 00:00:00',
    '2024-01-32 00:00:00',
    '0000-01-01 00:00:00', // there is no year 0
    '2024-01-01 24:00:00',
    '2024-01-01 23:60:00',
    '2024-01-01 23:59:60', // no leap seconds
    '2024-01-01T00:00:00',
    '2024-01-01 00:00:00Z',
    '2024-01-01 00:00:00.000',
    '2024-01-01 00:00:00+00:00',
    '2024-01-01  0:00:00',
    '2024-1-01 00:00:00',
    '2024/01/01 00:00:00',
    '2024-01-01 00-00-00',
    '2024-01-01 00:00:0a',
    '+024-01-01 00:00:00',
    '2024-01-01 00:00',
    '2024-01-01',
    '2024-01-01 ',
    '',
    '20240101 000000000',
  ];
  for (const text of bad) assert.ok(Number.isNaN(timestamp(text)), JSON.stringify(text));
});

test('parseTimestamp agrees with the platform calendar on every day of 400 years', () => {
  // One full Gregorian cycle covers every leap-year rule; add the days around it.
  const start = utcSeconds(1899, 12, 25, 0, 0, 0) * 1000;
  for (let day = 0; day < 146097 + 20; day++) {
    const d = new Date(start + day * 86_400_000);
    const text = `${String(d.getUTCFullYear()).padStart(4, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')} 13:07:59`;
    assert.equal(timestamp(text), d.getTime() / 1000 + 13 * 3600 + 7 * 60 + 59, text);
  }
});

test('parseTimestamp refuses the day after the last of each month, for every month of 400 years', () => {
  for (let y = 1900; y < 2300; y++) {
    for (let m = 1; m <= 12; m++) {
      const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
      const mm = String(m).padStart(2, '0');
      assert.ok(!Number.isNaN(timestamp(`${y}-${mm}-${last} 00:00:00`)), `${y}-${mm}-${last}`);
      if (last < 31)
        assert.ok(Number.isNaN(timestamp(`${y}-${mm}-${last + 1} 00:00:00`)), `${y}-${mm}-${last + 1}`);
    }
  }
});

test('daysFromCivil counts days from 1970-01-01', () => {
  assert.equal(daysFromCivil(1970, 1, 1), 0);
  assert.equal(daysFromCivil(1969, 12, 31), -1);
  assert.equal(daysFromCivil(2000, 3, 1), 11017);
  assert.equal(daysFromCivil(1, 1, 1), -719162);
});

test('isMissing: empty, null and NULL only', () => {
  const missing = ['', 'null', 'NULL'];
  const present = ['Null', 'nULL', 'nul', 'nulll', 'none', 'NaN', '0', ' ', '"null"', 'NULLS', 'nil'];
  for (const text of missing) {
    const { buf, s, e } = embed(text);
    assert.equal(isMissing(buf, s, e), true, JSON.stringify(text));
  }
  for (const text of present) {
    const { buf, s, e } = embed(text);
    assert.equal(isMissing(buf, s, e), false, JSON.stringify(text));
  }
});
