/**
 * The per-object checkpoint of a long-running job (../shared/ARCHITECTURE.md, "Long-running
 * jobs"): which objects of a watched prefix are done. An object is processed in ONE PostgreSQL
 * transaction together with its checkpoint row, so after a kill at any moment it is either wholly
 * done (its effects and its row) or not at all, and a rerun takes it again from the start.
 *
 * Table `shardflow_checkpoint(job, scope, object, size, version, stats, done_at)` in the job's
 * schema; `scope` separates watchers of one job (a prefix, a shard). The row is inserted FIRST in
 * the transaction: a second process taking the same object waits on the key, then finds it done
 * and skips it, so two followers never process an object twice.
 */

import { quoteIdent, quoteQualified } from './quote-ident.js';
import type { SqlClient } from './sql-client.js';
import type { ObjectInfo } from './storage.js';

export const CHECKPOINT_TABLE = 'shardflow_checkpoint';

/** A processed object: its identity when it was taken, and what its processing counted. */
export interface CheckpointRow {
  readonly object: string;
  readonly size: number;
  readonly version: string;
  readonly stats: Record<string, unknown>;
}

/** An object in the listing whose identity differs from the one it had when it was processed. */
export interface ChangedObject {
  readonly info: ObjectInfo;
  readonly name: string;
  readonly done: CheckpointRow;
}

/** Where a checkpoint lives and whose it is. */
export interface CheckpointSpec {
  readonly schema: string;
  readonly job: string;
  readonly scope: string;
}

export class ObjectCheckpoint {
  private constructor(
    private readonly sql: SqlClient,
    private readonly spec: CheckpointSpec,
    private readonly table: string,
  ) {}

  /** Creates the schema and table when missing. */
  static async open(sql: SqlClient, spec: CheckpointSpec): Promise<ObjectCheckpoint> {
    const table = quoteQualified(spec.schema, CHECKPOINT_TABLE);
    await sql.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(spec.schema)}`);
    await sql.query(
      `CREATE TABLE IF NOT EXISTS ${table} (job text NOT NULL, scope text NOT NULL, object text NOT NULL,
       size bigint NOT NULL, version text NOT NULL, stats jsonb NOT NULL DEFAULT '{}',
       done_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (job, scope, object))`,
    );
    return new ObjectCheckpoint(sql, spec, table);
  }

  /** Every object done in this scope, by name. */
  async done(): Promise<Map<string, CheckpointRow>> {
    const rows = await this.sql.query<{ object: string; size: string; version: string; stats: unknown }>(
      `SELECT object, size, version, stats FROM ${this.table} WHERE job = $1 AND scope = $2 ORDER BY object`,
      [this.spec.job, this.spec.scope],
    );
    return new Map(
      rows.map((r) => [
        r.object,
        { object: r.object, size: Number(r.size), version: r.version, stats: parseStats(r.stats) },
      ]),
    );
  }

  /**
   * Processes the object `name` once: in one transaction, claims its row, runs `fn` and stores
   * what `fn` returns as the row's stats. Returns undefined, without running `fn`, when the object
   * is already done (by this process earlier or by another one meanwhile).
   */
  async processOnce<S extends Record<string, unknown>>(
    name: string,
    info: Pick<ObjectInfo, 'size' | 'version'>,
    fn: (tx: SqlClient) => Promise<S>,
  ): Promise<S | undefined> {
    return this.sql.transaction(async (tx) => {
      const claimed = await tx.query(
        `INSERT INTO ${this.table} (job, scope, object, size, version) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING RETURNING object`,
        [this.spec.job, this.spec.scope, name, info.size, info.version],
      );
      if (claimed.length === 0) return undefined;
      const stats = await fn(tx);
      await tx.query(
        `UPDATE ${this.table} SET stats = $4::jsonb, done_at = now() WHERE job = $1 AND scope = $2 AND object = $3`,
        [this.spec.job, this.spec.scope, name, JSON.stringify(stats)],
      );
      return stats;
    });
  }
}

/**
 * Splits a listing (sorted by URL) against the checkpoint: the objects not yet done, in name
 * order, and the done ones whose size changed since (a job decides whether that is an error).
 * `name` maps an object's URL to its checkpoint name (its path under the watched prefix).
 */
export function pendingObjects(
  listing: readonly ObjectInfo[],
  done: ReadonlyMap<string, CheckpointRow>,
  name: (url: string) => string,
): { fresh: { info: ObjectInfo; name: string }[]; changed: ChangedObject[] } {
  const fresh: { info: ObjectInfo; name: string }[] = [];
  const changed: ChangedObject[] = [];
  for (const info of listing) {
    const n = name(info.url);
    const row = done.get(n);
    if (row === undefined) fresh.push({ info, name: n });
    else if (row.size !== info.size) changed.push({ info, name: n, done: row });
  }
  fresh.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { fresh, changed };
}

function parseStats(value: unknown): Record<string, unknown> {
  if (typeof value === 'string') return JSON.parse(value) as Record<string, unknown>;
  return (value ?? {}) as Record<string, unknown>;
}
