/**
 * `npm start` / `shardflow demo`: generate a sample, run the interactions job into PostgreSQL (the
 * configured server, else an embedded PGlite, through the same SQL and code path) and print the
 * answers to the three questions.
 */

import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { generateInteractions } from '../jobs/interactions/generate.js';
import { OUTPUT_NAMES } from '../jobs/interactions/outputs.js';
import { resolvePgConfig } from '../io/pg-config.js';
import { openSqlClient } from '../io/sql-client.js';
import { runInteractionsCommand } from './run-interactions-command.js';
import { createInteractionsLoader } from './pg-interactions-loader.js';
import { answer, QUESTIONS } from './query-command.js';
import { formatTable } from './print-table.js';
import { RUN_DEFAULTS } from './run-options.js';

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
  const client = await openSqlClient(target, { maxConnections: 4 });
  try {
    const summary = await runInteractionsCommand(
      {
        inputs: [input],
        out: join(options.out, 'output'),
        outputs: new Set(OUTPUT_NAMES),
        workers: availableParallelism(),
        partitions: RUN_DEFAULTS.partitions,
        splitBytes: RUN_DEFAULTS.splitBytes,
        pgSchema: RUN_DEFAULTS.pgSchema,
        loadPg: true,
        json: false,
        progress: true,
        storage: {},
        shard: { index: 0, count: 1 },
        barrierTimeoutSeconds: 600,
      },
      { openLoader: async () => createInteractionsLoader(client, { schema: RUN_DEFAULTS.pgSchema }), log },
    );
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
      const rows = await answer(client, RUN_DEFAULTS.pgSchema, q, q === 'daily' ? 10 : undefined);
      process.stdout.write(`\n${titles[q]}\n${formatTable(rows)}\n`);
    }
  } finally {
    await client.close();
  }
}
