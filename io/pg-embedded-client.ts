import { PGlite } from '@electric-sql/pglite';
import type { Transaction } from '@electric-sql/pglite';

import { PostgresError } from '../errors.js';
import type { PgEmbeddedTarget } from './pg-config.js';
import { TEXT_TYPE_OIDS, describeStatement, toPostgresError } from './sql-client.js';
import type { CopyChunks, SqlClient } from './sql-client.js';

/**
 * COPY data PGlite accepts in one statement. PGlite has no COPY FROM STDIN: the whole payload is
 * handed over as one Blob (`/dev/blob`) and copied into WASM memory (32-bit address space), so the
 * embedded path is for demo-sized data. 256 MiB ≈ 4-5 million interaction rows (measured: 254 MB
 * loads in ~32 s at ~2.5 GB RSS; 100k rows take ~0.18 s).
 */
export const PGLITE_MAX_COPY_BYTES = 256 * 1024 * 1024;

const STDIN = /\bFROM\s+STDIN\b/i;
const identity = (value: string): string => value;
const PARSERS = Object.freeze(Object.fromEntries([...TEXT_TYPE_OIDS].map((oid) => [oid, identity])));
const noScrub = (text: string): string => text;

/** The part of PGlite and of its Transaction that the client uses. */
type PgliteQueryable = Pick<Transaction, 'query'>;

/**
 * Starts PGlite (in-memory, or persisted in `target.dataDir`) behind the SqlClient interface.
 * One connection: maxConnections is 1 and concurrent calls queue inside PGlite. Startup takes
 * about 3 s (WASM compile + initdb), so open it once per process.
 */
export async function openEmbeddedClient(target: Pick<PgEmbeddedTarget, 'dataDir'> = {}): Promise<SqlClient> {
  try {
    const db = await PGlite.create({ dataDir: target.dataDir, parsers: { ...PARSERS } });
    return new PgliteClient(db);
  } catch (err) {
    throw toPostgresError(
      err,
      `start PGlite${target.dataDir === undefined ? '' : ` in ${target.dataDir}`}`,
      noScrub,
    );
  }
}

class PgliteClient implements SqlClient {
  readonly maxConnections = 1;
  #db: PGlite;

  constructor(db: PGlite) {
    this.#db = db;
  }

  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return runQuery<R>(this.#db, sql, params);
  }

  copyFrom(sql: string, chunks: CopyChunks): Promise<number> {
    return runCopy(this.#db, sql, chunks);
  }

  async transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    try {
      return await this.#db.transaction((tx) => fn(new PgliteTransactionClient(tx)));
    } catch (err) {
      // Errors from statements are already wrapped; this catches BEGIN/COMMIT failures.
      throw toPostgresError(err, 'transaction', noScrub);
    }
  }

  async close(): Promise<void> {
    if (!this.#db.closed) await this.#db.close();
  }
}

class PgliteTransactionClient implements SqlClient {
  readonly maxConnections = 1;
  #tx: Transaction;

  constructor(tx: Transaction) {
    this.#tx = tx;
  }

  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return runQuery<R>(this.#tx, sql, params);
  }

  copyFrom(sql: string, chunks: CopyChunks): Promise<number> {
    return runCopy(this.#tx, sql, chunks);
  }

  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return fn(this);
  }

  async close(): Promise<void> {}
}

async function runQuery<R>(db: PgliteQueryable, sql: string, params?: readonly unknown[]): Promise<R[]> {
  try {
    const result = await db.query<R>(sql, params === undefined ? undefined : [...params]);
    return result.rows;
  } catch (err) {
    throw toPostgresError(err, describeStatement(sql), noScrub);
  }
}

async function runCopy(db: PgliteQueryable, sql: string, chunks: CopyChunks): Promise<number> {
  if (!STDIN.test(sql)) {
    throw new PostgresError(
      `${describeStatement(sql)} failed: copyFrom needs a COPY ... FROM STDIN statement`,
    );
  }
  const parts: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.byteLength;
    if (bytes > PGLITE_MAX_COPY_BYTES) {
      throw new PostgresError(
        `${describeStatement(sql)} failed: more than ${PGLITE_MAX_COPY_BYTES} bytes for the embedded PGlite; configure a PostgreSQL server with --pg or DATABASE_URL`,
      );
    }
    parts.push(chunk);
  }
  try {
    const result = await db.query(sql.replace(STDIN, "FROM '/dev/blob'"), [], {
      blob: new Blob(parts),
    });
    return result.affectedRows ?? 0;
  } catch (err) {
    throw toPostgresError(err, describeStatement(sql), noScrub);
  }
}
