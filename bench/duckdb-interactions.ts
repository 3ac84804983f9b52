/**
 * The benchmark peer: the interactions job written as DuckDB SQL. Standalone script:
 *   node dist/bench/duckdb-interactions.js --input FILE --out DIR --mode counts|full|pg [--threads N]
 * counts writes users/products/daily Parquet; full also writes clean, pairs and rejects; pg writes
 * the clean rows (with their counts) and users/products/daily as PostgreSQL COPY text (`*.tsv`), for
 * `psql \copy`. Prints one JSON line `{ engine, mode, threads, seconds, rows_read, rows_valid,
 * peak_rss_bytes }` (pg adds `months`) on stdout.
 * Where its semantics differ from shardflow's is listed in bench/README.md.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import { mkdir, open, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError, UsageError } from '../errors.js';
import { runAsEntry } from './entry.js';

/** Options of {@link runDuckdbInteractions}. */
export interface DuckdbInteractionsOptions {
  /** Input CSV path (required). */
  input: string;
  /** Output folder for the Parquet files (required); created when missing. */
  out: string;
  /** `counts`: users, products, daily; `full`: also clean, pairs, rejects; `pg`: COPY text. Default `counts`. */
  mode?: DuckdbInteractionsMode;
  /** DuckDB worker threads. Default os.availableParallelism(). */
  threads?: number;
  /** How file order is numbered: `rowid` of a loaded copy (parallel) or `window` (streaming). Default `rowid`. */
  order?: 'rowid' | 'window';
  /** Print each statement's wall time to stderr. Default false. */
  verbose?: boolean;
}

/** The one JSON line the script prints. */
export interface DuckdbInteractionsResult {
  engine: 'duckdb';
  mode: DuckdbInteractionsMode;
  threads: number;
  seconds: number;
  rows_read: number;
  rows_valid: number;
  peak_rss_bytes: number;
  /** pg mode: the months of the clean rows, `YYYY-MM` (one partition each). */
  months?: string[];
}

/** What the peer writes: see {@link DuckdbInteractionsOptions.mode}. */
export type DuckdbInteractionsMode = 'counts' | 'full' | 'pg';

const COLUMNS = ['interaction_id', 'user_id', 'product_id', 'action', 'timestamp'] as const;

/** Runs the interactions job in DuckDB and returns the summary line's fields. */
export async function runDuckdbInteractions(
  options: DuckdbInteractionsOptions,
): Promise<DuckdbInteractionsResult> {
  const mode = options.mode ?? 'counts';
  if (mode !== 'counts' && mode !== 'full' && mode !== 'pg')
    throw new UsageError('--mode must be counts, full or pg');
  const order = options.order ?? 'rowid';
  if (order !== 'rowid' && order !== 'window') throw new UsageError('--order must be rowid or window');
  const threads = options.threads ?? availableParallelism();
  if (!Number.isSafeInteger(threads) || threads < 1)
    throw new UsageError('--threads must be a positive integer');
  if (!options.input) throw new UsageError('--input FILE is required');
  if (!options.out) throw new UsageError('--out DIR is required');
  const input = resolve(options.input);
  const out = resolve(options.out);
  const started = performance.now();
  const header = await readHeader(input);
  await mkdir(out, { recursive: true });
  const spill = join(tmpdir(), `shardflow-duckdb-${process.pid}`);
  const db = await DuckDBInstance.create(':memory:', { threads: String(threads), temp_directory: spill });
  try {
    const conn = await db.connect();
    const run = async (label: string, sql: string): Promise<void> => {
      const t0 = performance.now();
      await conn.run(sql);
      if (options.verbose)
        process.stderr.write(`duckdb ${label}: ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
    };
    const { rowsRead, rowsValid, months } = await runJob(conn, run, input, out, header, mode, order);
    conn.closeSync();
    return {
      engine: 'duckdb',
      mode,
      threads,
      seconds: (performance.now() - started) / 1000,
      rows_read: rowsRead,
      rows_valid: rowsValid,
      peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
      ...(months === undefined ? {} : { months }),
    };
  } finally {
    db.closeSync();
    await rm(spill, { recursive: true, force: true });
  }
}

/** Header names as written, and which of them are the five job columns (matched case-insensitively). */
interface Header {
  names: string[];
  job: Record<(typeof COLUMNS)[number], string>;
}

async function readHeader(input: string): Promise<Header> {
  const file = await open(input).catch((cause: unknown) => {
    throw new InputError('E_INPUT', `cannot open --input ${input}: check the path`, { cause, file: input });
  });
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await file.read(buf, 0, buf.length, 0);
    const first = buf.toString('utf8', 0, bytesRead).split('\n')[0]!.replace(/\r$/, '');
    const names = first.split(',').map((n) => n.trim().replace(/^"(.*)"$/, '$1'));
    const job = {} as Header['job'];
    for (const c of COLUMNS) {
      const matches = names.filter((n) => n.toLowerCase() === c);
      if (matches.length !== 1) {
        throw new InputError('E_INPUT_HEADER', `${input}: header must name column ${c} exactly once`, {
          file: input,
        });
      }
      job[c] = matches[0]!;
    }
    return { names, job };
  } finally {
    await file.close();
  }
}

const str = (s: string): string => `'${s.replaceAll("'", "''")}'`;
const ident = (s: string): string => `"${s.replaceAll('"', '""')}"`;

async function runJob(
  conn: DuckDBConnection,
  run: (label: string, sql: string) => Promise<void>,
  input: string,
  out: string,
  header: Header,
  mode: DuckdbInteractionsMode,
  order: 'rowid' | 'window',
): Promise<{ rowsRead: number; rowsValid: number; months?: string[] }> {
  // pg needs what full computes for the clean rows, but writes no pairs and no rejects.
  const full = mode !== 'counts';
  const rejects = mode === 'full';
  const columns = header.names.map((n) => `${str(n)}: 'VARCHAR'`).join(', ');
  // auto_detect off: the sniffer gives up on files with many bad rows, and the header gives the columns.
  // store_rejects keeps rows with the wrong field count (and unterminated quotes) as malformed_row.
  const scan = `read_csv(${str(input)}, auto_detect = false, header = true, delim = ',', quote = '"',
    escape = '"', columns = {${columns}}, store_rejects = true)`;
  // Each helper column is computed once, in layers: DuckDB does not share common subexpressions.
  // sf_ names keep them apart from whatever extra columns the file has.
  const job = COLUMNS.map((c) => ident(header.job[c]));
  const [tId, tUser, tProduct, tAction, tTime] = [
    'sf_t_id',
    'sf_t_user',
    'sf_t_product',
    'sf_t_action',
    'sf_t_time',
  ];
  const trimmed = job
    .map((c, i) => `trim(${c}, ' ') AS ${[tId, tUser, tProduct, tAction, tTime][i]}`)
    .join(', ');
  const missing = [tId, tUser, tProduct, tAction, tTime].map(
    (c) => `${c} IS NULL OR ${c} IN ('', 'null', 'NULL')`,
  );
  const badInt = [
    ['sf_id', tId],
    ['sf_user', tUser],
    ['sf_product', tProduct],
  ].map(([n, t]) => `${n} IS NULL OR NOT regexp_full_match(${t}, '[0-9]+')`);
  const raw = `concat_ws(',', ${header.names.map((n) => `coalesce(${ident(n)}, '')`).join(', ')})`;
  // File order: rowid of a table filled from the scan (CTAS keeps insertion order and the scan stays
  // parallel), or an empty OVER () on the scan itself (no copy, but the pipeline runs on one thread).
  // https://duckdb.org/docs/stable/sql/dialect/order_preservation
  if (order === 'rowid') await run('load', `CREATE TEMP TABLE csv AS SELECT * FROM ${scan}`);
  const numbered =
    order === 'rowid'
      ? `SELECT rowid + 1 AS sf_rn, * FROM csv`
      : `SELECT row_number() OVER () AS sf_rn, * FROM ${scan}`;
  // The CASE follows the rule order; duplicate_id comes after, over the rows that passed 1-5.
  await run(
    'parsed',
    `CREATE TEMP TABLE parsed AS
    SELECT sf_rn AS rn, sf_reason AS reason, sf_id AS interaction_id, sf_user AS user_id,
      sf_product AS product_id, ${full ? `${tAction} AS action,` : ''} sf_ts AS ts
      ${rejects ? `, CASE WHEN sf_reason IS NOT NULL THEN ${raw} END AS raw` : ''}
    FROM (
      SELECT *, CASE
          WHEN ${missing.join(' OR ')} THEN 'missing_field'
          WHEN ${badInt.join(' OR ')} THEN 'bad_integer'
          WHEN sf_id = 0 OR sf_user = 0 THEN 'zero_id'
          WHEN sf_ts IS NULL
            OR NOT regexp_full_match(${tTime}, '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}')
            THEN 'bad_timestamp'
        END AS sf_reason
      FROM (
        SELECT *, try_cast(${tId} AS BIGINT) AS sf_id, try_cast(${tUser} AS BIGINT) AS sf_user,
          try_cast(${tProduct} AS BIGINT) AS sf_product, try_strptime(${tTime}, '%Y-%m-%d %H:%M:%S') AS sf_ts
        FROM (SELECT *, ${trimmed} FROM (${numbered}))
      )
    )`,
  );
  if (order === 'rowid') await run('drop csv', 'DROP TABLE csv');
  await run(
    'passed',
    `CREATE TEMP TABLE passed AS
    SELECT * EXCLUDE (reason), row_number() OVER (PARTITION BY interaction_id ORDER BY rn) AS occurrence
    FROM parsed WHERE reason IS NULL`,
  );
  await run(
    'valid',
    `CREATE TEMP VIEW valid AS SELECT * EXCLUDE (occurrence) FROM passed WHERE occurrence = 1`,
  );
  // pg: PostgreSQL COPY text (tab-separated, no quoting: ids, counts, timestamps and the generated
  // actions hold no tab, newline or backslash).
  const copy = (query: string, name: string): Promise<void> =>
    mode === 'pg'
      ? run(
          `copy ${name}`,
          `COPY (${query}) TO ${str(join(out, `${name}.tsv`))} (FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '')`,
        )
      : run(`copy ${name}`, `COPY (${query}) TO ${str(join(out, `${name}.parquet`))} (FORMAT parquet)`);
  const time = (column: string): string =>
    mode === 'pg' ? `strftime(${column}, '%Y-%m-%d %H:%M:%S')` : column;
  await run(
    'users',
    `CREATE TEMP TABLE users AS
    SELECT user_id, count(*) AS interaction_count FROM valid GROUP BY user_id`,
  );
  await run(
    'products',
    `CREATE TEMP TABLE products AS
    SELECT product_id, count(*) AS interaction_count FROM valid GROUP BY product_id`,
  );
  await copy(`SELECT * FROM users ORDER BY user_id`, 'users');
  await copy(`SELECT * FROM products ORDER BY product_id`, 'products');
  await copy(
    `SELECT CAST(ts AS DATE) AS day, count(*) AS interactions FROM valid GROUP BY day ORDER BY day`,
    'daily',
  );
  if (full) {
    await run(
      'pairs',
      `CREATE TEMP TABLE pairs AS
      SELECT user_id, product_id, count(*) AS interaction_count FROM valid GROUP BY user_id, product_id`,
    );
    if (mode === 'full') await copy(`SELECT * FROM pairs ORDER BY user_id, product_id`, 'pairs');
    await copy(
      `SELECT v.interaction_id, v.user_id, v.product_id, v.action, ${time('v.ts')} AS timestamp,
         u.interaction_count AS user_interaction_count, p.interaction_count AS product_interaction_count,
         pr.interaction_count AS interaction_count
       FROM valid v JOIN users u ON u.user_id = v.user_id JOIN products p ON p.product_id = v.product_id
         JOIN pairs pr ON pr.user_id = v.user_id AND pr.product_id = v.product_id`,
      'clean',
    );
    if (mode === 'full') await copy(rejectsQuery(input), 'rejects');
  }
  const counts = await conn.runAndReadAll(`SELECT
      (SELECT count(*) FROM parsed) + (SELECT count(DISTINCT line) FROM reject_errors) AS rows_read,
      (SELECT count(*) FROM valid) AS rows_valid`);
  const [rowsRead, rowsValid] = counts.getRowsJS()[0] as [bigint, bigint];
  if (mode !== 'pg') return { rowsRead: Number(rowsRead), rowsValid: Number(rowsValid) };
  const months = await conn.runAndReadAll(`SELECT DISTINCT strftime(ts, '%Y-%m') FROM valid ORDER BY 1`);
  return {
    rowsRead: Number(rowsRead),
    rowsValid: Number(rowsValid),
    months: months.getRowsJS().map((r) => String(r[0])),
  };
}

/**
 * Rejects with physical line numbers. DuckDB reports lines for malformed rows; a parsed row's line is
 * recovered from its ordinal rn: the header, plus rn, plus the malformed lines before it. Malformed
 * line i (1-based, at line L_i) has L_i - i - 1 parsed rows before it, so it precedes ordinal rn when
 * L_i - i <= rn. Empty lines are invisible to DuckDB, so each one before a row shifts its number by one.
 */
function rejectsQuery(input: string): string {
  return `WITH malformed AS (
      SELECT line, line - row_number() OVER (ORDER BY line) AS key, row_number() OVER (ORDER BY line) AS i,
        any_value(csv_line) AS raw
      FROM reject_errors GROUP BY line
    ), steps AS (SELECT key, max(i) AS before FROM malformed GROUP BY key),
    rejected AS (
      SELECT rn, reason, raw FROM parsed WHERE reason IS NOT NULL
      UNION ALL
      SELECT p.rn, 'duplicate_id', concat_ws(',', p.interaction_id, p.user_id, p.product_id, p.action,
        strftime(p.ts, '%Y-%m-%d %H:%M:%S')) FROM passed p WHERE occurrence > 1
    )
    SELECT ${str(input)} AS source_file, line AS line_number, reason, raw AS raw_line FROM (
      SELECT 1 + r.rn + coalesce(s.before, 0) AS line, r.reason, r.raw
      FROM rejected r ASOF LEFT JOIN steps s ON r.rn >= s.key
      UNION ALL
      SELECT line, 'malformed_row', trim(raw, chr(10)) FROM malformed
    ) ORDER BY line_number`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      input: { type: 'string' },
      out: { type: 'string' },
      mode: { type: 'string', default: 'counts' },
      threads: { type: 'string' },
      order: { type: 'string', default: 'rowid' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const result = await runDuckdbInteractions({
    input: values.input ?? '',
    out: values.out ?? '',
    mode: values.mode as DuckdbInteractionsMode,
    order: values.order as 'rowid' | 'window',
    verbose: values.verbose,
    ...(values.threads === undefined ? {} : { threads: Number(values.threads) }),
  });
  process.stdout.write(JSON.stringify(result) + '\n');
}

runAsEntry(import.meta.url, 'duckdb-interactions', main);
