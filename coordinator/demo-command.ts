/**
 * `npm start` / `shardflow demo`: generate a sample, run the interactions job into PostgreSQL (the
 * configured server, else an embedded PGlite, through the same SQL and code path) and print the
 * answers to the three questions.
 */

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateInteractions } from '../jobs/interactions/generate.js';
import { resolvePgConfig } from '../io/pg-config.js';
import { openSqlClient } from '../io/sql-client.js';
import { loadJobModule } from './job-loader.js';
import { parseJobArgs } from './job-command.js';
import { runJob, type JobRunOptions } from './run-job.js';
import { answer, QUESTIONS } from './query-command.js';
import { formatTable } from './print-table.js';

const SCHEMA = 'public';

export async function demoCommand(options: { rows: number; out: string; pg?: string }): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  await mkdir(options.out, { recursive: true });
  const input = join(options.out, 'interactions.csv');
  const gen = await generateInteractions({ rows: options.rows, out: input, seed: 1, badFraction: 0.01 });
  log(`demo: generated ${gen.rows} interactions (${(gen.bytes / 1e6).toFixed(1)} MB) in ${input}`);
  const target = resolvePgConfig({ url: options.pg });
  log(
    `demo: loading into ${target.kind === 'server' ? target.display : 'embedded PostgreSQL (PGlite, in memory)'}`,
  );
  // `shardflow run interactions --input <csv> --out <out>/output`, through the engine as the CLI runs it.
  const { url, job } = await loadJobModule('interactions');
  const argv = ['--input', input, '--out', join(options.out, 'output'), '--pg-schema', SCHEMA];
  const runOptions = parseJobArgs('interactions', job, argv, {})!;
  const client = await openSqlClient(target, { maxConnections: 4 });
  try {
    // The job loads the demo's own client: an embedded PGlite lives in this process's memory only,
    // so the queries below must see the very database the job loaded.
    const pg = client as unknown as JobRunOptions['pg'];
    const summary = await runJob({ ...runOptions, jobUrl: url, pg, log });
    const r = summary.rejected_by_reason;
    process.stdout.write(
      `\n${summary.rows_read} rows read, ${summary.rows_valid} valid, ${summary.rows_rejected} rejected ` +
        `(${Object.entries(r)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}) in ${summary.seconds} s\nParquet outputs under ${join(options.out, 'output')}\n`,
    );
    const titles = {
      daily: 'Interactions per day (first 10 days)',
      'top-users': 'Top 5 users by interactions',
      'top-products': 'Top 5 products by interactions',
    };
    for (const q of QUESTIONS) {
      const rows = await answer(client, SCHEMA, q, q === 'daily' ? 10 : undefined);
      process.stdout.write(`\n${titles[q]}\n${formatTable(rows)}\n`);
    }
  } finally {
    await client.close();
  }
}
