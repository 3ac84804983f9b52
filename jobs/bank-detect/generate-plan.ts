/**
 * The planted rows of the bank generator (generate.ts explains what each kind is for): the PatId2
 * pairs and the two PatId3 merchants, in the order they must appear, and the sizes checked against
 * the options. Merchants: 0 and 1 big, 2 DEI-NEEDED, 3 its near miss, 4 … the small ones.
 */

export interface Planted {
  /** PatId2 pairs that match: 80–120 values of 1.00–19.50. */
  child: number;
  /** PatId2 pairs that match at the edge: 80 values of mean 19.99. */
  edge: number;
  /** PatId2 pairs that must not match: 80 values of mean exactly 20.00. */
  mean20: number;
  /** PatId2 pairs that must not match at the default 80: 79 small values. */
  short: number;
  /** Distinct male, female and E/U customers at the DEI merchant (merchant 2). */
  deiMale: number;
  deiFemale: number;
  deiNeither: number;
  /** Female customers at the near miss (merchant 3): ⌈deiMale/10⌉, so 10·F ≥ M. */
  nearDeiFemale: number;
  /** Generic rows, of which about 24% go to each big merchant. */
  genericRows: number;
  /** How many times each pattern fires at the default thresholds; PatId1 is not planted. */
  expectedAtDefaults: { PatId2: number; PatId3: number };
}

export interface BankPlan {
  transactions: number;
  customers: number;
  merchants: number;
  /** Generic customers: 0 … generic-1; the rest are the PatId2 customers, one pair each. */
  generic: number;
  badEach: number;
  /** Planted rows in order: customer index, merchant index, value in cents (-1: a generic value). */
  rows: number;
  customer: Int32Array;
  merchant: Int32Array;
  cents: Int32Array;
  planted: Planted;
}

/** The gender of generic customer `i`: 2% E or U, else alternately F and M. */
export function customerGender(i: number): string {
  const r = i % 100;
  if (r === 7) return 'E';
  if (r === 57) return 'U';
  return i % 2 === 0 ? 'F' : 'M';
}

const positive = (name: string, v: number, min: number): void => {
  if (!Number.isSafeInteger(v) || v < min)
    throw new RangeError(`options.${name} must be a whole number of at least ${min}, got ${v}`);
};

/** Planted rows in the making. */
class Rows {
  customer: number[] = [];
  merchant: number[] = [];
  cents: number[] = [];
  add(customer: number, merchant: number, cents: number): void {
    this.customer.push(customer);
    this.merchant.push(merchant);
    this.cents.push(cents);
  }
  /** Fisher–Yates over [from, end): spreads the pairs' and the DEI merchant's rows. */
  shuffle(from: number, rnd: () => number): void {
    for (let i = this.customer.length - 1; i > from; i--) {
      const j = from + Math.floor(rnd() * (i - from + 1));
      for (const a of [this.customer, this.merchant, this.cents]) [a[i], a[j]] = [a[j], a[i]];
    }
  }
}

/** The plan for `options`; a RangeError names the option that is too small. */
export function buildPlan(
  options: { transactions: number; customers: number; merchants: number },
  rnd: () => number,
): BankPlan {
  const { transactions, customers, merchants } = options;
  positive('transactions', transactions, 1);
  positive('customers', customers, 1);
  positive('merchants', merchants, 5);
  const match = Math.max(2, Math.floor(transactions / 40_000));
  const other = Math.max(1, Math.floor(match / 4));
  const pairs = match + 3 * other;
  const generic = customers - pairs;
  if (generic < 100)
    throw new RangeError(
      `options.customers must be at least ${pairs + 100} for ${transactions} transactions`,
    );
  const rows = new Rows();
  const dei = plantDei(rows, generic);
  plantPairs(rows, generic, { match, other }, merchants, rnd);
  rows.shuffle(dei.middleFrom, rnd);
  for (const c of dei.males.concat(dei.neither)) rows.add(c, 3, -1);
  const badEach = Math.max(3, Math.round(transactions / 100_000));
  const genericRows = transactions - rows.customer.length - 3 * badEach;
  if (genericRows < 0)
    throw new RangeError(
      `options.transactions must be at least ${rows.customer.length + 3 * badEach} for ${customers} customers`,
    );
  const deiFemale = dei.deiFemale;
  return {
    transactions,
    customers,
    merchants,
    generic,
    badEach,
    rows: rows.customer.length,
    customer: Int32Array.from(rows.customer),
    merchant: Int32Array.from(rows.merchant),
    cents: Int32Array.from(rows.cents),
    planted: {
      child: match,
      edge: other,
      mean20: other,
      short: other,
      deiMale: dei.males.length,
      deiFemale,
      deiNeither: dei.neither.length,
      nearDeiFemale: dei.nearFemale,
      genericRows,
      expectedAtDefaults: { PatId2: match + other, PatId3: deiFemale >= 1000 ? 1 : 0 },
    },
  };
}

/**
 * The PatId3 rows: merchant 3's female rows first (so its F is complete before any male row), then
 * merchant 2's rows; the caller adds merchant 3's male and E/U rows last.
 */
function plantDei(rows: Rows, generic: number) {
  const males: number[] = [];
  const females: number[] = [];
  const neither: number[] = [];
  for (let c = 0; c < generic; c++) {
    const g = customerGender(c);
    (g === 'M' ? males : g === 'F' ? females : neither).push(c);
  }
  const deiFemale = Math.max(0, Math.floor((males.length - 1) / 10));
  const nearFemale = Math.min(females.length, Math.ceil(males.length / 10));
  for (const c of females.slice(0, nearFemale)) rows.add(c, 3, -1);
  const middleFrom = rows.customer.length;
  for (const c of males.concat(neither, females.slice(0, deiFemale))) rows.add(c, 2, -1);
  return { males, neither, deiFemale, nearFemale, middleFrom };
}

/** The PatId2 pairs, one customer each from `generic` on, at a random small merchant. */
function plantPairs(
  rows: Rows,
  generic: number,
  counts: { match: number; other: number },
  merchants: number,
  rnd: () => number,
): void {
  let customer = generic;
  const small = () => 100 + Math.floor(rnd() * 1851);
  const pair = (values: number[]) => {
    const merchant = 4 + Math.floor(rnd() * (merchants - 4));
    for (const v of values) rows.add(customer, merchant, v);
    customer++;
  };
  const halves = (a: number, b: number) => Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? a : b));
  for (let k = 0; k < counts.match; k++) pair(Array.from({ length: 80 + Math.floor(rnd() * 41) }, small));
  for (let k = 0; k < counts.other; k++) pair(halves(1998, 2000));
  for (let k = 0; k < counts.other; k++) pair(halves(1999, 2001));
  for (let k = 0; k < counts.other; k++) pair(Array.from({ length: 79 }, small));
}
