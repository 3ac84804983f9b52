/**
 * A reference detector for the bank job (issue #11), written to be obviously right rather than
 * fast: it parses every chunk with its own CSV reader, keeps every stored row, and after each chunk
 * recomputes all three patterns from scratch over everything stored. Tests compare the job (and
 * bench/bank-peer.ts) against it.
 *
 * Rules it follows where the issue leaves a choice, the same ones jobs/bank-detect states:
 * - a field is trimmed, then (banksim) loses one pair of surrounding `'`, then is trimmed again;
 *   header names get the same treatment;
 * - a record is checked in this order: field count (`malformed_row`), every role field empty or
 *   `null`/`NULL`/`NaN` (`missing_field`), the value a finite decimal (`bad_number`: `12`, `-3.5`,
 *   `.5`, `1e3` pass; `Infinity`, `0x1F`, `1.2.3` do not);
 * - blank lines are not records; an importance row that breaks the same rules is skipped.
 *
 * Memory: every row of every chunk; for test-sized inputs only.
 */

export type BankPresetName = 'readme' | 'banksim';
export type PatternId = 'PatId1' | 'PatId2' | 'PatId3';

/** Which header column plays which role. */
export interface BankRoles {
  txn: { customer: string; merchant: string; value: string; gender: string; type: string };
  /** `merchant` set: a weight is per (customer, merchant) (banksim); else per customer. */
  importance: { customer: string; merchant?: string; weight: string };
  /** Strip one pair of surrounding `'` from every field (BankSim). */
  stripQuotes: boolean;
}

export const BANK_REFERENCE_PRESETS: Readonly<Record<BankPresetName, BankRoles>> = {
  readme: {
    txn: {
      customer: 'CustomerId',
      merchant: 'MerchantId',
      value: 'transaction_value',
      gender: 'gender',
      type: 'transaction_type',
    },
    importance: { customer: 'CustomerId', weight: 'weightage' },
    stripQuotes: false,
  },
  banksim: {
    txn: { customer: 'customer', merchant: 'merchant', value: 'amount', gender: 'gender', type: 'category' },
    importance: { customer: 'Source', merchant: 'Target', weight: 'Weight' },
    stripQuotes: true,
  },
};

/** The thresholds, by the names of the job's options (`--p1-min-merchant-tx` …). */
export interface BankThresholds {
  p1MinMerchantTx: number;
  p1CountPct: number;
  p1WeightPct: number;
  p2MinTx: number;
  /** A decimal: a number or its text (`'19.99'`). */
  p2MaxMean: number | string;
  p3MinFemale: number;
  p3FemalePct: number;
}

export const BANK_DEFAULT_THRESHOLDS: Readonly<BankThresholds> = Object.freeze({
  p1MinMerchantTx: 50_000,
  p1CountPct: 99,
  p1WeightPct: 20,
  p2MinTx: 80,
  p2MaxMean: 20,
  p3MinFemale: 1000,
  p3FemalePct: 10,
});

export interface BankDetection {
  /** 0, 1, 2 … in emission order. */
  seq: number;
  /** 0-based index of the chunk after which the key first matched. */
  chunk: number;
  patternId: PatternId;
  actionType: 'UPGRADE' | 'CHILD' | 'DEI-NEEDED';
  /** '' for PatId3. */
  customer: string;
  merchant: string;
  /** The type of the customer's latest stored row at the merchant; '' for PatId3. */
  transactionType: string;
}

export type DropReason = 'malformed_row' | 'missing_field' | 'bad_number';

export interface BankReferenceResult {
  detections: BankDetection[];
  /** Stored (valid) transactions. */
  stored: number;
  dropped: Record<DropReason, number>;
  /** Importance rows skipped by the same rules. */
  importanceSkipped: number;
}

const ACTIONS = { PatId1: 'UPGRADE', PatId2: 'CHILD', PatId3: 'DEI-NEEDED' } as const;

// ---- CSV ----------------------------------------------------------------------------------------

/** A record: its fields (quotes removed, `""` unescaped) and its raw text. */
export interface CsvRecordText {
  fields: string[];
  raw: string;
}

/**
 * RFC 4180 records of `text`: `,` between fields, `"` around a field (doubled inside), `\n` or
 * `\r\n` between records, newlines allowed inside quotes. A `"` elsewhere is an ordinary character.
 * Blank lines are skipped.
 */
export function parseCsv(text: string): CsvRecordText[] {
  const records: CsvRecordText[] = [];
  let i = 0;
  while (i < text.length) {
    const start = i;
    const fields: string[] = [];
    for (;;) {
      const [field, next] = readField(text, i);
      fields.push(field);
      i = next;
      if (text[i] !== ',') break;
      i++;
    }
    const end = i;
    i += text[i] === '\r' ? 2 : 1;
    if (end > start) records.push({ fields, raw: text.slice(start, end) });
  }
  return records;
}

/** The field that starts at `i`, and where it ends (at `,`, a line end or the text's end). */
function readField(text: string, i: number): [string, number] {
  let field = '';
  if (text[i] === '"') {
    // Quoted: up to the closing quote, `""` standing for one; what follows it is kept as is.
    i++;
    for (;;) {
      const q = text.indexOf('"', i);
      if (q < 0) return [field + text.slice(i), text.length];
      field += text.slice(i, q);
      i = q + 1;
      if (text[i] !== '"') break;
      field += '"';
      i++;
    }
  }
  const from = i;
  while (i < text.length) {
    const c = text[i];
    if (c === ',' || c === '\n' || (c === '\r' && text[i + 1] === '\n')) break;
    i++;
  }
  return [field + text.slice(from, i), i];
}

/** Cuts a transactions CSV into chunks of `rows` records, each with the header line. */
export function chunkTransactions(text: string, rows: number): { name: string; text: string }[] {
  if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError('rows must be a positive integer');
  const [header, ...records] = parseCsv(text);
  if (header === undefined) return [];
  const chunks: { name: string; text: string }[] = [];
  for (let first = 0; first < records.length; first += rows) {
    const body = records.slice(first, first + rows).map((r) => r.raw);
    chunks.push({
      name: `txn_batch_${String(first).padStart(10, '0')}.csv`,
      text: `${[header.raw, ...body].join('\n')}\n`,
    });
  }
  return chunks;
}

// ---- exact decimals -----------------------------------------------------------------------------

/** `m / 10^s`. */
interface Dec {
  m: bigint;
  s: number;
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/;

export function parseDec(text: string): Dec | undefined {
  const match = DECIMAL.exec(text);
  if (match === null) return undefined;
  const [, sign, int, frac = '', exp = '0'] = match;
  if (int === '' && frac === '') return undefined;
  let s = frac.length - Number(exp);
  let digits = int + frac;
  if (s < 0) {
    digits += '0'.repeat(-s);
    s = 0;
  }
  const m = BigInt(digits);
  return { m: sign === '-' ? -m : m, s };
}

const at = (d: Dec, s: number): bigint => d.m * 10n ** BigInt(s - d.s);
const addDec = (a: Dec, b: Dec): Dec => {
  const s = Math.max(a.s, b.s);
  return { m: at(a, s) + at(b, s), s };
};
/** Sign of `a/ka − b/kb`. */
function compareRatio(a: Dec, ka: number, b: Dec, kb: number): number {
  const s = Math.max(a.s, b.s);
  const x = at(a, s) * BigInt(kb);
  const y = at(b, s) * BigInt(ka);
  return x < y ? -1 : x > y ? 1 : 0;
}

// ---- reading rows -------------------------------------------------------------------------------

const NULLS = new Set(['', 'null', 'NULL', 'NaN']);

function cleaner(stripQuotes: boolean): (v: string) => string {
  return (v) => {
    const t = v.trim();
    if (stripQuotes && t.length >= 2 && t.startsWith("'") && t.endsWith("'")) return t.slice(1, -1).trim();
    return t;
  };
}

/** Each role's column index in `header`; a missing column throws. */
function roleIndex(header: string[], roles: Record<string, string | undefined>): [string, number][] {
  const named = Object.entries(roles).filter((e): e is [string, string] => e[1] !== undefined);
  return named.map(([role, name]) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`no column "${name}" for ${role} in ${header.join(',')}`);
    return [role, i];
  });
}

interface ReadRow {
  fields: Record<string, string>;
  number: Dec;
}

/** The role fields of each data record of `text`, or the reason it is dropped. */
function readRows(
  text: string,
  roles: Record<string, string | undefined>,
  numeric: string,
  stripQuotes: boolean,
): (ReadRow | DropReason)[] {
  const clean = cleaner(stripQuotes);
  const [header, ...records] = parseCsv(text);
  if (header === undefined) return [];
  const names = header.fields.map(clean);
  const index = roleIndex(names, roles);
  return records.map((r) => {
    if (r.fields.length !== names.length) return 'malformed_row';
    const fields: Record<string, string> = {};
    for (const [role, i] of index) fields[role] = clean(r.fields[i]);
    if (Object.values(fields).some((v) => NULLS.has(v))) return 'missing_field';
    const number = parseDec(fields[numeric]);
    return number === undefined ? 'bad_number' : { fields, number };
  });
}

interface Stored {
  customer: string;
  merchant: string;
  value: Dec;
  gender: 'F' | 'M' | '';
  type: string;
}

function genderOf(text: string): 'F' | 'M' | '' {
  const g = text.toLowerCase();
  return g === 'f' || g === 'female' ? 'F' : g === 'm' || g === 'male' ? 'M' : '';
}

/** Sum and row count of the weights, by customer (readme) or customer + NUL + merchant (banksim). */
function readWeights(text: string, roles: BankRoles): { weights: Map<string, Weight>; skipped: number } {
  const weights = new Map<string, Weight>();
  let skipped = 0;
  for (const row of readRows(text, roles.importance, 'weight', roles.stripQuotes)) {
    if (typeof row === 'string') {
      skipped++;
      continue;
    }
    const { customer, merchant } = row.fields;
    const key = roles.importance.merchant === undefined ? customer : `${customer}\0${merchant}`;
    const w = weights.get(key);
    if (w === undefined) weights.set(key, { sum: row.number, k: 1 });
    else weights.set(key, { sum: addDec(w.sum, row.number), k: w.k + 1 });
  }
  return { weights, skipped };
}

interface Weight {
  sum: Dec;
  k: number;
}

// ---- patterns -----------------------------------------------------------------------------------

/** The 1-based rank of the p-th percentile of n sorted values: max(1, ⌈p·n/100⌉). */
export function percentileRank(p: number, n: number): number {
  return Math.max(1, Math.floor((p * n + 99) / 100));
}

/** What one merchant's stored rows say about one customer. */
interface Pair {
  n: number;
  sum: Dec;
  type: string;
  female: boolean;
  male: boolean;
}

/** Per merchant, per customer, from every stored row in order (so `type` is the latest). */
function aggregate(stored: Stored[]): Map<string, Map<string, Pair>> {
  const merchants = new Map<string, Map<string, Pair>>();
  for (const r of stored) {
    let customers = merchants.get(r.merchant);
    if (customers === undefined) merchants.set(r.merchant, (customers = new Map()));
    const p = customers.get(r.customer);
    if (p === undefined) {
      const sum = { ...r.value };
      customers.set(r.customer, {
        n: 1,
        sum,
        type: r.type,
        female: r.gender === 'F',
        male: r.gender === 'M',
      });
      continue;
    }
    p.n++;
    // In place when the scales agree (the pair owns its sum): fewer objects for the collector.
    if (p.sum.s === r.value.s) p.sum.m += r.value.m;
    else p.sum = addDec(p.sum, r.value);
    p.type = r.type;
    p.female ||= r.gender === 'F';
    p.male ||= r.gender === 'M';
  }
  return merchants;
}

type Match = { patternId: PatternId; merchant: string; customer: string; transactionType: string };

/** PatId1 at one merchant: n ≥ P(count pct) of the counts and W ≤ P(weight pct) of the weights. */
function upgrades(
  merchant: string,
  customers: Map<string, Pair>,
  weightOf: (customer: string) => Weight | undefined,
  t: BankThresholds,
): Match[] {
  let tx = 0;
  for (const p of customers.values()) tx += p.n;
  if (tx <= t.p1MinMerchantTx) return [];
  const counts = [...customers.values()].map((p) => p.n).sort((a, b) => a - b);
  const minCount = counts[percentileRank(t.p1CountPct, counts.length) - 1];
  const weights = [...customers.keys()].map(weightOf).filter((w): w is Weight => w !== undefined);
  if (weights.length === 0) return [];
  weights.sort((a, b) => compareRatio(a.sum, a.k, b.sum, b.k));
  const s = weights[percentileRank(t.p1WeightPct, weights.length) - 1];
  const out: Match[] = [];
  for (const [customer, p] of customers) {
    const w = weightOf(customer);
    if (p.n >= minCount && w !== undefined && compareRatio(w.sum, w.k, s.sum, s.k) <= 0)
      out.push({ patternId: 'PatId1', merchant, customer, transactionType: p.type });
  }
  return out;
}

/** Every key that matches over `stored` now. */
function matches(
  stored: Stored[],
  weights: Map<string, Weight>,
  roles: BankRoles,
  t: BankThresholds,
): Match[] {
  const maxMean = parseDec(String(t.p2MaxMean));
  if (maxMean === undefined) throw new RangeError(`p2MaxMean must be a decimal, got ${t.p2MaxMean}`);
  const out: Match[] = [];
  for (const [merchant, customers] of aggregate(stored)) {
    const perMerchant = roles.importance.merchant !== undefined;
    out.push(...upgrades(merchant, customers, (c) => weights.get(perMerchant ? `${c}\0${merchant}` : c), t));
    let female = 0;
    let male = 0;
    for (const [customer, p] of customers) {
      if (p.female) female++;
      if (p.male) male++;
      // sum < maxMean · n, exactly.
      if (p.n >= t.p2MinTx && compareRatio(p.sum, 1, { m: maxMean.m * BigInt(p.n), s: maxMean.s }, 1) < 0)
        out.push({ patternId: 'PatId2', merchant, customer, transactionType: p.type });
    }
    if (female >= t.p3MinFemale && 100 * female < t.p3FemalePct * male)
      out.push({ patternId: 'PatId3', merchant, customer: '', transactionType: '' });
  }
  return out;
}

const bytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
const byKey = (a: Match, b: Match): number =>
  a.patternId.localeCompare(b.patternId) || bytes(a.merchant, b.merchant) || bytes(a.customer, b.customer);

function checkThresholds(t: BankThresholds): void {
  for (const [name, v] of Object.entries(t))
    if (name !== 'p2MaxMean' && (!Number.isSafeInteger(v) || (v as number) < 0))
      throw new RangeError(`${name} must be a whole number, got ${String(v)}`);
}

/**
 * Runs the detector over `chunks` (CSV texts, in processing order) with the weights of
 * `importance`: after each chunk, every key that matches and was not emitted before is emitted.
 */
export function referenceDetect(input: {
  preset: BankPresetName | BankRoles;
  importance: string;
  chunks: string[];
  thresholds?: Partial<BankThresholds>;
}): BankReferenceResult {
  const roles = typeof input.preset === 'string' ? BANK_REFERENCE_PRESETS[input.preset] : input.preset;
  const t = { ...BANK_DEFAULT_THRESHOLDS, ...input.thresholds };
  checkThresholds(t);
  const { weights, skipped } = readWeights(input.importance, roles);
  const stored: Stored[] = [];
  const dropped: Record<DropReason, number> = { malformed_row: 0, missing_field: 0, bad_number: 0 };
  const emitted = new Set<string>();
  const detections: BankDetection[] = [];
  input.chunks.forEach((text, chunk) => {
    for (const row of readRows(text, roles.txn, 'value', roles.stripQuotes)) {
      if (typeof row === 'string') dropped[row]++;
      else
        stored.push({
          customer: row.fields.customer,
          merchant: row.fields.merchant,
          value: row.number,
          gender: genderOf(row.fields.gender),
          type: row.fields.type,
        });
    }
    for (const m of matches(stored, weights, roles, t).sort(byKey)) {
      const key = `${m.patternId}\0${m.merchant}\0${m.customer}`;
      if (emitted.has(key)) continue;
      emitted.add(key);
      const { patternId, merchant, customer, transactionType } = m;
      const actionType = ACTIONS[patternId];
      detections.push({
        seq: detections.length,
        chunk,
        patternId,
        actionType,
        customer,
        merchant,
        transactionType,
      });
    }
  });
  return { detections, stored: stored.length, dropped, importanceSkipped: skipped };
}
