/**
 * The bench peer of the bank detector (issue #11) in DuckDB: what the seed's Mechanism Y loop does.
 * After each chunk it appends the chunk's valid rows to one table and re-runs the three pattern
 * queries in SQL over everything stored, emitting the keys not emitted before (PatId1, PatId2,
 * PatId3; then merchant and customer in byte order). The rules are test/helpers/bank-reference.ts's.
 *
 *   node dist/bench/bank-peer.js (--chunks DIR | --transactions FILE [--rows-per-chunk R])
 *     --importance FILE [--preset readme|banksim] [--threads N] [--p1-min-merchant-tx N] …
 *
 * Prints one JSON line `{ engine, chunks, stored, dropped, detections: {PatId1, PatId2, PatId3},
 * seconds, peakRssMiB }`. Where it departs from the reference: values and weights are
 * DECIMAL(38,10) (more than 10 decimal places are rounded, more than 28 integer digits are
 * bad_number), and a mean weight is ordered by ⌊sum·10^22/rows⌋ (exact while a key has fewer than
 * 700,000 importance rows and sums below 10^16). Memory: DuckDB's, with every stored row.
 */

import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { InputError, UsageError } from '../errors.js';
import { runAsEntry } from './entry.js';

export type BankPeerPreset = 'readme' | 'banksim';

export interface BankPeerThresholds {
  p1MinMerchantTx: number;
  p1CountPct: number;
  p1WeightPct: number;
  p2MinTx: number;
  /** A decimal: a number or its text. */
  p2MaxMean: number | string;
  p3MinFemale: number;
  p3FemalePct: number;
}

/** The defaults. */
export const BANK_PEER_DEFAULT_THRESHOLDS: Readonly<BankPeerThresholds> = Object.freeze({
  p1MinMerchantTx: 50_000,
  p1CountPct: 99,
  p1WeightPct: 20,
  p2MinTx: 80,
  p2MaxMean: 20,
  p3MinFemale: 1000,
  p3FemalePct: 10,
});

export interface BankPeerOptions {
  /** A folder of chunk files `txn_batch_*.csv`, processed in name order. Or: */
  chunksDir?: string;
  /** A transactions CSV, cut into chunks of `rowsPerChunk` records first (not timed). */
  transactions?: string;
  /** Records per chunk with `transactions`; default 1000, the seed's. */
  rowsPerChunk?: number;
  /** The importance CSV (required). */
  importance: string;
  /** Default `readme`. */
  preset?: BankPeerPreset;
  thresholds?: Partial<BankPeerThresholds>;
  /** DuckDB threads; default os.availableParallelism(). */
  threads?: number;
}

/** The same shape as the reference detector's. */
export interface BankPeerDetection {
  seq: number;
  chunk: number;
  patternId: 'PatId1' | 'PatId2' | 'PatId3';
  actionType: 'UPGRADE' | 'CHILD' | 'DEI-NEEDED';
  customer: string;
  merchant: string;
  transactionType: string;
}

export interface BankPeerResult {
  detections: BankPeerDetection[];
  chunks: number;
  stored: number;
  dropped: { malformed_row: number; missing_field: number; bad_number: number };
  /** From the first chunk read to the last query. */
  seconds: number;
  peakRssMiB: number;
}

const PRESETS = {
  readme: {
    txn: ['CustomerId', 'MerchantId', 'transaction_value', 'gender', 'transaction_type'],
    importance: { customer: 'CustomerId', merchant: undefined, weight: 'weightage' },
    strip: false,
  },
  banksim: {
    txn: ['customer', 'merchant', 'amount', 'gender', 'category'],
    importance: { customer: 'Source', merchant: 'Target', weight: 'Weight' },
    strip: true,
  },
} as const;

const ACTIONS = { PatId1: 'UPGRADE', PatId2: 'CHILD', PatId3: 'DEI-NEEDED' } as const;
const str = (s: string): string => `'${s.replaceAll("'", "''")}'`;
/** The reference's decimal: digits, one optional point, an optional exponent of up to 4 digits. */
const NUMBER = `'[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]{1,4})?'`;

/** The header names of a CSV file: its first line, split on commas outside double quotes. */
async function headerOf(file: string): Promise<string[]> {
  const handle = await open(file).catch((cause: unknown) => {
    throw new InputError('E_INPUT', `cannot open ${file}: check the path`, { cause, file });
  });
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const line = buf.toString('utf8', 0, bytesRead).split('\n')[0]!.replace(/\r$/, '');
    const names: string[] = [];
    let name = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (ch === '"' && quoted && line[i + 1] === '"') name += line[++i];
      else if (ch === '"') quoted = !quoted;
      else if (ch === ',' && !quoted) {
        names.push(name);
        name = '';
      } else name += ch;
    }
    return [...names, name];
  } finally {
    await handle.close();
  }
}

/** A scan of `file` with every column VARCHAR and named c0, c1 …; bad rows go to reject_errors. */
async function scanOf(file: string, roles: readonly (string | undefined)[], strip: boolean) {
  const header = (await headerOf(file)).map((h) => cleanText(h, strip));
  const names = header.map((_, i) => `c${i}`);
  const index = roles.map((role) => {
    if (role === undefined) return undefined;
    const i = header.indexOf(role);
    if (i < 0) throw new InputError('E_MISSING_COLUMN', `${file}: no column "${role}"`, { file });
    return names[i];
  });
  const columns = names.map((n) => `${str(n)}: 'VARCHAR'`).join(', ');
  const scan = `read_csv(${str(file)}, auto_detect = false, header = true, delim = ',', quote = '"',
    escape = '"', columns = {${columns}}, store_rejects = true)`;
  return { scan, index };
}

/** The JS twin of the SQL `clean` macro, for header names. */
function cleanText(v: string, strip: boolean): string {
  const t = v.trim();
  return strip && t.length >= 2 && t.startsWith("'") && t.endsWith("'") ? t.slice(1, -1).trim() : t;
}

/** Macros shared by both tables: a field as the roles see it, and the missing test. */
async function defineMacros(conn: DuckDBConnection, strip: boolean): Promise<void> {
  const ws = `' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)`;
  await conn.run(`CREATE TEMP MACRO clean(x) AS CASE
      WHEN ${strip} AND length(trim(x, ${ws})) >= 2 AND starts_with(trim(x, ${ws}), '''')
        AND ends_with(trim(x, ${ws}), '''') THEN trim(trim(x, ${ws})[2:-2], ${ws})
      ELSE trim(x, ${ws}) END`);
  await conn.run(`CREATE TEMP MACRO missing(x) AS x IS NULL OR x IN ('', 'null', 'NULL', 'NaN')`);
  await conn.run(`CREATE TEMP MACRO decimal_of(x) AS
      CASE WHEN regexp_full_match(x, ${NUMBER}) THEN try_cast(x AS DECIMAL(38, 10)) END`);
}

/** The weights table: `key` orders the mean weights exactly (see the module comment). */
async function loadWeights(conn: DuckDBConnection, file: string, preset: BankPeerPreset): Promise<void> {
  const p = PRESETS[preset];
  const { customer, merchant, weight } = p.importance;
  const { scan, index } = await scanOf(file, [customer, merchant, weight], p.strip);
  const [c, m, w] = index;
  // readme: one weight per customer (merchant ''); banksim: per (customer, merchant).
  const merchantOf = m === undefined ? "''" : `clean(${m})`;
  await conn.run(`CREATE TEMP TABLE weights AS
    SELECT customer, merchant, (CAST(sum(w) * 10000000000 AS HUGEINT) * 1000000000000) // count(*) AS key
    FROM (
      SELECT clean(${c}) AS customer, ${merchantOf} AS merchant, clean(${w}) AS w_text,
        decimal_of(clean(${w})) AS w
      FROM ${scan}
    ) WHERE NOT missing(customer) AND ${m === undefined ? 'true' : 'NOT missing(merchant)'}
      AND NOT missing(w_text) AND w IS NOT NULL
    GROUP BY customer, merchant`);
}

/** Appends chunk `k`'s valid rows to `txn`; returns its missing_field / bad_number counts. */
async function appendChunk(conn: DuckDBConnection, file: string, k: number, preset: BankPeerPreset) {
  const p = PRESETS[preset];
  const { scan, index } = await scanOf(file, p.txn, p.strip);
  const [c, m, v, g, t] = index as string[];
  await conn.run(`CREATE OR REPLACE TEMP TABLE chunk AS SELECT * FROM ${scan}`);
  await conn.run(`CREATE OR REPLACE TEMP TABLE cleaned AS
    SELECT *, CASE
        WHEN missing(customer) OR missing(merchant) OR missing(value_text) OR missing(gender) OR missing(type)
          THEN 'missing_field'
        WHEN value IS NULL THEN 'bad_number'
      END AS reason
    FROM (SELECT rowid AS rn, clean(${c}) AS customer, clean(${m}) AS merchant, clean(${v}) AS value_text,
        decimal_of(clean(${v})) AS value, clean(${g}) AS gender, clean(${t}) AS type FROM chunk)`);
  await conn.run(`INSERT INTO txn SELECT ${k}::BIGINT * 1000000000 + rn, customer, merchant, value,
      CASE WHEN lower(gender) IN ('f', 'female') THEN 'F' WHEN lower(gender) IN ('m', 'male') THEN 'M' ELSE '' END,
      type
    FROM cleaned WHERE reason IS NULL`);
  const rows = (
    await conn.runAndReadAll(`SELECT
      count(*) FILTER (WHERE reason = 'missing_field'), count(*) FILTER (WHERE reason = 'bad_number')
    FROM cleaned`)
  ).getRowsJS()[0] as [bigint, bigint];
  return { missing: Number(rows[0]), bad: Number(rows[1]) };
}

/** Every key that matches over `txn` now: (pattern, merchant, customer, transaction type). */
function patternsSql(t: BankPeerThresholds, perMerchantWeights: boolean): string {
  const weightJoin = perMerchantWeights
    ? 'w.customer = b.customer AND w.merchant = b.merchant'
    : 'w.customer = b.customer';
  return `WITH pair AS (
      SELECT merchant, customer, count(*) AS n, sum(value) AS total, arg_max(type, seq) AS last_type,
        bool_or(gender = 'F') AS female, bool_or(gender = 'M') AS male
      FROM txn GROUP BY merchant, customer
    ),
    merch AS (
      SELECT merchant, sum(n) AS tx, count(*) AS customers,
        count(*) FILTER (WHERE female) AS females, count(*) FILTER (WHERE male) AS males
      FROM pair GROUP BY merchant
    ),
    big AS (SELECT p.*, m.customers FROM pair p JOIN merch m USING (merchant) WHERE m.tx > ${t.p1MinMerchantTx}),
    count_at AS (
      SELECT merchant, n AS at_least FROM (
        SELECT merchant, n, customers, row_number() OVER (PARTITION BY merchant ORDER BY n) AS r FROM big
      ) WHERE r = greatest(1, (${t.p1CountPct} * customers + 99) // 100)
    ),
    weighted AS (SELECT b.merchant, b.customer, w.key FROM big b JOIN weights w ON ${weightJoin}),
    weight_at AS (
      SELECT merchant, key AS at_most FROM (
        SELECT merchant, key, row_number() OVER (PARTITION BY merchant ORDER BY key) AS r,
          count(*) OVER (PARTITION BY merchant) AS k
        FROM weighted
      ) WHERE r = greatest(1, (${t.p1WeightPct} * k + 99) // 100)
    )
    SELECT 'PatId1' AS pattern, b.merchant, b.customer, b.last_type
      FROM big b JOIN count_at USING (merchant) JOIN weighted USING (merchant, customer) JOIN weight_at USING (merchant)
      WHERE b.n >= count_at.at_least AND weighted.key <= weight_at.at_most
    UNION ALL
    SELECT 'PatId2', merchant, customer, last_type FROM pair
      WHERE n >= ${t.p2MinTx} AND total < CAST(${str(String(t.p2MaxMean))} AS DECIMAL(38, 10)) * n
    UNION ALL
    SELECT 'PatId3', merchant, '', '' FROM merch
      WHERE females >= ${t.p3MinFemale} AND 100 * females < ${t.p3FemalePct} * males`;
}

const bytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Validated thresholds: whole numbers, and a decimal mean. */
function thresholdsOf(given: Partial<BankPeerThresholds> | undefined): BankPeerThresholds {
  const t = { ...BANK_PEER_DEFAULT_THRESHOLDS, ...given };
  for (const [name, v] of Object.entries(t))
    if (name !== 'p2MaxMean' && (!Number.isSafeInteger(v) || (v as number) < 0))
      throw new UsageError(`thresholds.${name} must be a whole number, got ${String(v)}`);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(String(t.p2MaxMean)))
    throw new UsageError(`thresholds.p2MaxMean must be a decimal, got ${String(t.p2MaxMean)}`);
  return t;
}

/**
 * Cuts `file` into chunk files of `rows` records in `dir` (txn_batch_<first record, 10 digits>.csv,
 * each with the header), streaming; a record whose quotes are open goes on over the next line.
 */
export async function cutChunks(file: string, rows: number, dir: string): Promise<void> {
  if (!Number.isSafeInteger(rows) || rows < 1)
    throw new UsageError('rowsPerChunk must be a positive integer');
  await mkdir(dir, { recursive: true });
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let header: string | undefined;
  let record = '';
  let batch: string[] = [];
  let first = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const name = `txn_batch_${String(first).padStart(10, '0')}.csv`;
    await writeFile(join(dir, name), `${header}\n${batch.join('\n')}\n`);
    first += batch.length;
    batch = [];
  };
  for await (const line of lines) {
    record = record === '' ? line : `${record}\n${line}`;
    if ((record.split('"').length - 1) % 2 === 1) continue; // a quoted newline
    if (record === '') continue; // blank lines are not records
    if (header === undefined) header = record;
    else if (batch.push(record) === rows) await flush();
    record = '';
  }
  if (record !== '') batch.push(record);
  await flush();
}

/** Runs the seed's loop over the chunks in DuckDB; returns the detections and what it took. */
export async function runBankPeer(options: BankPeerOptions): Promise<BankPeerResult> {
  const preset = options.preset ?? 'readme';
  if (!(preset in PRESETS)) throw new UsageError(`preset must be readme or banksim, got "${preset}"`);
  const t = thresholdsOf(options.thresholds);
  const threads = options.threads ?? availableParallelism();
  let dir = options.chunksDir === undefined ? undefined : resolve(options.chunksDir);
  let scratch: string | undefined;
  if (dir === undefined) {
    if (options.transactions === undefined) throw new UsageError('chunksDir or transactions is required');
    scratch = await mkdtemp(join(tmpdir(), 'shardflow-bank-peer-'));
    dir = join(scratch, 'chunks');
    await cutChunks(resolve(options.transactions), options.rowsPerChunk ?? 1000, dir);
  }
  try {
    const files = (await readdir(dir)).filter((f) => /^txn_batch_.*\.csv$/.test(f)).sort();
    return await loop(dir, files, { ...options, preset }, t, threads);
  } finally {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
}

async function loop(
  dir: string,
  files: string[],
  options: BankPeerOptions & { preset: BankPeerPreset },
  t: BankPeerThresholds,
  threads: number,
): Promise<BankPeerResult> {
  const started = performance.now();
  const db = await DuckDBInstance.create(':memory:', { threads: String(threads) });
  try {
    const conn = await db.connect();
    await defineMacros(conn, PRESETS[options.preset].strip);
    await loadWeights(conn, resolve(options.importance), options.preset);
    await conn.run(`CREATE TEMP TABLE txn (seq BIGINT, customer VARCHAR, merchant VARCHAR,
      value DECIMAL(38, 10), gender VARCHAR, type VARCHAR)`);
    const sql = patternsSql(t, PRESETS[options.preset].importance.merchant !== undefined);
    const dropped = { malformed_row: 0, missing_field: 0, bad_number: 0 };
    const emitted = new Set<string>();
    const detections: BankPeerDetection[] = [];
    for (const [k, file] of files.entries()) {
      const counts = await appendChunk(conn, join(dir, file), k, options.preset);
      dropped.missing_field += counts.missing;
      dropped.bad_number += counts.bad;
      const found = (await conn.runAndReadAll(sql)).getRowsJS() as [
        BankPeerDetection['patternId'],
        string,
        string,
        string,
      ][];
      found.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : bytes(a[1], b[1]) || bytes(a[2], b[2])));
      for (const [patternId, merchant, customer, transactionType] of found) {
        const key = `${patternId}\0${merchant}\0${customer}`;
        if (emitted.has(key)) continue;
        emitted.add(key);
        const actionType = ACTIONS[patternId];
        detections.push({
          seq: detections.length,
          chunk: k,
          patternId,
          actionType,
          customer,
          merchant,
          transactionType,
        });
      }
    }
    const [stored, malformed] = (
      await conn.runAndReadAll(`SELECT (SELECT count(*) FROM txn),
      (SELECT count(DISTINCT (scan_id, file_id, line)) FROM reject_errors)`)
    ).getRowsJS()[0] as [bigint, bigint];
    dropped.malformed_row = Number(malformed);
    conn.closeSync();
    return {
      detections,
      chunks: files.length,
      stored: Number(stored),
      dropped,
      seconds: (performance.now() - started) / 1000,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    db.closeSync();
  }
}

async function main(): Promise<void> {
  const names = Object.keys(BANK_PEER_DEFAULT_THRESHOLDS) as (keyof BankPeerThresholds)[];
  const flag = (n: string) => n.replace(/[A-Z0-9]/g, (c) => `-${c.toLowerCase()}`).replace(/-(\d)/g, '$1');
  const { values } = parseArgs({
    options: {
      chunks: { type: 'string' },
      transactions: { type: 'string' },
      'rows-per-chunk': { type: 'string' },
      importance: { type: 'string' },
      preset: { type: 'string' },
      threads: { type: 'string' },
      ...Object.fromEntries(names.map((n) => [flag(n), { type: 'string' as const }])),
    },
  });
  if (values.importance === undefined) throw new UsageError('--importance FILE is required');
  const thresholds: Partial<BankPeerThresholds> = {};
  for (const n of names) {
    const v = (values as Record<string, string | undefined>)[flag(n)];
    if (v !== undefined) thresholds[n] = (n === 'p2MaxMean' ? v : Number(v)) as never;
  }
  const result = await runBankPeer({
    chunksDir: values.chunks,
    transactions: values.transactions,
    rowsPerChunk: values['rows-per-chunk'] === undefined ? undefined : Number(values['rows-per-chunk']),
    importance: values.importance,
    preset: (values.preset ?? 'readme') as BankPeerPreset,
    thresholds,
    threads: values.threads === undefined ? undefined : Number(values.threads),
  });
  const fired = { PatId1: 0, PatId2: 0, PatId3: 0 };
  for (const d of result.detections) fired[d.patternId]++;
  // The detections as counts: the line stays one line at any size.
  process.stdout.write(`${JSON.stringify({ engine: 'duckdb', ...result, detections: fired })}\n`);
}

runAsEntry(import.meta.url, 'bank-peer', main);
