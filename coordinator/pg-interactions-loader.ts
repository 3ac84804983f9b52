/**
 * The interactions job's PostgreSQL sink: staging tables, clean rows COPYed over several
 * connections in parallel (each fed by a bounded channel), counts, then the atomic swap and
 * VACUUM ANALYZE. A failed run drops its staging tables and leaves the previous tables as they were.
 */

import { AsyncChannel } from './async-channel.js';
import type { SqlClient } from '../io/sql-client.js';
import {
  abortInteractionsLoad,
  copyDailyCounts,
  copyInteractionRows,
  copyProductCounts,
  copyUserCounts,
  finishInteractionsLoad,
  prepareInteractionsLoad,
  type InteractionsLoadTarget,
} from '../io/pg-interactions.js';
import type { InteractionsLoader } from '../jobs/interactions/run.js';

/** Options of {@link openInteractionsLoader}. */
export interface InteractionsLoaderOptions {
  schema: string;
  /** Parallel COPY streams; default min(2, client.maxConnections). */
  streams?: number;
}

export function createInteractionsLoader(
  client: SqlClient,
  options: InteractionsLoaderOptions,
): InteractionsLoader & { close(): Promise<void>; rows(): number } {
  let target: InteractionsLoadTarget | null = null;
  let channels: AsyncChannel<Uint8Array>[] = [];
  let copies: Promise<number>[] = [];
  let next = 0;
  let committed = false;
  let loaded = 0;
  const streams = Math.max(1, Math.min(options.streams ?? 2, client.maxConnections));
  return {
    async begin(months) {
      target = await prepareInteractionsLoad(client, { schema: options.schema, months });
      channels = Array.from({ length: streams }, () => new AsyncChannel<Uint8Array>(2));
      copies = channels.map((ch) => copyInteractionRows(client, target as InteractionsLoadTarget, ch));
      // Surface a failed COPY at once rather than when the producer blocks on its channel.
      copies.forEach((p) => p.catch(() => channels.forEach((c) => c.close())));
    },
    async cleanRows(chunk) {
      const ch = channels[next++ % channels.length];
      await Promise.race([ch.push(chunk), ...copies.map((p) => p.then(() => undefined))]);
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
      await finishInteractionsLoad(client, target as InteractionsLoadTarget);
      committed = true;
    },
    rows: () => loaded,
    async close() {
      channels.forEach((c) => c.close());
      if (target !== null && !committed) {
        await Promise.allSettled(copies);
        await abortInteractionsLoad(client, target).catch(() => {});
      }
    },
  };
}
