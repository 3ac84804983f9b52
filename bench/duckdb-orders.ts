/**
 * The bench peer of the customer-revenue example job (examples/customer-revenue.ts) in DuckDB SQL:
 * the same rejects (malformed_row, missing_field, bad_number, bad_timestamp, negative_amount, in
 * the job's order), orders in another currency dropped, the first row of each order id by file
 * position kept, then per customer the count, revenue, first and last order time.
 *
 *   node dist/bench/duckdb-orders.js --input FILE --out DIR [--currency EUR] [--threads N]
 *
 * Writes customers.parquet and rejects.parquet; prints one JSON line `{ engine, threads, seconds,
 * rows_read, rows_valid, customers, peak_rss_bytes }`. Exact for what bench/generate-orders.ts
 * writes; bench/README.md lists where it departs from the engine on other input.
 */

import { DuckDBInstance } from '@duckdb/node-api';
import { mkdir, open, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError, UsageError } from '../errors.js';
import { runAsEntry } from './entry.js';

/** Options of {@link runDuckdbOrders}. */
export interface DuckdbOrdersOptions {
  /** The orders CSV (required). */
  input: string;
  /** Output folder (required), created when missing. */
  out: string;
  /** Orders in another (non-blank) currency are dropped. Default `EUR`, the job's default. */
  currency?: string;
  /** DuckDB threads. Default os.availableParallelism(). */
  threads?: number;
}

/** The JSON line the script prints. */
export interface DuckdbOrdersResult {
  engine: 'duckdb';
  threads: number;
  seconds: number;
  rows_read: number;
  rows_valid: number;
  customers: number;
  peak_rss_bytes: number;
}

/** The job's columns and their aliases (examples/customer-revenue.ts), after header normalising. */
const COLUMNS = Object.freeze({
  order_id: ['order_id'],
  customer_id: ['customer_id', 'customer'],
  amount: ['amount', 'total'],
  currency: ['currency'],
  ordered_at: ['ordered_at', 'order_time', 'created_at'],
});
type Column = keyof typeof COLUMNS;

/** The engine's 'normalized' header rule (engine/schema.ts). */
const normalize = (name: string): string =>
  name
    .normalize('NFC')
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');

const str = (s: string): string => `'${s.replaceAll("'", "''")}'`;
const ident = (s: string): string => `"${s.replaceAll('"', '""')}"`;

async function readHeader(input: string): Promise<{ names: string[]; job: Record<Column, string | null> }> {
  const file = await open(input).catch((cause: unknown) => {
    throw new InputError('E_INPUT', `cannot open --input ${input}: check the path`, { cause, file: input });
  });
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await file.read(buf, 0, buf.length, 0);
    const first = buf.toString('utf8', 0, bytesRead).split('\n')[0]!.replace(/\r$/, '');
    const names = first.split(',').map((n) => n.replace(/^"(.*)"$/, '$1'));
    const job = {} as Record<Column, string | null>;
    for (const [column, spellings] of Object.entries(COLUMNS) as [Column, string[]][]) {
      const found = names.filter((n) => spellings.includes(normalize(n)));
      if (found.length > 1 || (found.length === 0 && column !== 'currency'))
        throw new InputError('E_INPUT_HEADER', `${input}: header must name column ${column} once`, {
          file: input,
        });
      job[column] = found[0] ?? null;
    }
    return { names, job };
  } finally {
    await file.close();
  }
}

const NUMBER = `'[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?'`;
const TIMESTAMP = `'[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?'`;
const ZONE = `'(Z|[+-][0-9]{2}:?[0-9]{2})$'`;
/** A `±hh:mm` zone: sign, hours, minutes. */
const OFFSET = `'([+-])([0-9]{2}):?([0-9]{2})$'`;

/** Runs the customer-revenue job in DuckDB; returns the summary line's fields. */
export async function runDuckdbOrders(options: DuckdbOrdersOptions): Promise<DuckdbOrdersResult> {
  if (!options.input) throw new UsageError('--input FILE is required');
  if (!options.out) throw new UsageError('--out DIR is required');
  const threads = options.threads ?? availableParallelism();
  if (!Number.isSafeInteger(threads) || threads < 1)
    throw new UsageError('--threads must be a positive integer');
  const currency = options.currency ?? 'EUR';
  const input = resolve(options.input);
  const out = resolve(options.out);
  const started = performance.now();
  const header = await readHeader(input);
  await mkdir(out, { recursive: true });
  const spill = join(tmpdir(), `shardflow-duckdb-orders-${process.pid}`);
  const db = await DuckDBInstance.create(':memory:', { threads: String(threads), temp_directory: spill });
  try {
    const conn = await db.connect();
    const columns = header.names.map((n) => `${str(n)}: 'VARCHAR'`).join(', ');
    const scan = `read_csv(${str(input)}, auto_detect = false, header = true, delim = ',', quote = '"',
      escape = '"', columns = {${columns}}, store_rejects = true)`;
    const col = (c: Column): string => (header.job[c] === null ? 'NULL' : ident(header.job[c]!));
    const missing = (x: string): string => `(${x} IS NULL OR ${x} IN ('', 'null', 'NULL'))`;
    // File order: rowid of a table filled from the scan (CTAS keeps insertion order).
    await conn.run(`CREATE TEMP TABLE csv AS SELECT * FROM ${scan}`);
    // The engine converts the columns in declaration order (the first failure is the reason),
    // then the job's map rejects a negative amount.
    await conn.run(`CREATE TEMP TABLE parsed AS
      SELECT rn, order_id, customer, currency, amount, amount_exact, order_at, CASE
          WHEN ${missing('order_id')} OR ${missing('customer')} OR ${missing('amount_text')} THEN 'missing_field'
          WHEN amount IS NULL THEN 'bad_number'
          WHEN ${missing('at_text')} THEN 'missing_field'
          WHEN order_at IS NULL THEN 'bad_timestamp'
          WHEN amount < 0 THEN 'negative_amount'
        END AS reason
      FROM (
        SELECT *,
          CASE WHEN regexp_full_match(amount_text, ${NUMBER}) AND isfinite(try_cast(amount_text AS DOUBLE))
            THEN try_cast(amount_text AS DOUBLE) END AS amount,
          coalesce(try_cast(amount_text AS DECIMAL(38, 10)), try_cast(amount_text AS DOUBLE)) AS amount_exact,
          CASE WHEN regexp_full_match(at_text, ${TIMESTAMP}) THEN
            try_cast(regexp_replace(at_text, ${ZONE}, '') AS TIMESTAMP) - to_minutes(CASE
              WHEN regexp_matches(at_text, ${OFFSET}) THEN
                (CASE WHEN regexp_extract(at_text, ${OFFSET}, 1) = '-' THEN -1 ELSE 1 END) *
                (60 * CAST(regexp_extract(at_text, ${OFFSET}, 2) AS BIGINT) +
                  CAST(regexp_extract(at_text, ${OFFSET}, 3) AS BIGINT))
              ELSE 0 END)
          END AS order_at
        FROM (SELECT rowid + 1 AS rn, ${col('order_id')} AS order_id, ${col('customer_id')} AS customer,
            ${col('amount')} AS amount_text, ${col('currency')} AS currency, ${col('ordered_at')} AS at_text
          FROM csv)
      )`);
    await conn.run('DROP TABLE csv');
    await conn.run(`CREATE TEMP TABLE customers AS
      SELECT customer AS customer_id, count(*) AS orders, CAST(sum(amount_exact) AS DOUBLE) AS revenue,
        min(order_at) AS first_order, max(order_at) AS last_order
      FROM (
        SELECT *, row_number() OVER (PARTITION BY order_id ORDER BY rn) AS occurrence FROM parsed
        WHERE reason IS NULL AND (${missing('currency')} OR currency = ${str(currency)})
      ) WHERE occurrence = 1 GROUP BY customer`);
    await conn.run(
      `COPY (SELECT * FROM customers ORDER BY customer_id) TO ${str(join(out, 'customers.parquet'))} (FORMAT parquet)`,
    );
    await conn.run(`COPY (
        SELECT rn AS row_number, reason FROM parsed WHERE reason IS NOT NULL
        UNION ALL SELECT DISTINCT line, 'malformed_row' FROM reject_errors
      ) TO ${str(join(out, 'rejects.parquet'))} (FORMAT parquet)`);
    const counts = await conn.runAndReadAll(`SELECT
        (SELECT count(*) FROM parsed) + (SELECT count(DISTINCT line) FROM reject_errors),
        (SELECT count(*) FROM parsed WHERE reason IS NULL),
        (SELECT count(*) FROM customers)`);
    const [rowsRead, rowsValid, customers] = counts.getRowsJS()[0] as [bigint, bigint, bigint];
    conn.closeSync();
    return {
      engine: 'duckdb',
      threads,
      seconds: (performance.now() - started) / 1000,
      rows_read: Number(rowsRead),
      rows_valid: Number(rowsValid),
      customers: Number(customers),
      peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    };
  } finally {
    db.closeSync();
    await rm(spill, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      input: { type: 'string' },
      out: { type: 'string' },
      currency: { type: 'string' },
      threads: { type: 'string' },
    },
  });
  const result = await runDuckdbOrders({
    input: values.input ?? '',
    out: values.out ?? '',
    ...(values.currency === undefined ? {} : { currency: values.currency }),
    ...(values.threads === undefined ? {} : { threads: Number(values.threads) }),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

runAsEntry(import.meta.url, 'duckdb-orders', main);
