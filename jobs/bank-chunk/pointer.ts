/**
 * The chunker's pointer (issue #11, X): how many records of a source are already chunked. With a
 * PostgreSQL server it is a row of `transaction_pointer` (the seed's table, keyed by source),
 * advanced only after the chunk's object is committed; without one it is read off the chunks
 * already under `--out`: the highest-named chunk's first index plus its record count.
 *
 * Either way a kill at any moment loses nothing and duplicates nothing: a chunk committed but not
 * yet counted in the table is written again with the same bytes (same records, same name), and
 * a pointer beyond the chunks present (an operator consumed them) is trusted as it is.
 */

import { relative, resolve, sep } from 'node:path';
import { isS3Url, quoteIdent, quoteQualified, storageFor, type SqlClient } from 'shardflow/kernel';
import { RecordSplitter } from './records.js';

export const POINTER_TABLE = 'transaction_pointer';

/** `txn_batch_<first record index, 10 digits>.csv`: no timestamp, so a rerun writes the same name. */
export const CHUNK_NAME = /^txn_batch_(\d{10,})\.csv$/;

/** The object name of the chunk whose first record is record `first`. */
export function chunkName(first: number): string {
  return `txn_batch_${String(first).padStart(10, '0')}.csv`;
}

export interface ChunkPointer {
  /** Where the pointer lives, for the summary: `postgres` or `chunks`. */
  readonly kind: 'postgres' | 'chunks';
  /** Records already chunked. */
  read(): Promise<number>;
  /** Records chunked now (after the chunk ending there is committed). */
  advance(lastIndex: number): Promise<void>;
  close(): Promise<void>;
}

/** SQLSTATEs of a CREATE … IF NOT EXISTS that lost a race with another process doing the same. */
const CREATE_RACE = new Set(['23505', '42P07']);

/** The pointer row of `source` in `schema`.transaction_pointer (created when missing). */
export async function pgPointer(sql: SqlClient, schema: string, source: string): Promise<ChunkPointer> {
  const table = quoteQualified(schema, POINTER_TABLE);
  const ignoreRace = (err: unknown) => {
    if (!CREATE_RACE.has(String((err as { sqlState?: unknown }).sqlState))) throw err;
  };
  await sql.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`).catch(ignoreRace);
  await sql
    .query(
      `CREATE TABLE IF NOT EXISTS ${table} (id serial PRIMARY KEY, source text UNIQUE NOT NULL,
       last_index bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now())`,
    )
    .catch(ignoreRace);
  await sql.query(`INSERT INTO ${table} (source) VALUES ($1) ON CONFLICT (source) DO NOTHING`, [source]);
  return {
    kind: 'postgres',
    async read() {
      const rows = await sql.query<{ last_index: string }>(
        `SELECT last_index FROM ${table} WHERE source = $1`,
        [source],
      );
      return Number(rows[0]?.last_index ?? 0);
    },
    async advance(lastIndex) {
      await sql.query(`UPDATE ${table} SET last_index = $2, updated_at = now() WHERE source = $1`, [
        source,
        lastIndex,
      ]);
    },
    close: () => sql.close(),
  };
}

/** The pointer read off the chunks under `out` (nothing to advance: the chunk is the record). */
export function chunksPointer(out: string): ChunkPointer {
  return {
    kind: 'chunks',
    read: () => chunkedRecords(out),
    advance: async () => {},
    close: async () => {},
  };
}

/** The highest-named chunk directly under `out`: its first index plus its records; 0 with none. */
export async function chunkedRecords(out: string): Promise<number> {
  const storage = await storageFor(out);
  let last: { url: string; first: number } | null = null;
  for (const o of await storage.list(out)) {
    const m = CHUNK_NAME.exec(childName(out, o.url));
    if (m === null) continue;
    const first = Number(m[1]);
    if (last === null || first > last.first) last = { url: o.url, first };
  }
  if (last === null) return 0;
  const splitter = new RecordSplitter(last.url, () => {});
  for await (const block of storage.read(last.url)) splitter.push(block);
  splitter.end();
  return last.first + splitter.records;
}

/** The name of `url` when it lies directly under `out` (local path or s3:// prefix); '' otherwise. */
function childName(out: string, url: string): string {
  if (isS3Url(out)) {
    const prefix = out.endsWith('/') ? out : `${out}/`;
    const name = url.startsWith(prefix) ? url.slice(prefix.length) : '';
    return name.includes('/') ? '' : name;
  }
  const name = relative(resolve(out), resolve(url));
  return name.includes(sep) ? '' : name;
}
