import { randomBytes } from 'node:crypto';

import pg from 'pg';

import { resolvePgConfig } from '../io/pg-config.js';
import type { PgServerTarget } from '../io/pg-config.js';
import {
  copyDailyCounts,
  copyInteractionRows,
  copyProductCounts,
  copyUserCounts,
  finishInteractionsLoad,
  prepareInteractionsLoad,
} from '../jobs/interactions/pg-interactions.js';
import type { FinishLoadOptions } from '../jobs/interactions/pg-interactions.js';
import { quoteIdent } from '../io/quote-ident.js';
import type { SqlClient } from '../io/sql-client.js';

/** Test defaults (overridden by PG* / DATABASE_URL in the environment). */
const TEST_DEFAULTS = Object.freeze({
  PGHOST: '127.0.0.1',
  PGPORT: '5432',
  PGDATABASE: 'test',
  PGUSER: 'postgres',
});

/** The test PostgreSQL server: the environment's PG* / DATABASE_URL over the documented defaults. */
export function testServerTarget(): PgServerTarget {
  const target = resolvePgConfig({ env: { ...TEST_DEFAULTS, ...process.env } });
  if (target.kind !== 'server') throw new Error('test server target resolved to embedded');
  return target;
}

/** The test server as a `--pg` URL for the CLI. */
export function testPgUrl(): string {
  const c = testServerTarget().config;
  const auth = c.password ? `${c.user}:${c.password}@` : `${c.user ?? 'postgres'}@`;
  return `postgres://${auth}${c.host ?? '127.0.0.1'}:${c.port ?? 5432}/${c.database ?? 'test'}`;
}

/** A fresh schema name per test: `sf_<label>_<8 hex>`. */
export function randomSchema(label: string): string {
  return `sf_${label}_${randomBytes(4).toString('hex')}`;
}

/** A plain pg.Client on the test server, independent of the code under test. */
export async function rawClient(): Promise<pg.Client> {
  const client = new pg.Client(testServerTarget().config);
  await client.connect();
  return client;
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const client = await rawClient();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

/** One interaction as the tests write it. */
export interface TestInteraction {
  id: string;
  user: string;
  product: string;
  action: string;
  ts: string;
}

/** COPY text and count tables for a set of interactions, computed the simple way. */
export function interactionsCopyData(rows: readonly TestInteraction[]): {
  interactions: Buffer;
  users: Buffer;
  products: Buffer;
  daily: Buffer;
  months: string[];
} {
  const perUser = tally(rows.map((r) => r.user));
  const perProduct = tally(rows.map((r) => r.product));
  const perDay = tally(rows.map((r) => r.ts.slice(0, 10)));
  const lines = rows.map((r) => {
    const u = perUser.get(r.user)!;
    const p = perProduct.get(r.product)!;
    return [r.id, r.user, r.product, r.action, r.ts, u, p, u + p].join('\t') + '\n';
  });
  const counts = (m: Map<string, number>) => Buffer.from([...m].map(([k, v]) => `${k}\t${v}\n`).join(''));
  return {
    interactions: Buffer.from(lines.join('')),
    users: counts(perUser),
    products: counts(perProduct),
    daily: counts(perDay),
    months: [...new Set(rows.map((r) => r.ts.slice(0, 7)))],
  };
}

function tally(keys: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/**
 * Runs a whole load the way the job does: prepare, COPY interactions split into `parallel`
 * concurrent sources plus the three count tables, finish (indexes, swap, vacuum).
 */
export async function loadInteractions(
  client: SqlClient,
  schema: string,
  data: ReturnType<typeof interactionsCopyData>,
  parallel = 2,
  finish: FinishLoadOptions = {},
): Promise<number> {
  const target = await prepareInteractionsLoad(client, { schema, months: data.months });
  const parts = splitLines(data.interactions, parallel);
  const copied = await Promise.all([
    ...parts.map((part) => copyInteractionRows(client, target, [part])),
    copyUserCounts(client, target, [data.users]),
    copyProductCounts(client, target, [data.products]),
    copyDailyCounts(client, target, [data.daily]),
  ]);
  await finishInteractionsLoad(client, target, finish);
  return copied.slice(0, parts.length).reduce((a, b) => a + b, 0);
}

/** Splits COPY text into `n` parts at line boundaries. */
export function splitLines(text: Buffer, n: number): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 1; i <= n; i++) {
    let end = i === n ? text.length : Math.floor((text.length * i) / n);
    while (end < text.length && end > start && text[end - 1] !== 0x0a) end++;
    if (end > start) parts.push(text.subarray(start, end));
    start = end;
  }
  return parts;
}
