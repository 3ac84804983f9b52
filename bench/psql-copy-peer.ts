/**
 * The PostgreSQL peer of the bench: `psql \copy` of exactly the rows shardflow loaded, into the
 * same table shape (shardflow's own staging table: partitioned by month, no indexes yet), timed
 * around the psql process alone. The rows come from shardflow's clean Parquet output of the same
 * run, exported to COPY text with DuckDB (not timed).
 *
 *   node dist/bench/psql-copy-peer.js --clean DIR --pg URL --schema NAME
 *
 * Prints one JSON line: { engine: 'psql', seconds, load: { rows, seconds } }.
 */

import { spawn } from 'node:child_process';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { resolvePgConfig } from '../io/pg-config.js';
import { openSqlClient } from '../io/sql-client.js';
import {
  INTERACTION_COLUMNS,
  prepareInteractionsLoad,
  abortInteractionsLoad,
} from '../jobs/interactions/pg-interactions.js';
import { quoteIdent } from '../io/quote-ident.js';

async function exportRows(clean: string, tsv: string): Promise<{ rows: number; months: string[] }> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const src = `read_parquet('${join(clean, '*.parquet').replaceAll("'", "''")}')`;
  await c.run(
    `COPY (SELECT interaction_id, user_id, product_id, action, strftime("timestamp", '%Y-%m-%d %H:%M:%S'),
       user_interaction_count, product_interaction_count, interaction_count FROM ${src})
     TO '${tsv.replaceAll("'", "''")}' (FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '')`,
  );
  const rows = Number((await c.runAndReadAll(`SELECT count(*) FROM ${src}`)).getRows()[0]![0]);
  const months = (
    await c.runAndReadAll(`SELECT DISTINCT strftime("timestamp", '%Y-%m') FROM ${src} ORDER BY 1`)
  )
    .getRows()
    .map((r) => String(r[0]));
  return { rows, months };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { clean: { type: 'string' }, pg: { type: 'string' }, schema: { type: 'string' } },
  });
  if (!values.clean || !values.schema) throw new Error('--clean DIR and --schema NAME are required');
  const tsv = join(values.clean, '..', 'rows.tsv');
  const { rows, months } = await exportRows(values.clean, tsv);
  const target = resolvePgConfig({ url: values.pg });
  if (target.kind !== 'server') throw new Error('psql peer needs a PostgreSQL server (--pg URL or PG* env)');
  const client = await openSqlClient(target, { maxConnections: 1 });
  try {
    const load = await prepareInteractionsLoad(client, { schema: values.schema, months });
    const table = `${quoteIdent(values.schema)}.${quoteIdent('user_interactions__load')}`;
    const columns = INTERACTION_COLUMNS.map((c) => quoteIdent(c)).join(', ');
    const url = target.connectionString ?? '';
    const args = [
      ...(url ? [url] : []),
      '-v',
      'ON_ERROR_STOP=1',
      '-q',
      '-c',
      `\\copy ${table} (${columns}) from '${tsv}'`,
    ];
    const started = performance.now();
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('psql', args, { stdio: ['ignore', 'ignore', 'inherit'] });
      child.on('error', reject);
      child.on('close', resolve);
    });
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`psql exited with ${code}`);
    await abortInteractionsLoad(client, load);
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(values.schema)} CASCADE`);
    const bytes = (await stat(tsv)).size;
    process.stdout.write(
      `${JSON.stringify({ engine: 'psql', seconds, bytes, load: { rows, seconds: Number(seconds.toFixed(3)) } })}\n`,
    );
  } finally {
    await client.close();
    await rm(tsv, { force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`psql-copy-peer: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
