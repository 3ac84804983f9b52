/**
 * The interactions job's field rules, on raw bytes (no per-field strings). Reasons are applied in
 * this order; a row gets the first that applies. A row's encoding is checked before its fields
 * (`bad_encoding`: a NUL byte or invalid UTF-8 anywhere in the row, see io/utf8-check.ts), so no
 * field rule ever sees bytes that would be loaded as anything but themselves.
 */

/** Reject reasons, in the order they are checked. */
export const REJECT_REASONS = [
  'malformed_row',
  'bad_encoding',
  'missing_field',
  'bad_integer',
  'zero_id',
  'bad_timestamp',
  'duplicate_id',
] as const;

export type RejectReason = (typeof REJECT_REASONS)[number];

export const MALFORMED_ROW = 0;
export const BAD_ENCODING = 1;
export const MISSING_FIELD = 2;
export const BAD_INTEGER = 3;
export const ZERO_ID = 4;
export const BAD_TIMESTAMP = 5;
export const DUPLICATE_ID = 6;

/** The five required columns, in the order the job keeps them. */
export const INTERACTION_COLUMNS = [
  'interaction_id',
  'user_id',
  'product_id',
  'action',
  'timestamp',
] as const;

/** True for an empty field or the literal `null` / `NULL`. */
export function isMissing(buf: Uint8Array, s: number, e: number): boolean {
  const len = e - s;
  if (len === 0) return true;
  if (len !== 4) return false;
  const a = buf[s];
  if (a === 0x6e) return buf[s + 1] === 0x75 && buf[s + 2] === 0x6c && buf[s + 3] === 0x6c; // null
  if (a === 0x4e) return buf[s + 1] === 0x55 && buf[s + 2] === 0x4c && buf[s + 3] === 0x4c; // NULL
  return false;
}

const TWO_32 = 4294967296;

/**
 * Parses a plain non-negative base-10 integer below 2^63 into `out[at]` (low word) and
 * `out[at + 1]` (high word). Returns false when the bytes are not such an integer.
 */
export function parseInt64(buf: Uint8Array, s: number, e: number, out: Uint32Array, at: number): boolean {
  if (s >= e) return false;
  while (s < e - 1 && buf[s] === 0x30) s++; // leading zeros do not change the value
  const len = e - s;
  if (len <= 15) {
    let v = 0;
    for (let i = s; i < e; i++) {
      const d = buf[i] - 0x30;
      if (d < 0 || d > 9) return false;
      v = v * 10 + d;
    }
    out[at] = v >>> 0;
    out[at + 1] = Math.floor(v / TWO_32);
    return true;
  }
  if (len > 19) return false;
  let v = 0n;
  for (let i = s; i < e; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return false;
    v = v * 10n + BigInt(d);
  }
  if (v >= 1n << 63n) return false;
  out[at] = Number(v & 0xffffffffn);
  out[at + 1] = Number(v >> 32n);
  return true;
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits2(buf: Uint8Array, i: number): number {
  const a = buf[i] - 0x30;
  const b = buf[i + 1] - 0x30;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

/** -daysFromCivil(1, 1, 1): the day number of any valid timestamp (years 0001–9999) plus this is ≥ 0. */
export const DAY_BIAS = 719162;

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Parses exactly `YYYY-MM-DD hh:mm:ss` as a real calendar date and time (years 0001–9999) and
 * returns seconds since 1970-01-01 00:00:00 of that wall-clock reading, or NaN.
 */
export function parseTimestamp(buf: Uint8Array, s: number, e: number): number {
  if (e - s !== 19) return NaN;
  if (buf[s + 4] !== 0x2d || buf[s + 7] !== 0x2d || buf[s + 10] !== 0x20) return NaN;
  if (buf[s + 13] !== 0x3a || buf[s + 16] !== 0x3a) return NaN;
  const y1 = digits2(buf, s);
  const y2 = digits2(buf, s + 2);
  const mo = digits2(buf, s + 5);
  const d = digits2(buf, s + 8);
  const h = digits2(buf, s + 11);
  const mi = digits2(buf, s + 14);
  const se = digits2(buf, s + 17);
  if ((y1 | y2 | mo | d | h | mi | se) < 0) return NaN;
  const y = y1 * 100 + y2;
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return NaN;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const dim = mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo];
  if (d > dim) return NaN;
  return daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
}
