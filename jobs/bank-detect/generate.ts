/**
 * `shardflow generate bank`: a synthetic `transactions.csv` and `CustomerImportance.csv` for the
 * bank detector (issue #11; the seed's files were on a private drive), in the `readme` or the
 * `banksim` column layout, that makes each pattern fire at the default thresholds.
 *
 * Three kinds of rows, interleaved uniformly at random (a planted row keeps its place in the
 * planted sequence):
 *
 * - Generic traffic (customers 0 … G-1): values 20.00–499.99, so no generic (merchant, customer)
 *   ever has a mean below 20; customers drawn with skew (index ⌊G·u^2.5⌋, rotated per merchant),
 *   so each merchant has a heavy top 1%. Merchants 0 and 1 take 24% of it each (PatId1: over
 *   50,000 each once the generic rows pass ~208,000); the rest goes uniformly to merchants 4 ….
 *   Every 101st customer writes the other gender on 10% of its rows (both genders at a merchant).
 * - PatId2 (CHILD): customers G … C-1, one pair each at a random merchant from 4 on, none
 *   otherwise: `child` pairs (80–120 values of 1.00–19.50: match), `edge` pairs (40 × 19.98 and
 *   40 × 20.00, mean 19.99: match), `mean20` pairs (40 × 19.99 and 40 × 20.01, mean exactly 20: no
 *   match, but a float sum may say 1599.999…) and `short` pairs (79 small values: no match).
 * - PatId3 (DEI-NEEDED): merchant 2 gets one row from every male generic customer (M of them),
 *   one from the first ⌊(M-1)/10⌋ female ones (10·F < M) and one from each E/U customer (they
 *   count as neither); merchant 3 gets the same males and E/U but ⌈M/10⌉ females, all of them
 *   before any male row, so 10·F ≥ M at every prefix: it never matches. Merchant 2 matches at the
 *   defaults once F ≥ 1000, that is with M ≥ 10,001 male customers: G ≥ ~20,900 customers.
 *
 * Minimum sizes for every pattern at the default thresholds: PatId3 needs M ≥ 10,001 male
 * customers, about 20,900 customers (21,000 give F = 1007); PatId1 needs merchants 0 and 1 over
 * 50,000 rows, generic rows over ~208,000: about 245,000 transactions with 30,000 customers (the
 * planted rows take ~1.1 per customer). 300,000 transactions and 30,000 customers are safe (64,000
 * rows each). `planted` in the summary says what fires at the defaults: PatId2 exactly
 * `child + edge` times, PatId3 exactly once (merchant 2) when `deiFemale >= 1000`; PatId1 depends
 * on the random traffic (about 0.2% of a big merchant's customers) and is not planted. Seed 1,
 * 30,000 customers, 40 merchants, chunks of 50,000 (readme): 250k rows fire 85 / 7 / 1 times,
 * 1M rows 129 / 31 / 1 (banksim: 150 / 31 / 1).
 *
 * Bad rows, counted in the N: `max(3, round(N / 100,000))` of each of `missing_field`,
 * `bad_number` and `malformed_row`. 2% of customers have gender `E` or `U`; in the readme layout
 * 2% of rows spell the gender `female`/`Male`/`MALE`…. About 5% of customers have no weight.
 *
 * Memory: the planted rows (three Int32Array entries each, ~1.1·C + 100·pairs) and one 1 MiB write
 * batch per file; the generic rows are made as they are written. 1M rows: 2.3 s readme, 3.6 s
 * banksim, ~130 MiB peak (2 shared cores).
 */

import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildPlan, customerGender, type BankPlan, type Planted } from './generate-plan.js';
import { mulberry32 } from './mulberry32.js';

/** What was planted, the merchants' ids, and what fires at the default thresholds. */
export interface PlantedIds extends Planted {
  bigMerchants: [string, string];
  deiMerchant: string;
  nearDeiMerchant: string;
}

export type BankPreset = 'readme' | 'banksim';

export interface GenerateBankOptions {
  /** Rows of transactions.csv, bad rows included. Required. */
  transactions: number;
  /** Size of the customer id pool. Required. */
  customers: number;
  /** Merchants; at least 5 (two big, two for PatId3, the rest small). Required. */
  merchants: number;
  /** Column layout; default `readme`. */
  preset?: BankPreset;
  /** Local directory for the two files; created when missing. Required. */
  out: string;
  /** PRNG seed; default 1. */
  seed?: number;
}

export type BadReason = 'missing_field' | 'bad_number' | 'malformed_row';

export interface GenerateBankSummary {
  transactions: number;
  customers: number;
  merchants: number;
  /** Bytes of both files. */
  bytes: number;
  /** Rows written to be dropped, by reason. */
  badRows: Record<BadReason, number>;
  seconds: number;
  /** What was planted, and what fires at the default thresholds. */
  planted: PlantedIds;
}

/** Defaults of {@link GenerateBankOptions}. */
export const GENERATE_BANK_DEFAULTS = Object.freeze({ preset: 'readme' as BankPreset, seed: 1 });

const CATEGORIES = [
  'es_transportation',
  'es_food',
  'es_health',
  'es_wellnessandbeauty',
  'es_fashion',
  'es_barsandrestaurants',
  'es_hyper',
  'es_sportsandtoys',
  'es_tech',
  'es_home',
  'es_hotelservices',
  'es_otherservices',
  'es_contents',
  'es_travel',
  'es_leisure',
];

const HEADERS: Record<BankPreset, { txn: string; importance: string }> = {
  readme: {
    txn: 'CustomerId,MerchantId,transaction_value,gender,transaction_type',
    importance: 'CustomerId,transaction_type,weightage',
  },
  // The public BankSim file quotes its header in double quotes and its text fields in single ones.
  banksim: {
    txn: '"step","customer","age","gender","zipcodeOri","merchant","zipMerchant","category","amount","fraud"',
    importance: 'Source,Target,Weight,typeTrans,fraud',
  },
};

/** Writes lines in batches of about 1 MiB, waiting for `drain` when the stream asks to. */
class LineSink {
  #parts: string[] = [];
  #size = 0;
  bytes = 0;
  constructor(readonly stream: WriteStream) {}

  /** Adds a line; returns a promise only when a batch went out (an await per line is slow). */
  line(text: string): Promise<void> | undefined {
    this.#parts.push(text);
    this.#size += text.length + 1;
    return this.#size >= 1 << 20 ? this.flush() : undefined;
  }

  async flush(): Promise<void> {
    if (this.#parts.length === 0) return;
    const chunk = `${this.#parts.join('\n')}\n`;
    this.#parts = [];
    this.#size = 0;
    this.bytes += Buffer.byteLength(chunk);
    if (!this.stream.write(chunk)) await new Promise<void>((ok) => this.stream.once('drain', ok));
  }

  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((ok, fail) => {
      this.stream.once('error', fail);
      this.stream.end(ok);
    });
  }
}

/** One transaction before it is spelled in a layout. */
interface Txn {
  customer: number;
  merchant: number;
  cents: number;
  gender: string;
}

/** Spells ids, values and rows in one layout. */
class Speller {
  readonly #offset: number;
  constructor(
    readonly preset: BankPreset,
    readonly rnd: () => number,
    seedOffset: number,
  ) {
    this.#offset = seedOffset;
  }

  // Bijections onto 10 and 9 digits (the multipliers are primes prime to 10^9 and 9·10^8), so ids
  // are distinct and their byte order is not the index order.
  customerId(i: number): string {
    return `C${1_000_000_000 + ((i * 7919 + this.#offset) % 1_000_000_000)}`;
  }

  merchantId(j: number): string {
    return `M${100_000_000 + ((j * 104_729 + this.#offset) % 900_000_000)}`;
  }

  category(): string {
    return CATEGORIES[Math.floor(this.rnd() * CATEGORIES.length)];
  }

  /** A readme row now and then spells the gender out, in any case. */
  gender(g: string): string {
    if (this.preset === 'banksim' || this.rnd() >= 0.02) return g;
    const word = g === 'F' ? 'female' : g === 'M' ? 'male' : g;
    const r = this.rnd();
    return r < 0.3 ? word : r < 0.6 ? word.toUpperCase() : word[0].toUpperCase() + word.slice(1);
  }

  row(t: Txn, step: number, fields?: Partial<Record<'customer' | 'merchant' | 'value' | 'gender', string>>) {
    const customer = fields?.customer ?? this.customerId(t.customer);
    const merchant = fields?.merchant ?? this.merchantId(t.merchant);
    const value = fields?.value ?? cents(t.cents);
    const gender = fields?.gender ?? this.gender(t.gender);
    const type = this.category();
    if (this.preset === 'readme') return `${customer},${merchant},${value},${gender},${type}`;
    const age = this.rnd() < 0.01 ? 'U' : String(Math.floor(this.rnd() * 7));
    const fraud = this.rnd() < 0.01 ? 1 : 0;
    const q = (s: string) => `'${s}'`;
    return `${step},${q(customer)},${q(age)},${q(gender)},'28007',${q(merchant)},'28007',${q(type)},${value},${fraud}`;
  }
}

/** `1950` → `19.50`. */
function cents(c: number): string {
  const abs = Math.abs(c);
  const frac = abs % 100;
  return `${c < 0 ? '-' : ''}${Math.floor(abs / 100)}.${frac < 10 ? '0' : ''}${frac}`;
}

/** The bad rows, by reason; `k` picks the variant, so every variant appears. */
function badRow(reason: BadReason, k: number, t: Txn, step: number, sp: Speller): string {
  const banksim = sp.preset === 'banksim';
  if (reason === 'missing_field') {
    const v = k % 5;
    if (v === 0) return sp.row(t, step, { customer: '' });
    if (v === 1) return sp.row(t, step, { merchant: 'null' });
    if (v === 2) return sp.row(t, step, { value: 'NaN' });
    if (v === 3) return sp.row(t, step, { gender: 'NULL' });
    return sp.row(t, step, { customer: ' ' });
  }
  if (reason === 'bad_number') {
    const texts = ['abc', '1.2.3', 'Infinity', '--5', '12.5x'];
    return sp.row(t, step, { value: texts[k % texts.length] });
  }
  const row = sp.row(t, step);
  // One field too many or too few; in banksim the last field (fraud) is a bare digit.
  return k % 2 === 0 ? `${row},${banksim ? "'x'" : 'x'}` : row.slice(0, row.lastIndexOf(','));
}

/** Writes transactions.csv and CustomerImportance.csv into `options.out`. */
export async function generateBank(options: GenerateBankOptions): Promise<GenerateBankSummary> {
  const started = performance.now();
  const preset = options.preset ?? GENERATE_BANK_DEFAULTS.preset;
  if (preset !== 'readme' && preset !== 'banksim')
    throw new RangeError(`options.preset must be readme or banksim, got "${String(preset)}"`);
  const rnd = mulberry32(options.seed ?? GENERATE_BANK_DEFAULTS.seed);
  const plan = buildPlan(options, rnd);
  const sp = new Speller(preset, rnd, Math.floor(rnd() * 1_000_000_000));
  await mkdir(options.out, { recursive: true });
  const txn = new LineSink(createWriteStream(join(options.out, 'transactions.csv')));
  const imp = new LineSink(createWriteStream(join(options.out, 'CustomerImportance.csv')));
  try {
    await writeTransactions(txn, plan, sp);
    await writeImportance(imp, plan, sp);
  } finally {
    await Promise.all([txn.close(), imp.close()]);
  }
  return {
    transactions: plan.transactions,
    customers: plan.customers,
    merchants: plan.merchants,
    bytes: txn.bytes + imp.bytes,
    badRows: { missing_field: plan.badEach, bad_number: plan.badEach, malformed_row: plan.badEach },
    seconds: (performance.now() - started) / 1000,
    planted: {
      ...plan.planted,
      bigMerchants: [sp.merchantId(0), sp.merchantId(1)],
      deiMerchant: sp.merchantId(2),
      nearDeiMerchant: sp.merchantId(3),
    },
  };
}

/** The rows: planted, bad and generic interleaved uniformly, each stream in its own order. */
async function writeTransactions(out: LineSink, plan: BankPlan, sp: Speller): Promise<void> {
  const { rnd } = sp;
  const n = plan.transactions;
  await out.line(HEADERS[sp.preset].txn);
  let planted = 0;
  let bad = 0;
  const badTotal = 3 * plan.badEach;
  const reasons: BadReason[] = ['missing_field', 'bad_number', 'malformed_row'];
  const t: Txn = { customer: 0, merchant: 0, cents: 0, gender: 'F' };
  for (let i = 0; i < n; i++) {
    // 180 steps, as in BankSim (one an hour for a month's worth).
    const step = Math.floor((i * 180) / n);
    const pick = rnd() * (n - i);
    const plantedLeft = plan.rows - planted;
    let line: string;
    if (pick < plantedLeft) {
      t.customer = plan.customer[planted];
      t.merchant = plan.merchant[planted];
      const c = plan.cents[planted++];
      t.cents = c < 0 ? randomCents(rnd) : c;
      t.gender = customerGender(t.customer);
      line = sp.row(t, step);
    } else if (pick < plantedLeft + badTotal - bad) {
      genericTxn(t, plan, rnd);
      line = badRow(reasons[bad % 3], Math.floor(bad / 3), t, step, sp);
      bad++;
    } else {
      genericTxn(t, plan, rnd);
      line = sp.row(t, step);
    }
    const flushed = out.line(line);
    if (flushed !== undefined) await flushed;
  }
}

/** A generic value: 20.00–499.99, so no generic pair can have a mean under 20. */
const randomCents = (rnd: () => number): number => 2000 + Math.floor(rnd() * 48_000);

/** A generic transaction into `t`: big merchants 24% each, the rest uniform; skewed customers. */
function genericTxn(t: Txn, plan: BankPlan, rnd: () => number): void {
  const u = rnd();
  const merchant = u < 0.24 ? 0 : u < 0.48 ? 1 : 4 + Math.floor(rnd() * (plan.merchants - 4));
  const g = plan.generic;
  // u^2.5 puts a few percent of a merchant's rows on its first customer; the rotation gives each
  // merchant its own heavy customers.
  const skewed = Math.floor(g * rnd() ** 2.5);
  const customer = (skewed + merchant * 7777) % g;
  let gender = customerGender(customer);
  if (customer % 101 === 5 && gender !== 'E' && gender !== 'U' && rnd() < 0.1)
    gender = gender === 'F' ? 'M' : 'F';
  t.customer = customer;
  t.merchant = merchant;
  t.cents = randomCents(rnd);
  t.gender = gender;
}

/**
 * The weights. readme: 1–3 rows per customer (any type), weights 0.01–9.99. banksim: per customer
 * 1–2 rows at each big merchant and one at a random small merchant half the time. About 5% of the
 * customers get none.
 */
async function writeImportance(out: LineSink, plan: BankPlan, sp: Speller): Promise<void> {
  const { rnd } = sp;
  const weight = () => cents(1 + Math.floor(rnd() * 999));
  await out.line(HEADERS[sp.preset].importance);
  for (let c = 0; c < plan.customers; c++) {
    if (rnd() < 0.05) continue;
    const id = sp.customerId(c);
    const lines: string[] = [];
    if (sp.preset === 'readme') {
      const rows = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < rows; k++) lines.push(`${id},${sp.category()},${weight()}`);
    } else {
      const at = (m: number) =>
        lines.push(`'${id}','${sp.merchantId(m)}',${weight()},'${sp.category()}',${rnd() < 0.01 ? 1 : 0}`);
      for (const m of [0, 1]) for (let k = 1 + Math.floor(rnd() * 2); k > 0; k--) at(m);
      if (rnd() < 0.5) at(4 + Math.floor(rnd() * (plan.merchants - 4)));
    }
    const flushed = out.line(lines.join('\n'));
    if (flushed !== undefined) await flushed;
  }
}
