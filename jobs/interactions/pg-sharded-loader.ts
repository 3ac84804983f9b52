/**
 * The interactions job's PostgreSQL sink when several shards share a run: each shard loads its own
 * clean parts, each in one transaction with its ledger row (see io/pg-load-ledger.ts), so a
 * retried shard never loads a part twice; the lead shard prepares the staging tables, loads the
 * counts the same way, and swaps the tables in once every part is in.
 */

import { PG_BINARY_HEADER, PG_BINARY_TRAILER, type SqlClient } from 'shardflow/kernel';
import {
  copyDailyCounts,
  copyInteractionRows,
  copyProductCounts,
  copyUserCounts,
} from './pg-interactions.js';
import type { InteractionsLoadTarget } from './pg-interactions.js';
import {
  COUNT_PARTS,
  finishLedgerLoad,
  ledgerRows,
  loadLedgerPart,
  prepareLedgerLoad,
  type LedgerState,
} from './pg-load-ledger.js';
import type { ShardedInteractionsLoader } from './run.js';
import type { PgLoadStats } from './pg-interactions-loader.js';

/** Binary COPY pieces of 1 MiB: the driver frames (copies) each piece it is given. */
function* framed(rows: Uint8Array): Generator<Uint8Array> {
  yield PG_BINARY_HEADER;
  for (let at = 0; at < rows.byteLength; at += 1024 * 1024) yield rows.subarray(at, at + 1024 * 1024);
  yield PG_BINARY_TRAILER;
}

export type PgShardedLoader = ShardedInteractionsLoader & { close(): Promise<void>; stats(): PgLoadStats };

export function createShardedInteractionsLoader(
  client: SqlClient,
  options: { schema: string; runId: string },
): PgShardedLoader {
  const { schema, runId } = options;
  let target: InteractionsLoadTarget | null = null;
  let state: LedgerState | null = null;
  let loaded = 0;
  let copySeconds = 0;
  let finishSeconds = 0;
  const targetFor = (months: readonly string[]): InteractionsLoadTarget =>
    (target ??= Object.freeze({ schema, months: Object.freeze([...months].sort()) }));
  const counts = { users: copyUserCounts, products: copyProductCounts, daily: copyDailyCounts } as const;
  return {
    async prepare(months) {
      const prepared = await prepareLedgerLoad(client, { schema, months, runId });
      target = prepared.target;
      state = prepared.state;
    },
    async loadPart(part, rows, months) {
      const t0 = performance.now();
      const n = await loadLedgerPart(client, schema, runId, part, (tx) =>
        copyInteractionRows(tx, targetFor(months), framed(rows), { format: 'binary' }),
      );
      copySeconds += (performance.now() - t0) / 1000;
      if (n !== null) loaded += n;
    },
    async counts(kind, chunk) {
      if (state === 'finished' || target === null) return;
      const t = target;
      await loadLedgerPart(client, schema, runId, COUNT_PARTS[kind], (tx) => counts[kind](tx, t, [chunk]));
    },
    async commit() {
      if (target === null) throw new Error('commit before prepare');
      const t0 = performance.now();
      await finishLedgerLoad(client, target, runId);
      finishSeconds = (performance.now() - t0) / 1000;
      loaded = await ledgerRows(client, schema, runId);
    },
    stats: () => ({
      schema,
      rows: loaded,
      copy_seconds: Math.round(copySeconds * 1000) / 1000,
      finish_seconds: Math.round(finishSeconds * 1000) / 1000,
    }),
    close: async () => {},
  };
}
