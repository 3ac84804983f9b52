import { PostgresError } from '../errors.js';
import type { PgTarget } from './pg-config.js';

/** Data for one COPY ... FROM STDIN, in the statement's format (text or binary), in order, in chunks of any size. */
export type CopyChunks = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * The few operations the job's SQL needs, served identically by a `pg` pool and by PGlite.
 * A pooled client runs each call on any free connection, so calls that must share a session
 * (SET, temp tables) go inside `transaction`. Values of int8, numeric, date and timestamp types
 * come back as their PostgreSQL text form (bigint-safe, timezone-free) on both implementations.
 */
export interface SqlClient {
  /** How many calls can run at once (pool size); 1 for PGlite and inside a transaction. */
  readonly maxConnections: number;
  /** Runs one statement with `$1..$n` parameters and returns its rows as objects. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs a `COPY ... FROM STDIN` statement fed by `chunks`; resolves to the rows copied. */
  copyFrom(sql: string, chunks: CopyChunks): Promise<number>;
  /** Runs `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws. Nested calls join the outer transaction. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  /** Releases the pool / database; a no-op on the client handed to a transaction callback. */
  close(): Promise<void>;
}

/** Options for {@link openSqlClient}; each is passed to the implementation that uses it. */
export interface OpenSqlClientOptions {
  /** Pool size for a server (parallel COPY fan-out). Default 4. Ignored for PGlite (always 1). */
  maxConnections?: number;
  /** Connect timeout for a server in ms. Default 10000. */
  connectTimeoutMs?: number;
}

/** Type OIDs both clients return as text: int8, numeric, date, timestamp, timestamptz. */
export const TEXT_TYPE_OIDS: ReadonlySet<number> = new Set([20, 1700, 1082, 1114, 1184]);

/**
 * Opens the client for a resolved target: `pg` pool for a server, PGlite for embedded. The
 * implementations are imported lazily so a server run never loads PGlite's WASM and vice versa.
 */
export async function openSqlClient(
  target: PgTarget,
  options: OpenSqlClientOptions = {},
): Promise<SqlClient> {
  if (target.kind === 'server') {
    const { openServerClient } = await import('./pg-server-client.js');
    return openServerClient(target, options);
  }
  const { openEmbeddedClient } = await import('./pg-embedded-client.js');
  return openEmbeddedClient(target);
}

const QUALIFIED_NAME = /"(?:[^"]|"")+"\s*\.\s*"(?:[^"]|"")+"/;
const QUOTED_NAME = /"(?:[^"]|"")+"/;
const OBJECT_WORDS = new Set(['TABLE', 'INDEX', 'SCHEMA', 'UNIQUE', 'IF', 'EXISTS', 'NOT', 'ONLY']);

/**
 * A short name for a statement in error messages: its leading keywords and the first
 * (schema-qualified if any) quoted name, e.g. `CREATE TABLE "s"."t"` or `COPY "s"."t"`.
 */
export function describeStatement(sql: string): string {
  const words = sql.trim().split(/\s+/);
  const head: string[] = [];
  for (const word of words) {
    const upper = word.toUpperCase();
    if (head.length === 0 && /^[A-Za-z]+$/.test(word)) head.push(upper);
    else if (head.length > 0 && OBJECT_WORDS.has(upper)) head.push(upper);
    else break;
  }
  const name = QUALIFIED_NAME.exec(sql)?.[0] ?? QUOTED_NAME.exec(sql)?.[0];
  const verb = head.join(' ') || 'statement';
  return name === undefined ? verb : `${verb} ${name.replace(/\s+/g, '')}`;
}

/** The fields we read from `pg` DatabaseError / PGlite DatabaseError / Node system errors. */
interface DriverError {
  message?: unknown;
  code?: unknown;
  detail?: unknown;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
const MAX_DETAIL = 200;

/**
 * Wraps a driver error as a one-line PostgresError naming the operation (`what`, usually
 * {@link describeStatement}) and keeping the SQLSTATE; `scrub` removes secrets from the text.
 */
export function toPostgresError(err: unknown, what: string, scrub: (text: string) => string): PostgresError {
  if (err instanceof PostgresError) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as DriverError;
  const sqlState = typeof e.code === 'string' && SQLSTATE.test(e.code) ? e.code : undefined;
  let text = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  // Node system errors (ECONNREFUSED...) carry their code in `code` but not always in the message.
  if (sqlState === undefined && typeof e.code === 'string' && !text.includes(e.code)) text += ` (${e.code})`;
  if (typeof e.detail === 'string' && e.detail !== '') text += `: ${e.detail.slice(0, MAX_DETAIL)}`;
  const suffix = sqlState === undefined ? '' : ` (SQLSTATE ${sqlState})`;
  const raw = `${what} failed: ${text}${suffix}`.replace(/\s*\n\s*/g, ' ');
  const message = scrub(raw);
  // The cause helps debugging, but only server errors whose text held no secret are kept: a
  // logger printing the cause chain must not undo the scrubbing.
  const keepCause = sqlState !== undefined && message === raw;
  return new PostgresError(message, { sqlState, cause: keepCause ? err : undefined });
}
