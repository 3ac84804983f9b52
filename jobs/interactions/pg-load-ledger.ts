/**
 * A load of the interactions tables shared by several shards (pods), each loading its own parts,
 * made safe to retry by a ledger table: every part is COPYed in one transaction with its ledger row
 * `(run_id, part)`, so a part is in the staging tables exactly once however often a shard reruns.
 * The lead shard prepares (or resumes) the staging tables and, once every part is in, loads the
 * counts the same way and swaps the tables in (see {@link finishInteractionsLoad}).
 *
 * Marker rows (negative parts) record the run's state: prepared, finished. A run that finished is
 * never loaded again; a crash between the swap and the finished marker is recognised (the run was
 * prepared but its staging tables are gone). One load per schema at a time: other runs' ledger
 * rows and staging tables are dropped when a new run prepares.
 */

import { quoteIdent, quoteQualified, type SqlClient } from 'shardflow/kernel';
import {
  INTERACTIONS_TABLES,
  STAGING_SUFFIX,
  finishInteractionsLoad,
  prepareInteractionsLoad,
  type InteractionsLoadTarget,
} from './pg-interactions.js';

/** The ledger table, in the load's schema. */
export const LEDGER_TABLE = 'shardflow_load_ledger';

/** Marker parts; clean-row parts are 0, 1, 2, …; count tables use {@link COUNT_PARTS}. */
const PREPARED = -1;
const FINISHED = -2;
/** Ledger parts of the per-user, per-product and per-day counts. */
export const COUNT_PARTS = Object.freeze({ users: -10, products: -11, daily: -12 });

/** What {@link prepareLedgerLoad} found: a new load, one to resume, or one already swapped in. */
export type LedgerState = 'fresh' | 'resumed' | 'finished';

function ledger(schema: string): string {
  return quoteQualified(schema, LEDGER_TABLE);
}

/** Lead shard: starts the run's load, or resumes it; under an advisory lock on the schema. */
export async function prepareLedgerLoad(
  client: SqlClient,
  options: { schema: string; months: readonly string[]; runId: string },
): Promise<{ target: InteractionsLoadTarget; state: LedgerState }> {
  const { schema, runId } = options;
  const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (exists.length === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${ledger(schema)} (run_id text NOT NULL, part integer NOT NULL,
     rows bigint NOT NULL DEFAULT 0, loaded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, part))`,
  );
  return client.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`shardflow-load:${schema}`]);
    const markers = new Set(
      (
        await tx.query<{ part: number }>(
          `SELECT part FROM ${ledger(schema)} WHERE run_id = $1 AND part < 0`,
          [runId],
        )
      ).map((r) => Number(r.part)),
    );
    const target: InteractionsLoadTarget = Object.freeze({
      schema,
      months: Object.freeze([...options.months].sort()),
    });
    if (markers.has(FINISHED)) return { target, state: 'finished' as const };
    if (markers.has(PREPARED)) {
      const staging = await tx.query(
        `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
        [schema, `${INTERACTIONS_TABLES.interactions}${STAGING_SUFFIX}`],
      );
      if (staging.length > 0) return { target, state: 'resumed' as const };
      // Prepared, and its staging tables are gone: they were swapped in before the marker landed.
      await markFinished(tx, schema, runId);
      return { target, state: 'finished' as const };
    }
    const prepared = await prepareInteractionsLoad(tx, { schema, months: options.months });
    await tx.query(`DELETE FROM ${ledger(schema)} WHERE run_id <> $1`, [runId]);
    await tx.query(`INSERT INTO ${ledger(schema)} (run_id, part) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
      runId,
      PREPARED,
    ]);
    return { target: prepared, state: 'fresh' as const };
  });
}

/**
 * Loads one part once: in one transaction, claims `(runId, part)` in the ledger and runs `copy`.
 * Resolves to the rows copied, or null when the part was already loaded (or the run finished).
 */
export async function loadLedgerPart(
  client: SqlClient,
  schema: string,
  runId: string,
  part: number,
  copy: (tx: SqlClient) => Promise<number>,
): Promise<number | null> {
  return client.transaction(async (tx) => {
    const done = await tx.query(`SELECT 1 FROM ${ledger(schema)} WHERE run_id = $1 AND part = $2`, [
      runId,
      FINISHED,
    ]);
    if (done.length > 0) return null;
    // A concurrent claim of the same part waits here for the other transaction, then finds it.
    const claimed = await tx.query(
      `INSERT INTO ${ledger(schema)} (run_id, part) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING part`,
      [runId, part],
    );
    if (claimed.length === 0) return null;
    const rows = await copy(tx);
    await tx.query(`UPDATE ${ledger(schema)} SET rows = $3 WHERE run_id = $1 AND part = $2`, [
      runId,
      part,
      rows,
    ]);
    return rows;
  });
}

/** Lead shard, every part in: indexes, the atomic swap, VACUUM ANALYZE, then the finished marker. */
export async function finishLedgerLoad(
  client: SqlClient,
  target: InteractionsLoadTarget,
  runId: string,
): Promise<boolean> {
  const done = await client.query(`SELECT 1 FROM ${ledger(target.schema)} WHERE run_id = $1 AND part = $2`, [
    runId,
    FINISHED,
  ]);
  if (done.length > 0) return false;
  await finishInteractionsLoad(client, target);
  await markFinished(client, target.schema, runId);
  return true;
}

/** Rows of clean parts the ledger holds for `runId` (parts ≥ 0). */
export async function ledgerRows(client: SqlClient, schema: string, runId: string): Promise<number> {
  const [row] = await client.query<{ rows: string | null }>(
    `SELECT sum(rows)::text AS rows FROM ${ledger(schema)} WHERE run_id = $1 AND part >= 0`,
    [runId],
  );
  return Number(row?.rows ?? 0);
}

async function markFinished(client: SqlClient, schema: string, runId: string): Promise<void> {
  await client.query(`INSERT INTO ${ledger(schema)} (run_id, part) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
    runId,
    FINISHED,
  ]);
}
