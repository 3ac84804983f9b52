import {
  PostgresError,
  ShardflowError,
  UsageError,
  quoteIdent,
  quoteQualified,
  type CopyChunks,
  type SqlClient,
} from 'shardflow/kernel';

/** Final table names of the interactions job (in the chosen schema). */
export const INTERACTIONS_TABLES = Object.freeze({
  interactions: 'user_interactions',
  users: 'user_interaction_users',
  products: 'user_interaction_products',
  daily: 'user_interaction_daily',
});

/** COPY column order for {@link copyInteractionRows}: tab-separated text, timestamp `YYYY-MM-DD hh:mm:ss`. */
export const INTERACTION_COLUMNS = Object.freeze([
  'interaction_id',
  'user_id',
  'product_id',
  'action',
  'timestamp',
  'user_interaction_count',
  'product_interaction_count',
  'interaction_count',
]);

/** Suffix of the staging tables a load writes before the swap. */
export const STAGING_SUFFIX = '__load';

/** What {@link prepareInteractionsLoad} created; pass it to the copy and finish functions. */
export interface InteractionsLoadTarget {
  readonly schema: string;
  /** Months with a partition, `YYYY-MM`, sorted and unique. */
  readonly months: readonly string[];
}

/** Options of {@link prepareInteractionsLoad}. */
export interface InteractionsLoadOptions {
  /** Schema of the tables (`--pg-schema`); created when missing. No default here; the CLI uses `public`. */
  schema: string;
  /** Months present in the data, `YYYY-MM`; each gets a partition. Rows outside them fail the COPY. */
  months: readonly string[];
}

/** Options of {@link finishInteractionsLoad}. */
export interface FinishLoadOptions {
  /** lock_timeout of one swap attempt (0 = wait forever), so readers queued behind a blocked swap get through. Default 5000. */
  lockTimeoutMs?: number;
  /** Further swap attempts after a lock timeout or deadlock. Default 5. */
  swapRetries?: number;
}

/** Defaults for {@link FinishLoadOptions}. */
export const FINISH_LOAD_DEFAULTS = Object.freeze({ lockTimeoutMs: 5000, swapRetries: 5 });

/** Milliseconds spent in each step of {@link finishInteractionsLoad}. */
export interface FinishLoadResult {
  indexMs: number;
  swapMs: number;
  vacuumMs: number;
  swapAttempts: number;
}

const INTERACTION_DDL = `interaction_id bigint NOT NULL, user_id bigint NOT NULL, product_id bigint NOT NULL,
  action text NOT NULL, "timestamp" timestamp without time zone NOT NULL, user_interaction_count bigint NOT NULL,
  product_interaction_count bigint NOT NULL, interaction_count bigint NOT NULL`;
const INTERACTION_INDEXES = Object.freeze([
  { suffix: 'pkey', columns: ['interaction_id', 'timestamp'], primary: true },
  { suffix: 'user_id_idx', columns: ['user_id'], primary: false },
  { suffix: 'product_id_idx', columns: ['product_id'], primary: false },
  { suffix: 'timestamp_idx', columns: ['timestamp'], primary: false },
]);
const COUNT_TABLES = Object.freeze([
  { name: INTERACTIONS_TABLES.users, key: 'user_id', keyType: 'bigint', count: 'interaction_count' },
  { name: INTERACTIONS_TABLES.products, key: 'product_id', keyType: 'bigint', count: 'interaction_count' },
  { name: INTERACTIONS_TABLES.daily, key: 'day', keyType: 'date', count: 'interactions' },
]);
const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
const SQLSTATE_NO_PARTITION = '23514';
const RETRYABLE_SWAP = new Set(['55P03', '40P01']); // lock_not_available, deadlock_detected

/**
 * Starts a load: creates the schema if missing, drops staging tables left by a crashed run, then
 * creates empty, index-free staging tables (`<table>__load`) with one partition per month.
 */
export async function prepareInteractionsLoad(
  client: SqlClient,
  options: InteractionsLoadOptions,
): Promise<InteractionsLoadTarget> {
  const schema = validSchema(options.schema);
  const months = [...new Set(options.months)].sort();
  for (const month of months) {
    if (!MONTH.test(month)) throw new UsageError(`months must be YYYY-MM, got ${JSON.stringify(month)}`);
  }
  const target: InteractionsLoadTarget = Object.freeze({ schema, months: Object.freeze(months) });
  const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  // Only CREATE when missing: IF NOT EXISTS still needs CREATE privilege on the database.
  if (exists.length === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  await client.transaction(async (tx) => {
    await dropStaging(tx, schema);
    const parent = staged(INTERACTIONS_TABLES.interactions);
    await tx.query(`CREATE TABLE ${q(target, parent)} (${INTERACTION_DDL}) PARTITION BY RANGE ("timestamp")`);
    for (const month of months) {
      // Bounds are built from the validated digits of `month`: DDL cannot take parameters.
      await tx.query(
        `CREATE TABLE ${q(target, staged(partitionName(month)))} PARTITION OF ${q(target, parent)}
         FOR VALUES FROM ('${month}-01 00:00:00') TO ('${nextMonth(month)}-01 00:00:00')`,
      );
    }
    for (const t of COUNT_TABLES) {
      await tx.query(
        `CREATE TABLE ${q(target, staged(t.name))} (${quoteIdent(t.key)} ${t.keyType} NOT NULL, ${quoteIdent(t.count)} bigint NOT NULL)`,
      );
    }
  });
  return target;
}

/** COPYs interaction rows ({@link INTERACTION_COLUMNS} order; text by default, or binary) into staging; resolves to the row count. Call it concurrently with several chunk sources to load over several connections. */
export async function copyInteractionRows(
  client: SqlClient,
  target: InteractionsLoadTarget,
  chunks: CopyChunks,
  options: { format?: 'text' | 'binary' } = {},
): Promise<number> {
  const columns = INTERACTION_COLUMNS.map((c) => quoteIdent(c)).join(', ');
  const table = q(target, staged(INTERACTIONS_TABLES.interactions));
  // Binary (header, rows, trailer: see io/pg-binary-copy.ts) spares the server all text parsing.
  const format = options.format === 'binary' ? ' (FORMAT binary)' : '';
  try {
    return await client.copyFrom(`COPY ${table} (${columns}) FROM STDIN${format}`, chunks);
  } catch (err) {
    if (!(err instanceof PostgresError) || err.sqlState !== SQLSTATE_NO_PARTITION) throw err;
    const months = target.months.length === 0 ? 'none' : target.months.join(', ');
    throw new PostgresError(`${err.message}; months with a partition: ${months}`, {
      sqlState: err.sqlState,
      cause: err,
    });
  }
}

/** COPYs per-user counts, text `user_id\tcount\n`; resolves to the row count. */
export function copyUserCounts(
  client: SqlClient,
  target: InteractionsLoadTarget,
  chunks: CopyChunks,
): Promise<number> {
  return copyCounts(client, target, 0, chunks);
}

/** COPYs per-product counts, text `product_id\tcount\n`; resolves to the row count. */
export function copyProductCounts(
  client: SqlClient,
  target: InteractionsLoadTarget,
  chunks: CopyChunks,
): Promise<number> {
  return copyCounts(client, target, 1, chunks);
}

/** COPYs per-day counts, text `YYYY-MM-DD\tcount\n`; resolves to the row count. */
export function copyDailyCounts(
  client: SqlClient,
  target: InteractionsLoadTarget,
  chunks: CopyChunks,
): Promise<number> {
  return copyCounts(client, target, 2, chunks);
}

function copyCounts(client: SqlClient, target: InteractionsLoadTarget, which: number, chunks: CopyChunks) {
  const t = COUNT_TABLES[which]!;
  const sql = `COPY ${q(target, staged(t.name))} (${quoteIdent(t.key)}, ${quoteIdent(t.count)}) FROM STDIN`;
  return client.copyFrom(sql, chunks);
}

/**
 * Ends a load: builds the primary keys and indexes on the loaded staging tables (in parallel up to
 * `client.maxConnections`), then in ONE transaction drops the old tables and renames staging tables,
 * partitions and indexes to the final names, then VACUUM ANALYZEs the new tables.
 */
export async function finishInteractionsLoad(
  client: SqlClient,
  target: InteractionsLoadTarget,
  options: FinishLoadOptions = {},
): Promise<FinishLoadResult> {
  const { lockTimeoutMs, swapRetries } = { ...FINISH_LOAD_DEFAULTS, ...definedOnly(options) };
  if (!Number.isInteger(lockTimeoutMs) || lockTimeoutMs < 0) {
    throw new UsageError(`lockTimeoutMs must be a non-negative integer, got ${lockTimeoutMs}`);
  }
  if (!Number.isInteger(swapRetries) || swapRetries < 0) {
    throw new UsageError(`swapRetries must be a non-negative integer, got ${swapRetries}`);
  }
  let started = performance.now();
  await buildIndexes(client, target);
  const indexMs = performance.now() - started;

  started = performance.now();
  let swapAttempts = 0;
  for (;;) {
    swapAttempts += 1;
    try {
      await client.transaction(async (tx) => {
        await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
        await swap(tx, target);
      });
      break;
    } catch (err) {
      const retryable = err instanceof PostgresError && RETRYABLE_SWAP.has(err.sqlState ?? '');
      if (!retryable || swapAttempts > swapRetries) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100 * swapAttempts));
    }
  }
  const swapMs = performance.now() - started;

  // Fresh COPY data has no visibility map or statistics: VACUUM enables index-only scans, ANALYZE
  // gives the planner row counts. Partitions are vacuumed in parallel; ANALYZE of the parent
  // samples across partitions (and re-analyzes them, cheaply: it samples).
  started = performance.now();
  const vacuums = [
    ...target.months.map((m) => `VACUUM ${q(target, partitionName(m))}`),
    ...COUNT_TABLES.map((t) => `VACUUM (ANALYZE) ${q(target, t.name)}`),
    `ANALYZE ${q(target, INTERACTIONS_TABLES.interactions)}`,
  ];
  await runLimited(
    vacuums.map((sql) => () => client.query(sql)),
    client.maxConnections,
  );
  return { indexMs, swapMs, vacuumMs: performance.now() - started, swapAttempts };
}

/** Drops this schema's staging tables (after a failed load; a later prepare does it too). */
export async function abortInteractionsLoad(
  client: SqlClient,
  target: InteractionsLoadTarget,
): Promise<void> {
  await client.transaction((tx) => dropStaging(tx, target.schema));
}

/** Questions {@link queryInteractions} answers. */
export type InteractionsQuestion = 'daily' | 'top-users' | 'top-products';

/** Options of {@link queryInteractions}. */
export interface InteractionsQueryOptions {
  /** Schema the job loaded into (`--pg-schema`). */
  schema: string;
  question: InteractionsQuestion;
  /** Maximum rows. Default: 5 for top-users / top-products, all days for daily. */
  limit?: number;
}

/** Interactions on one calendar day. */
export interface DailyInteractionsRow {
  day: string;
  interactions: number;
}
/** One user and their interaction count; ids are strings (bigint-safe). */
export interface TopUserRow {
  user_id: string;
  interactions: number;
}
/** One product and its interaction count; ids are strings (bigint-safe). */
export interface TopProductRow {
  product_id: string;
  interactions: number;
}

/** Default `limit` of the top-users / top-products questions. */
export const DEFAULT_TOP_LIMIT = 5;

const QUESTIONS: Readonly<
  Record<InteractionsQuestion, { table: string; key: string; count: string; order: string }>
> = Object.freeze({
  daily: { table: INTERACTIONS_TABLES.daily, key: 'day', count: 'interactions', order: '"day" ASC' },
  'top-users': {
    table: INTERACTIONS_TABLES.users,
    key: 'user_id',
    count: 'interaction_count',
    order: '"interaction_count" DESC, "user_id" ASC',
  },
  'top-products': {
    table: INTERACTIONS_TABLES.products,
    key: 'product_id',
    count: 'interaction_count',
    order: '"interaction_count" DESC, "product_id" ASC',
  },
});

/**
 * Answers one question from the final tables: daily → per day ascending; top-users / top-products →
 * by count descending, ties by id ascending. Throws ShardflowError E_NO_DATA (exit 2) when the job
 * has not loaded the schema yet.
 */
export function queryInteractions(
  client: SqlClient,
  options: InteractionsQueryOptions & { question: 'daily' },
): Promise<DailyInteractionsRow[]>;
export function queryInteractions(
  client: SqlClient,
  options: InteractionsQueryOptions & { question: 'top-users' },
): Promise<TopUserRow[]>;
export function queryInteractions(
  client: SqlClient,
  options: InteractionsQueryOptions & { question: 'top-products' },
): Promise<TopProductRow[]>;
export function queryInteractions(
  client: SqlClient,
  options: InteractionsQueryOptions,
): Promise<DailyInteractionsRow[] | TopUserRow[] | TopProductRow[]>;
export async function queryInteractions(
  client: SqlClient,
  options: InteractionsQueryOptions,
): Promise<DailyInteractionsRow[] | TopUserRow[] | TopProductRow[]> {
  const schema = validSchema(options.schema);
  const spec = Object.hasOwn(QUESTIONS, options.question) ? QUESTIONS[options.question] : undefined;
  if (spec === undefined) {
    throw new UsageError(
      `question must be one of ${Object.keys(QUESTIONS).join(', ')}, got ${JSON.stringify(options.question)}`,
    );
  }
  const limit = options.limit ?? (options.question === 'daily' ? null : DEFAULT_TOP_LIMIT);
  if (limit !== null && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new UsageError(`limit must be a positive integer, got ${limit}`);
  }
  // Both columns are cast to text so the answer is identical on pg and PGlite (and bigint-safe).
  const sql = `SELECT ${quoteIdent(spec.key)}::text AS key, ${quoteIdent(spec.count)}::text AS count
    FROM ${quoteQualified(schema, spec.table)} ORDER BY ${spec.order} LIMIT $1`;
  let rows: { key: string; count: string }[];
  try {
    rows = await client.query<{ key: string; count: string }>(sql, [limit]);
  } catch (err) {
    if (err instanceof PostgresError && (err.sqlState === '42P01' || err.sqlState === '3F000')) {
      throw new ShardflowError(
        'E_NO_DATA',
        `no interactions loaded in schema "${schema}": run \`shardflow run interactions --pg …\` first`,
        { cause: err, exitCode: 2 },
      );
    }
    throw err;
  }
  const field = options.question === 'daily' ? 'day' : spec.key;
  return rows.map((r) => ({ [field]: r.key, interactions: Number(r.count) })) as unknown as
    DailyInteractionsRow[] | TopUserRow[] | TopProductRow[];
}

async function buildIndexes(client: SqlClient, target: InteractionsLoadTarget): Promise<void> {
  const parent = staged(INTERACTIONS_TABLES.interactions);
  const partitions = target.months.map((m) => staged(partitionName(m)));
  // Parent indexes ON ONLY are catalog entries (invalid until every partition's index is attached),
  // so the per-partition builds below can run in parallel on separate connections.
  for (const ix of INTERACTION_INDEXES) {
    await client.query(
      ix.primary
        ? `ALTER TABLE ONLY ${q(target, parent)} ADD CONSTRAINT ${quoteIdent(`${parent}_${ix.suffix}`)} PRIMARY KEY (${cols(ix.columns)})`
        : `CREATE INDEX ${quoteIdent(`${parent}_${ix.suffix}`)} ON ONLY ${q(target, parent)} (${cols(ix.columns)})`,
    );
  }
  // CREATE [UNIQUE] INDEX takes a SHARE lock, so builds on the same table do not block each other;
  // the primary keys are then adopted from the unique indexes (catalog-only) in one transaction.
  const builds = [
    ...partitions.flatMap((p) =>
      INTERACTION_INDEXES.map(
        (ix) =>
          `CREATE ${ix.primary ? 'UNIQUE ' : ''}INDEX ${quoteIdent(`${p}_${ix.suffix}`)} ON ${q(target, p)} (${cols(ix.columns)})`,
      ),
    ),
    ...COUNT_TABLES.map(
      (t) =>
        `CREATE UNIQUE INDEX ${quoteIdent(`${staged(t.name)}_pkey`)} ON ${q(target, staged(t.name))} (${quoteIdent(t.key)})`,
    ),
  ];
  await runLimited(
    builds.map((sql) => () => client.query(sql)),
    client.maxConnections,
  );
  await client.transaction(async (tx) => {
    for (const table of [...partitions, ...COUNT_TABLES.map((t) => staged(t.name))]) {
      const pkey = quoteIdent(`${table}_pkey`);
      await tx.query(
        `ALTER TABLE ${q(target, table)} ADD CONSTRAINT ${pkey} PRIMARY KEY USING INDEX ${pkey}`,
      );
    }
    for (const p of partitions) {
      for (const ix of INTERACTION_INDEXES) {
        await tx.query(
          `ALTER INDEX ${q(target, `${parent}_${ix.suffix}`)} ATTACH PARTITION ${q(target, `${p}_${ix.suffix}`)}`,
        );
      }
    }
  });
}

/** Inside the swap transaction: DROP the old tables, RENAME staging tables and indexes to final names. */
async function swap(tx: SqlClient, target: InteractionsLoadTarget): Promise<void> {
  const finals = Object.values(INTERACTIONS_TABLES).map((name) => q(target, name));
  // Dropping the partitioned parent drops its partitions (whatever months the old run had).
  await tx.query(`DROP TABLE IF EXISTS ${finals.join(', ')}`);
  const interactionTables = [INTERACTIONS_TABLES.interactions, ...target.months.map(partitionName)];
  for (const table of interactionTables) {
    await tx.query(`ALTER TABLE ${q(target, staged(table))} RENAME TO ${quoteIdent(table)}`);
    for (const ix of INTERACTION_INDEXES) {
      // Renaming a constraint's index renames the constraint too (…__load_pkey → …_pkey).
      await tx.query(
        `ALTER INDEX ${q(target, `${staged(table)}_${ix.suffix}`)} RENAME TO ${quoteIdent(`${table}_${ix.suffix}`)}`,
      );
    }
  }
  for (const t of COUNT_TABLES) {
    await tx.query(`ALTER TABLE ${q(target, staged(t.name))} RENAME TO ${quoteIdent(t.name)}`);
    await tx.query(
      `ALTER INDEX ${q(target, `${staged(t.name)}_pkey`)} RENAME TO ${quoteIdent(`${t.name}_pkey`)}`,
    );
  }
}

async function dropStaging(tx: SqlClient, schema: string): Promise<void> {
  const stale = await tx.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname LIKE $2`,
    [schema, `user\\_interaction%${STAGING_SUFFIX.replaceAll('_', '\\_')}`],
  );
  if (stale.length > 0) {
    await tx.query(`DROP TABLE IF EXISTS ${stale.map((r) => quoteQualified(schema, r.relname)).join(', ')}`);
  }
}

/** Runs tasks with at most `limit` in flight; stops starting new ones after a failure, waits for the rest. */
async function runLimited(tasks: ReadonlyArray<() => Promise<unknown>>, limit: number): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < tasks.length) {
      const task = tasks[next++]!;
      try {
        await task();
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
  if (failure !== undefined) throw failure.error;
}

/** Validates `--pg-schema` once at the edge (also used by the query side). */
function validSchema(schema: string): string {
  if (typeof schema !== 'string') throw new UsageError('schema (--pg-schema) must be a string');
  quoteIdent(schema, 'schema (--pg-schema)');
  return schema;
}

function partitionName(month: string): string {
  return `${INTERACTIONS_TABLES.interactions}_p${month.replace('-', '_')}`;
}

function nextMonth(month: string): string {
  const [year, mm] = month.split('-').map(Number) as [number, number];
  return mm === 12 ? `${year + 1}-01` : `${year}-${String(mm + 1).padStart(2, '0')}`;
}

function staged(name: string): string {
  return `${name}${STAGING_SUFFIX}`;
}

function q(target: InteractionsLoadTarget, name: string): string {
  return quoteQualified(target.schema, name);
}

function cols(columns: readonly string[]): string {
  return columns.map((c) => quoteIdent(c)).join(', ');
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
