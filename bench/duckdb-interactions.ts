/**
 * The benchmark peer: the interactions job written as DuckDB SQL. Standalone script:
 *   node dist/bench/duckdb-interactions.js --input FILE --out DIR --mode counts|full [--threads N]
 * counts writes users/products/daily Parquet; full also writes clean, pairs and rejects. Prints one
 * JSON line `{ engine, mode, threads, seconds, rows_read, rows_valid, peak_rss_bytes }` on stdout.
 * Where its semantics differ from shardflow's is listed in bench/README.md.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import { mkdir, open, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { InputError, ShardflowError, UsageError } from '../errors.js';

/** Options of {@link runDuckdbInteractions}. */
export interface DuckdbInteractionsOptions {
  /** Input CSV path (required). */
  input: string;
  /** Output folder for the Parquet files (required); created when missing. */
  out: string;
  /** `counts`: users, products, daily; `full`: also clean, pairs, rejects. Default `counts`. */
  mode?: 'counts' | 'full';
  /** DuckDB worker threads. Default os.availableParallelism(). */
  threads?: number;
  /** Print each statement's wall time to stderr. Default false. */
  verbose?: boolean;
}

/** The one JSON line the script prints. */
export interface DuckdbInteractionsResult {
  engine: 'duckdb';
  mode: 'counts' | 'full';
  threads: number;
  seconds: number;
  rows_read: number;
  rows_valid: number;
  peak_rss_bytes: number;
}

const COLUMNS = ['interaction_id', 'user_id', 'product_id', 'action', 'timestamp'] as const;

/** Runs the interactions job in DuckDB and returns the summary line's fields. */
export async function runDuckdbInteractions(
  options: DuckdbInteractionsOptions,
): Promise<DuckdbInteractionsResult> {
  const mode = options.mode ?? 'counts';
  if (mode !== 'counts' && mode !== 'full') throw new UsageError('--mode must be counts or full');
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
    const { rowsRead, rowsValid } = await runJob(conn, run, input, out, header, mode);
    conn.closeSync();
    return {
      engine: 'duckdb',
      mode,
      threads,
      seconds: (performance.now() - started) / 1000,
      rows_read: rowsRead,
      rows_valid: rowsValid,
      peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
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
  mode: 'counts' | 'full',
): Promise<{ rowsRead: number; rowsValid: number }> {
  const full = mode === 'full';
  const columns = header.names.map((n) => `${str(n)}: 'VARCHAR'`).join(', ');
  // auto_detect off: the sniffer gives up on files with many bad rows, and the header gives the columns.
  // store_rejects keeps rows with the wrong field count (and unterminated quotes) as malformed_row.
  const scan = `read_csv(${str(input)}, auto_detect = false, header = true, delim = ',', quote = '"',
    escape = '"', columns = {${columns}}, store_rejects = true)`;
  const t = (c: (typeof COLUMNS)[number]): string => `trim(${ident(header.job[c])}, ' ')`;
  const missing = COLUMNS.map((c) => `coalesce(${t(c)}, '') IN ('', 'null', 'NULL')`).join(' OR ');
  const badInt = COLUMNS.slice(0, 3)
    .map((c) => `NOT (regexp_full_match(${t(c)}, '[0-9]+') AND try_cast(${t(c)} AS BIGINT) IS NOT NULL)`)
    .join(' OR ');
  const raw = `concat_ws(',', ${header.names.map((n) => `coalesce(${ident(n)}, '')`).join(', ')})`;
  const typed = (c: (typeof COLUMNS)[number], as: string): string =>
    `CASE WHEN sf_reason IS NULL THEN ${as === 'VARCHAR' ? t(c) : `try_cast(${t(c)} AS ${as})`} END`;
  // The CASE follows the rule order; duplicate_id comes after, over the rows that passed 1-5.
  // sf_ names keep the helper columns apart from whatever extra columns the file has.
  await run(
    'parsed',
    `CREATE TEMP TABLE parsed AS
    SELECT sf_rn AS rn, sf_reason AS reason,
      ${typed('interaction_id', 'BIGINT')} AS interaction_id,
      ${typed('user_id', 'BIGINT')} AS user_id,
      ${typed('product_id', 'BIGINT')} AS product_id,
      ${full ? `${typed('action', 'VARCHAR')} AS action,` : ''}
      CASE WHEN sf_reason IS NULL THEN sf_ts END AS ts
      ${full ? `, CASE WHEN sf_reason IS NOT NULL THEN ${raw} END AS raw` : ''}
    FROM (
      SELECT *, CASE
          WHEN ${missing} THEN 'missing_field'
          WHEN ${badInt} THEN 'bad_integer'
          WHEN try_cast(${t('interaction_id')} AS BIGINT) = 0 OR try_cast(${t('user_id')} AS BIGINT) = 0
            THEN 'zero_id'
          WHEN NOT regexp_full_match(${t('timestamp')}, '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}')
            OR sf_ts IS NULL THEN 'bad_timestamp'
        END AS sf_reason
      FROM (
        -- An empty OVER () numbers rows in file order:
        -- https://duckdb.org/docs/stable/sql/dialect/order_preservation
        SELECT *, try_strptime(${t('timestamp')}, '%Y-%m-%d %H:%M:%S') AS sf_ts, row_number() OVER () AS sf_rn
        FROM ${scan}
      )
    )`,
  );
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
  const copy = (query: string, name: string): Promise<void> =>
    run(`copy ${name}`, `COPY (${query}) TO ${str(join(out, `${name}.parquet`))} (FORMAT parquet)`);
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
    await copy(`SELECT * FROM pairs ORDER BY user_id, product_id`, 'pairs');
    await copy(
      `SELECT v.interaction_id, v.user_id, v.product_id, v.action, v.ts AS timestamp,
         u.interaction_count AS user_interaction_count, p.interaction_count AS product_interaction_count,
         pr.interaction_count AS interaction_count
       FROM valid v JOIN users u ON u.user_id = v.user_id JOIN products p ON p.product_id = v.product_id
         JOIN pairs pr ON pr.user_id = v.user_id AND pr.product_id = v.product_id`,
      'clean',
    );
    await copy(rejectsQuery(input), 'rejects');
  }
  const counts = await conn.runAndReadAll(`SELECT
      (SELECT count(*) FROM parsed) + (SELECT count(DISTINCT line) FROM reject_errors) AS rows_read,
      (SELECT count(*) FROM valid) AS rows_valid`);
  const [rowsRead, rowsValid] = counts.getRowsJS()[0] as [bigint, bigint];
  return { rowsRead: Number(rowsRead), rowsValid: Number(rowsValid) };
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
      verbose: { type: 'boolean', default: false },
    },
  });
  const result = await runDuckdbInteractions({
    input: values.input ?? '',
    out: values.out ?? '',
    mode: values.mode as 'counts' | 'full',
    verbose: values.verbose,
    ...(values.threads === undefined ? {} : { threads: Number(values.threads) }),
  });
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`duckdb-interactions: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof ShardflowError ? err.exitCode : 1;
  });
}
