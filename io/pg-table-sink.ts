/**
 * A job's PostgreSQL table, loaded exactly once per run: every part (a reduce partition's rows) is
 * COPYed in one transaction together with its row in the sink ledger, so a rerun of a task, a
 * restarted pod or a rerun of the whole run loads nothing twice. Three modes:
 *
 * - `replace`: parts go into a staging table `<table>__load`; `finishPgTable` swaps it in under
 *   the live name in one transaction (readers see the old rows or the new, never a mix).
 * - `once`: parts are appended to the table, once per run id (the next run id appends again).
 * - `upsert`: parts are merged into the table by its key (`INSERT … ON CONFLICT … DO UPDATE`).
 *
 * Ledger: `shardflow_sink_ledger(run_id, sink, part, rows, loaded_at)` in the table's schema;
 * part -1 marks a finished run of that sink, which is never loaded again.
 */

import { quoteIdent, quoteQualified } from './quote-ident.js';
import { encodeRowsCopyText, pgColumns, type OutputColumns } from './row-encode.js';
import type { SqlClient } from './sql-client.js';

/** A table sink as the engine hands it over. */
export interface PgTableSpec {
  schema: string;
  table: string;
  columns: OutputColumns;
  mode: 'replace' | 'once' | 'upsert';
  key?: readonly string[];
}

export const SINK_LEDGER = 'shardflow_sink_ledger';
const STAGING = '__load';
const FINISHED = -1;

function ledger(schema: string): string {
  return quoteQualified(schema, SINK_LEDGER);
}

function tableDdl(name: string, spec: PgTableSpec): string {
  const cols = pgColumns(spec.columns).map(
    ([c, t, nullable]) => `${quoteIdent(c)} ${t}${nullable ? '' : ' NOT NULL'}`,
  );
  if (spec.key && spec.key.length > 0)
    cols.push(`PRIMARY KEY (${spec.key.map((k) => quoteIdent(k)).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${name} (${cols.join(', ')})`;
}

/** Lead shard, before any part: the schema, the ledger, and the table or its staging table. */
export async function preparePgTable(
  client: SqlClient,
  spec: PgTableSpec,
  runId: string,
): Promise<'fresh' | 'finished'> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(spec.schema)}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${ledger(spec.schema)} (run_id text NOT NULL, sink text NOT NULL, part integer NOT NULL,
     rows bigint NOT NULL DEFAULT 0, loaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, sink, part))`,
  );
  return client.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
      `shardflow-sink:${spec.schema}.${spec.table}`,
    ]);
    if (await finished(tx, spec, runId)) return 'finished' as const;
    if (spec.mode === 'replace') {
      const staging = quoteQualified(spec.schema, spec.table + STAGING);
      const parts = await tx.query(
        `SELECT 1 FROM ${ledger(spec.schema)} WHERE run_id = $1 AND sink = $2 LIMIT 1`,
        [runId, spec.table],
      );
      // A staging table of another run (or of none) is dropped; this run's is resumed.
      if (parts.length === 0) await tx.query(`DROP TABLE IF EXISTS ${staging}`);
      await tx.query(tableDdl(staging, spec));
      await tx.query(`DELETE FROM ${ledger(spec.schema)} WHERE sink = $1 AND run_id <> $2 AND part >= 0`, [
        spec.table,
        runId,
      ]);
    } else {
      await tx.query(tableDdl(quoteQualified(spec.schema, spec.table), spec));
    }
    return 'fresh' as const;
  });
}

async function finished(client: SqlClient, spec: PgTableSpec, runId: string): Promise<boolean> {
  const rows = await client.query(
    `SELECT 1 FROM ${ledger(spec.schema)} WHERE run_id = $1 AND sink = $2 AND part = $3`,
    [runId, spec.table, FINISHED],
  );
  return rows.length > 0;
}

/** Loads one part once; resolves to the rows loaded, or null when it was loaded before. */
export async function loadPgPart(
  client: SqlClient,
  spec: PgTableSpec,
  runId: string,
  part: number,
  rows: readonly Record<string, unknown>[],
  where: string,
): Promise<number | null> {
  const body = encodeRowsCopyText(rows, spec.columns, where);
  const names = Object.keys(spec.columns)
    .map((c) => quoteIdent(c))
    .join(', ');
  return client.transaction(async (tx) => {
    if (await finished(tx, spec, runId)) return null;
    const claimed = await tx.query(
      `INSERT INTO ${ledger(spec.schema)} (run_id, sink, part, rows) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING part`,
      [runId, spec.table, part, rows.length],
    );
    if (claimed.length === 0) return null;
    if (rows.length === 0) return 0;
    if (spec.mode === 'upsert') {
      const temp = quoteIdent(`shardflow_upsert_${part}`);
      await tx.query(
        `CREATE TEMP TABLE ${temp} (LIKE ${quoteQualified(spec.schema, spec.table)}) ON COMMIT DROP`,
      );
      await tx.copyFrom(`COPY ${temp} (${names}) FROM STDIN`, [body]);
      const key = (spec.key ?? []).map((k) => quoteIdent(k)).join(', ');
      const rest = Object.keys(spec.columns).filter((c) => !(spec.key ?? []).includes(c));
      const set =
        rest.length === 0
          ? 'NOTHING'
          : `UPDATE SET ${rest.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(', ')}`;
      await tx.query(
        `INSERT INTO ${quoteQualified(spec.schema, spec.table)} (${names}) SELECT ${names} FROM ${temp} ON CONFLICT (${key}) DO ${set}`,
      );
      return rows.length;
    }
    const target = quoteQualified(spec.schema, spec.mode === 'replace' ? spec.table + STAGING : spec.table);
    return tx.copyFrom(`COPY ${target} (${names}) FROM STDIN`, [body]);
  });
}

/** Lead shard, every part in: swaps a `replace` table in, then marks the run finished. */
export async function finishPgTable(client: SqlClient, spec: PgTableSpec, runId: string): Promise<boolean> {
  return client.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
      `shardflow-sink:${spec.schema}.${spec.table}`,
    ]);
    if (await finished(tx, spec, runId)) return false;
    if (spec.mode === 'replace') {
      await tx.query(`DROP TABLE IF EXISTS ${quoteQualified(spec.schema, spec.table)}`);
      await tx.query(
        `ALTER TABLE ${quoteQualified(spec.schema, spec.table + STAGING)} RENAME TO ${quoteIdent(spec.table)}`,
      );
      // Index names live in the schema: give the key index the live name, so the next staging
      // table can take its own.
      if ((spec.key ?? []).length > 0)
        await tx.query(
          `ALTER INDEX IF EXISTS ${quoteQualified(spec.schema, `${spec.table}${STAGING}_pkey`)} RENAME TO ${quoteIdent(`${spec.table}_pkey`)}`,
        );
    }
    await tx.query(`INSERT INTO ${ledger(spec.schema)} (run_id, sink, part) VALUES ($1, $2, $3)`, [
      runId,
      spec.table,
      FINISHED,
    ]);
    return true;
  });
}
