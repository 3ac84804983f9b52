import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import pg from 'pg';
import type { PoolClient, Pool } from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';

import { UsageError } from '../errors.js';
import { scrubSecrets } from './pg-config.js';
import type { PgServerTarget } from './pg-config.js';
import { TEXT_TYPE_OIDS, describeStatement, toPostgresError } from './sql-client.js';
import type { CopyChunks, SqlClient } from './sql-client.js';

/** Options for {@link openServerClient}. */
export interface PgServerClientOptions {
  /** Pool size = how many COPYs / index builds run in parallel. Default 4. */
  maxConnections?: number;
  /** Give up connecting after this many ms. Default 10000. */
  connectTimeoutMs?: number;
  /** `application_name` shown in pg_stat_activity. Default `shardflow`. */
  applicationName?: string;
}

/** Defaults for {@link PgServerClientOptions}. */
export const PG_SERVER_CLIENT_DEFAULTS = Object.freeze({
  maxConnections: 4,
  connectTimeoutMs: 10_000,
  applicationName: 'shardflow',
});

/** COPY data is sent in CopyData messages of at least this size (one socket write per message). */
const COPY_BATCH_BYTES = 64 * 1024;

type Scrub = (text: string) => string;

/**
 * Opens a `pg.Pool` on the target and checks it with `SELECT 1`, so a wrong host or password fails
 * here with a PostgresError naming the redacted URL rather than mid-load.
 */
export async function openServerClient(
  target: PgServerTarget,
  options: PgServerClientOptions = {},
): Promise<SqlClient> {
  const settings = validate(options);
  const getTypeParser = (oid: number, format?: 'text' | 'binary'): unknown =>
    TEXT_TYPE_OIDS.has(oid) && format !== 'binary'
      ? (value: string) => value
      : pg.types.getTypeParser(oid, format);
  const pool = new pg.Pool({
    ...target.config,
    max: settings.maxConnections,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    application_name: settings.applicationName,
    types: { getTypeParser } as unknown as pg.CustomTypesConfig,
  });
  // An idle connection dropped by the server must not crash the process; the next call reconnects.
  pool.on('error', () => {});
  const scrub: Scrub = (text) => scrubSecrets(text, target);
  const client = new PgPoolClient(pool, settings.maxConnections, target.display, scrub);
  try {
    await client.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  return client;
}

function validate(options: PgServerClientOptions): Required<PgServerClientOptions> {
  const settings = { ...PG_SERVER_CLIENT_DEFAULTS, ...stripUndefined(options) };
  if (!Number.isInteger(settings.maxConnections) || settings.maxConnections < 1) {
    throw new UsageError(`maxConnections must be a positive integer, got ${settings.maxConnections}`);
  }
  if (!Number.isInteger(settings.connectTimeoutMs) || settings.connectTimeoutMs < 0) {
    throw new UsageError(`connectTimeoutMs must be a non-negative integer, got ${settings.connectTimeoutMs}`);
  }
  return settings;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The pool: every call borrows a connection, so concurrent copyFrom calls run in parallel. */
class PgPoolClient implements SqlClient {
  readonly maxConnections: number;
  #pool: Pool;
  #display: string;
  #scrub: Scrub;
  #guarded = new WeakSet<PoolClient>();

  constructor(pool: Pool, maxConnections: number, display: string, scrub: Scrub) {
    this.#pool = pool;
    this.maxConnections = maxConnections;
    this.#display = display;
    this.#scrub = scrub;
  }

  async query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    const connection = await this.#connect();
    try {
      return await runQuery<R>(connection, sql, params, this.#scrub);
    } finally {
      connection.release();
    }
  }

  async copyFrom(sql: string, chunks: CopyChunks): Promise<number> {
    const connection = await this.#connect();
    let failed: Error | undefined;
    try {
      return await runCopy(connection, sql, chunks, this.#scrub);
    } catch (err) {
      failed = err as Error;
      throw err;
    } finally {
      // A failed COPY may leave the protocol mid-stream: discard that connection rather than reuse it.
      connection.release(failed);
    }
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    const connection = await this.#connect();
    let failed: Error | undefined;
    try {
      return await inTransaction(connection, fn, this.#scrub);
    } catch (err) {
      failed = err as Error;
      throw err;
    } finally {
      connection.release(failed);
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #connect(): Promise<PoolClient> {
    let connection: PoolClient;
    try {
      connection = await this.#pool.connect();
    } catch (err) {
      throw toPostgresError(err, `connect to ${this.#display}`, this.#scrub);
    }
    // pg-pool only listens for errors on idle connections; a connection lost while checked out
    // would emit an unhandled 'error' and kill the process. The running query rejects anyway.
    if (!this.#guarded.has(connection)) {
      connection.on('error', () => {});
      this.#guarded.add(connection);
    }
    return connection;
  }
}

/** One connection inside a transaction; nested transaction() calls run in the outer one. */
class PgSessionClient implements SqlClient {
  readonly maxConnections = 1;
  #connection: PoolClient;
  #scrub: Scrub;

  constructor(connection: PoolClient, scrub: Scrub) {
    this.#connection = connection;
    this.#scrub = scrub;
  }

  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return runQuery<R>(this.#connection, sql, params, this.#scrub);
  }

  copyFrom(sql: string, chunks: CopyChunks): Promise<number> {
    return runCopy(this.#connection, sql, chunks, this.#scrub);
  }

  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return fn(this);
  }

  async close(): Promise<void> {}
}

async function inTransaction<T>(
  connection: PoolClient,
  fn: (tx: SqlClient) => Promise<T>,
  scrub: Scrub,
): Promise<T> {
  await runQuery(connection, 'BEGIN', undefined, scrub);
  try {
    const result = await fn(new PgSessionClient(connection, scrub));
    await runQuery(connection, 'COMMIT', undefined, scrub);
    return result;
  } catch (err) {
    await connection.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

async function runQuery<R>(
  connection: PoolClient,
  sql: string,
  params: readonly unknown[] | undefined,
  scrub: Scrub,
): Promise<R[]> {
  try {
    const result = await connection.query(sql, params === undefined ? undefined : [...params]);
    return result.rows as R[];
  } catch (err) {
    throw toPostgresError(err, describeStatement(sql), scrub);
  }
}

async function runCopy(
  connection: PoolClient,
  sql: string,
  chunks: CopyChunks,
  scrub: Scrub,
): Promise<number> {
  let sourceError: { error: unknown } | undefined;
  async function* source(): AsyncGenerator<Uint8Array> {
    try {
      yield* batch(chunks, COPY_BATCH_BYTES);
    } catch (error) {
      sourceError = { error };
      throw error;
    }
  }
  const stream = connection.query(copyFromStdin(sql));
  try {
    // pipeline() waits for the socket to drain before pulling the next chunk: backpressure end to end.
    // A failing source destroys the COPY stream, which sends CopyFail: nothing of it is committed.
    // highWaterMark 1: Readable.from otherwise buffers 16 chunks ahead of the socket (16 × 25 MiB
    // of COPY rows measured +400 MB of peak RSS), defeating the caller's bounded queue.
    await pipeline(Readable.from(source(), { highWaterMark: 1 }), stream);
  } catch (err) {
    // The producer's own error (e.g. an InputError from decoding) passes through unchanged.
    if (sourceError !== undefined) throw sourceError.error;
    throw toPostgresError(err, describeStatement(sql), scrub);
  }
  return stream.rowCount;
}

/** Merges small chunks into batches of at least `minBytes`; large chunks pass through uncopied. */
async function* batch(chunks: CopyChunks, minBytes: number): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const chunk of chunks) {
    if (chunk.byteLength === 0) continue;
    if (pendingBytes === 0 && chunk.byteLength >= minBytes) {
      yield chunk;
      continue;
    }
    pending.push(chunk);
    pendingBytes += chunk.byteLength;
    if (pendingBytes >= minBytes) {
      yield Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}
