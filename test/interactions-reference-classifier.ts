/**
 * A deliberately naive, independent implementation of the interactions job's row rules, used by
 * tests to judge generated files and peers without trusting the code under test. Handles only what
 * the rules need: comma splitting, surrounding spaces, a whole-field quote; no embedded commas.
 * Its input is the file read as latin1 (one character per byte), so it sees the bytes the encoding
 * rule judges; the platform's TextDecoder (fatal) judges them, not the job's own check.
 */

/** The seven reject reasons, in the order the rules apply them. */
export const REJECT_REASONS = [
  'malformed_row',
  'bad_encoding',
  'missing_field',
  'bad_integer',
  'zero_id',
  'bad_timestamp',
  'duplicate_id',
] as const;

/** One reject reason. */
export type RejectReason = (typeof REJECT_REASONS)[number];

/** The verdict on one non-empty data line. */
export interface ClassifiedRow {
  /** 1-based physical line number (the header is line 1). */
  line: number;
  /** The raw line as it is in the file. */
  raw: string;
  /** First reason that applies, or null for a valid row. */
  reason: RejectReason | null;
  /** Parsed fields of valid rows only. */
  interactionId?: bigint;
  userId?: bigint;
  productId?: bigint;
  /** `YYYY-MM-DD` of a valid row. */
  day?: string;
}

const COLUMNS = ['interaction_id', 'user_id', 'product_id', 'action', 'timestamp'] as const;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** True when a latin1 line's bytes hold a NUL or are not valid UTF-8. */
function badEncoding(latin1: string): boolean {
  if (latin1.includes('\0')) return true;
  try {
    fatalUtf8.decode(Buffer.from(latin1, 'latin1'));
    return false;
  } catch {
    return true;
  }
}

/**
 * Classifies every non-empty data line of one CSV file, given as latin1 text
 * (`readFile(path, 'latin1')`); `raw` is then that latin1 text of the line.
 */
export function classifyInteractionsCsv(text: string): ClassifiedRow[] {
  if (/[\u0100-\u{10ffff}]/u.test(text))
    throw new Error('classifyInteractionsCsv takes the file read as latin1');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const header = (lines[0] ?? '').split(',').map((h) => h.trim().toLowerCase());
  const index = COLUMNS.map((c) => header.indexOf(c));
  if (index.includes(-1)) throw new Error(`header lacks a column: ${lines[0]}`);
  const seen = new Set<bigint>();
  const out: ClassifiedRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i] as string;
    if (raw === '') continue;
    const row: ClassifiedRow = { line: i + 1, raw, reason: null };
    out.push(row);
    const fields = raw.split(',').map(unquote);
    if (fields.length !== header.length || fields.includes(undefined)) {
      row.reason = 'malformed_row';
      continue;
    }
    if (badEncoding(raw)) {
      row.reason = 'bad_encoding';
      continue;
    }
    const [id, user, product, action, ts] = index.map((k) => fields[k] as string) as [
      string,
      string,
      string,
      string,
      string,
    ];
    if ([id, user, product, action, ts].some((v) => v === '' || v === 'null' || v === 'NULL')) {
      row.reason = 'missing_field';
    } else if (![id, user, product].every((v) => /^[0-9]+$/.test(v) && BigInt(v) < 2n ** 63n)) {
      row.reason = 'bad_integer';
    } else if (BigInt(id) === 0n || BigInt(user) === 0n) {
      row.reason = 'zero_id';
    } else if (!isRealTimestamp(ts)) {
      row.reason = 'bad_timestamp';
    } else if (seen.has(BigInt(id))) {
      row.reason = 'duplicate_id';
    } else {
      seen.add(BigInt(id));
      Object.assign(row, {
        interactionId: BigInt(id),
        userId: BigInt(user),
        productId: BigInt(product),
        day: ts.slice(0, 10),
      });
    }
  }
  return out;
}

/** Trims spaces and strips a whole-field quote; undefined for an unterminated quote. */
function unquote(field: string): string | undefined {
  const t = field.replace(/^ +| +$/g, '');
  if (!t.startsWith('"')) return t;
  return t.length >= 2 && t.endsWith('"') ? t.slice(1, -1) : undefined;
}

function isRealTimestamp(ts: string): boolean {
  const m = TIMESTAMP.exec(ts);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return monthDays !== undefined && day >= 1 && day <= monthDays && hour < 24 && minute < 60 && second < 60;
}

/** Count of rows per reason, `valid` for valid rows. */
export function countReasons(rows: ClassifiedRow[]): Record<RejectReason | 'valid', number> {
  const counts = Object.fromEntries([...REJECT_REASONS, 'valid'].map((r) => [r, 0])) as Record<
    RejectReason | 'valid',
    number
  >;
  for (const r of rows) counts[r.reason ?? 'valid']++;
  return counts;
}
