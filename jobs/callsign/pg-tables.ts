/**
 * The callsign job's PostgreSQL tables (`--pg`): its session aggregates as `callsign_sessions`
 * and its rejects as `callsign_rejects`, both replaced atomically per run through the engine's
 * table sink (io/pg-table-sink.ts): each part is COPYed in one transaction with its row in the
 * sink ledger, and the staging tables are swapped in once every part is in. A rerun with the same
 * run id loads nothing twice: a part already in the ledger is skipped, a finished run is skipped
 * whole.
 */

import {
  finishPgTable,
  loadPgPart,
  openSqlClient,
  preparePgTable,
  type PgServerTarget,
  type PgTableSpec,
} from 'shardflow/kernel';
import type { CallsignTables } from './run.js';

/** The tables' names, in the order they are prepared and swapped in. */
export const CALLSIGN_TABLES = Object.freeze({
  sessions: 'callsign_sessions',
  rejects: 'callsign_rejects',
});

/** The columns of `callsign_sessions`: the aggregated-result rows. */
const SESSION_COLUMNS = Object.freeze({
  profile_id: 'string',
  session_id: 'string?',
  collections: 'int64',
  weighted_mean_score: 'double?',
  mean_swipe_score: 'double?',
  failed_keystroke_predictions: 'int64',
} as const);

/** The columns of `callsign_rejects`: the rejects parts'. */
const REJECT_COLUMNS = Object.freeze({
  source: 'string',
  line: 'int64',
  reason: 'string',
  raw: 'string',
} as const);

/** What a run loaded, for the summary. */
export interface CallsignPgStats {
  schema: string;
  tables: { sessions: string; rejects: string };
  /** Rows loaded by this run (0 for parts loaded before under the same run id). */
  rows: { sessions: number; rejects: number };
}

/** The open tables of one run: feed `tables` part by part, then `finish` swaps them in. */
export interface CallsignPgSink {
  readonly tables: CallsignTables;
  finish(): Promise<CallsignPgStats>;
  close(): Promise<void>;
}

/** Prepares both tables for `runId` (resuming this run's staging tables) on the server `target`. */
export async function openCallsignPgSink(
  target: PgServerTarget,
  schema: string,
  runId: string,
): Promise<CallsignPgSink> {
  const client = await openSqlClient(target, { maxConnections: 1 });
  try {
    const sessions: PgTableSpec = {
      schema,
      table: CALLSIGN_TABLES.sessions,
      columns: SESSION_COLUMNS,
      mode: 'replace',
    };
    const rejects: PgTableSpec = {
      schema,
      table: CALLSIGN_TABLES.rejects,
      columns: REJECT_COLUMNS,
      mode: 'replace',
    };
    // A table this run id finished before (a crash between the two swaps) is left as it is.
    const fresh = new Map<PgTableSpec, boolean>();
    for (const spec of [sessions, rejects])
      fresh.set(spec, (await preparePgTable(client, spec, runId)) === 'fresh');
    const loaded = { sessions: 0, rejects: 0 };
    const load = async (
      spec: PgTableSpec,
      key: keyof typeof loaded,
      part: number,
      rows: readonly object[],
    ) => {
      if (!fresh.get(spec)) return;
      const where = `callsign, ${schema}.${spec.table} part ${part}`;
      loaded[key] +=
        (await loadPgPart(client, spec, runId, part, rows as Record<string, unknown>[], where)) ?? 0;
    };
    return {
      tables: {
        sessions: (part, rows) => load(sessions, 'sessions', part, rows),
        rejects: (part, rows) => load(rejects, 'rejects', part, rows),
      },
      async finish() {
        for (const spec of [sessions, rejects]) if (fresh.get(spec)) await finishPgTable(client, spec, runId);
        return { schema, tables: { ...CALLSIGN_TABLES }, rows: { ...loaded } };
      },
      close: () => client.close(),
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}
