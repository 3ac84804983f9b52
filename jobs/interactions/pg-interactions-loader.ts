/**
 * The interactions job's PostgreSQL sink: staging tables, clean rows COPYed over several
 * connections in parallel (each fed by a bounded channel), counts, then the atomic swap and
 * VACUUM ANALYZE. A failed run drops its staging tables and leaves the previous tables as they were.
 */

import { AsyncChannel } from './async-channel.js';
import { PG_BINARY_HEADER, PG_BINARY_TRAILER, type SqlClient } from 'shardflow/kernel';
import {
  abortInteractionsLoad,
  copyDailyCounts,
  copyInteractionRows,
  copyProductCounts,
  copyUserCounts,
  finishInteractionsLoad,
  prepareInteractionsLoad,
  type InteractionsLoadTarget,
} from './pg-interactions.js';
import type { InteractionsLoader } from './run.js';

/** Options of {@link openInteractionsLoader}. */
export interface InteractionsLoaderOptions {
  schema: string;
  /** Parallel COPY streams; default min(2, client.maxConnections). */
  streams?: number;
}

/** What a load did, for the run summary (`pg` in `--json`) and the bench. */
export interface PgLoadStats {
  schema: string;
  /** Clean rows COPYed. */
  rows: number;
  /** From the first COPY to the last row acknowledged (overlaps producing the rows). */
  copy_seconds: number;
  /** Indexes, the atomic swap and VACUUM ANALYZE. */
  finish_seconds: number;
}

/** A loader as the run command holds it. */
export type PgInteractionsLoader = InteractionsLoader & { close(): Promise<void>; stats(): PgLoadStats };

const COPY_PIECE_BYTES = 1024 * 1024;

/** A binary COPY stream: the header, every chunk of rows from the channel, the trailer. */
async function* framed(rows: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield PG_BINARY_HEADER;
  yield* rows;
  yield PG_BINARY_TRAILER;
}

export function createInteractionsLoader(
  client: SqlClient,
  options: InteractionsLoaderOptions,
): PgInteractionsLoader {
  let target: InteractionsLoadTarget | null = null;
  let channels: AsyncChannel<Uint8Array>[] = [];
  let copies: Promise<number>[] = [];
  let next = 0;
  let committed = false;
  let loaded = 0;
  let copyStarted = 0;
  let copySeconds = 0;
  let finishSeconds = 0;
  const streams = Math.max(1, Math.min(options.streams ?? 2, client.maxConnections));
  return {
    async begin(months) {
      target = await prepareInteractionsLoad(client, { schema: options.schema, months });
      channels = Array.from({ length: streams }, () => new AsyncChannel<Uint8Array>(2));
      copyStarted = performance.now();
      copies = channels.map((ch) =>
        copyInteractionRows(client, target as InteractionsLoadTarget, framed(ch), { format: 'binary' }),
      );
      // Surface a failed COPY at once rather than when the producer blocks on its channel.
      copies.forEach((p) => p.catch(() => channels.forEach((c) => c.close())));
    },
    async cleanRows(chunk) {
      // 1 MiB views, not the task's whole chunk: the driver frames (copies) each piece it is given.
      const ch = channels[next++ % channels.length];
      for (let at = 0; at < chunk.byteLength; at += COPY_PIECE_BYTES) {
        const piece = chunk.subarray(at, Math.min(chunk.byteLength, at + COPY_PIECE_BYTES));
        await Promise.race([ch.push(piece), ...copies.map((p) => p.then(() => undefined))]);
      }
    },
    async counts(kind, chunk) {
      const t = target as InteractionsLoadTarget;
      if (kind === 'users') await copyUserCounts(client, t, [chunk]);
      else if (kind === 'products') await copyProductCounts(client, t, [chunk]);
      else await copyDailyCounts(client, t, [chunk]);
    },
    async commit() {
      channels.forEach((c) => c.close());
      loaded = (await Promise.all(copies)).reduce((a, b) => a + b, 0);
      const copied = performance.now();
      copySeconds = (copied - copyStarted) / 1000;
      await finishInteractionsLoad(client, target as InteractionsLoadTarget);
      finishSeconds = (performance.now() - copied) / 1000;
      committed = true;
    },
    stats: () => ({
      schema: options.schema,
      rows: loaded,
      copy_seconds: Math.round(copySeconds * 1000) / 1000,
      finish_seconds: Math.round(finishSeconds * 1000) / 1000,
    }),
    async close() {
      channels.forEach((c) => c.close());
      if (target !== null && !committed) {
        await Promise.allSettled(copies);
        await abortInteractionsLoad(client, target).catch(() => {});
      }
    },
  };
}
