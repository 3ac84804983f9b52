/**
 * The peer of the whole path into PostgreSQL (issue #10, section 7): DuckDB cleans the CSV (the
 * interactions rules, dedupe, per-user, per-product, per-pair and per-day counts) into COPY text,
 * `psql \copy` loads it into the same staging tables shardflow loads (partitioned by month, no
 * indexes yet), then the same index builds, swap and VACUUM ANALYZE as shardflow's
 * (`finishInteractionsLoad`, the job's own code). Timed end to end, with each phase.
 *
 *   node dist/bench/pg-path-peer.js --input FILE --work DIR --pg URL --schema NAME [--threads N]
 *
 * Prints one JSON line: `{ engine, seconds, rows_read, rows_valid, load: { rows, seconds },
 * phases: { clean, prepare, copy, indexes, swap, vacuum_analyze }, peak_rss_bytes }` (peak RSS of
 * this process, DuckDB included; psql's own is not counted).
 */

import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { resolvePgConfig } from '../io/pg-config.js';
import { openSqlClient } from '../io/sql-client.js';
import { quoteIdent } from '../io/quote-ident.js';
import {
  INTERACTION_COLUMNS,
  INTERACTIONS_TABLES,
  STAGING_SUFFIX,
  finishInteractionsLoad,
  prepareInteractionsLoad,
} from '../jobs/interactions/pg-interactions.js';
import { runDuckdbInteractions } from './duckdb-interactions.js';
import { runAsEntry } from './entry.js';

/** Runs psql with one `-c` per command, stopping at the first error. */
function psql(url: string, commands: string[]): Promise<void> {
  const args = [...(url ? [url] : []), '-v', 'ON_ERROR_STOP=1', '-q', ...commands.flatMap((c) => ['-c', c])];
  return new Promise((done, fail) => {
    const child = spawn('psql', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done() : fail(new Error(`psql exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const started = performance.now();
  const { values } = parseArgs({
    options: {
      input: { type: 'string' },
      work: { type: 'string' },
      pg: { type: 'string' },
      schema: { type: 'string' },
      threads: { type: 'string' },
    },
  });
  if (!values.input || !values.work || !values.schema)
    throw new UsageError('--input FILE, --work DIR and --schema NAME are required');
  const target = resolvePgConfig({ url: values.pg });
  if (target.kind !== 'server') throw new UsageError('the pg path peer needs a PostgreSQL server (--pg URL)');
  const work = resolve(values.work);
  const phase: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    phase[name] = Number(((now - t) / 1000).toFixed(3));
    t = now;
  };
  const cleaned = await runDuckdbInteractions({
    input: values.input,
    out: work,
    mode: 'pg',
    ...(values.threads === undefined ? {} : { threads: Number(values.threads) }),
  });
  lap('clean');
  const client = await openSqlClient(target, { maxConnections: 2 });
  try {
    const load = await prepareInteractionsLoad(client, {
      schema: values.schema,
      months: cleaned.months ?? [],
    });
    lap('prepare');
    const table = (name: string): string =>
      `${quoteIdent(values.schema!)}.${quoteIdent(name + STAGING_SUFFIX)}`;
    const from = (file: string): string => `from '${join(work, file).replaceAll("'", "''")}'`;
    await psql(target.connectionString ?? '', [
      `\\copy ${table(INTERACTIONS_TABLES.interactions)} (${INTERACTION_COLUMNS.map((c) => quoteIdent(c)).join(', ')}) ${from('clean.tsv')}`,
      `\\copy ${table(INTERACTIONS_TABLES.users)} (user_id, interaction_count) ${from('users.tsv')}`,
      `\\copy ${table(INTERACTIONS_TABLES.products)} (product_id, interaction_count) ${from('products.tsv')}`,
      `\\copy ${table(INTERACTIONS_TABLES.daily)} (day, interactions) ${from('daily.tsv')}`,
    ]);
    lap('copy');
    const finish = await finishInteractionsLoad(client, load);
    phase.indexes = Number((finish.indexMs / 1000).toFixed(3));
    phase.swap = Number((finish.swapMs / 1000).toFixed(3));
    phase.vacuum_analyze = Number((finish.vacuumMs / 1000).toFixed(3));
    process.stdout.write(
      `${JSON.stringify({
        engine: 'duckdb-psql',
        seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
        rows_read: cleaned.rows_read,
        rows_valid: cleaned.rows_valid,
        load: { rows: cleaned.rows_valid, seconds: phase.copy },
        phases: phase,
        peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
      })}\n`,
    );
  } finally {
    await client.close();
    await rm(work, { recursive: true, force: true });
  }
}

runAsEntry(import.meta.url, 'pg-path-peer', main);
