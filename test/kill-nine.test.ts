/**
 * kill -9 at any moment, then a rerun, gives the same outputs (ARCHITECTURE: exactly once): for
 * every job, built-in and example, the run is killed at 10 seeded random moments (a fresh output
 * folder and schema each time, so each kill meets a different partial state), run again to the
 * end, and every file and every PostgreSQL row is compared with an uninterrupted run's.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, filesUnder, runCli } from './helpers/run-cli.js';
import { eventsJsonl, ordersCsv, random } from './helpers/example-data.js';
import { dropSchema, randomSchema, rawClient, testPgUrl } from './pg-test-env.js';
import { generateInteractions } from '../jobs/interactions/generate.js';
import { generateCallsign } from '../jobs/callsign/generate.js';

const KILLS = 10;
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardflow-kill9-'));
  await writeFile(join(dir, 'orders.csv'), ordersCsv(21, 20000, 500).text);
  await writeFile(join(dir, 'events.jsonl'), eventsJsonl(22, 20000, 300, 30 * 60_000).text);
  await generateInteractions({ rows: 120_000, out: join(dir, 'interactions.csv'), seed: 23 });
  await generateCallsign({ profiles: 60, sessionsPerProfile: 4, out: join(dir, 'callsign'), seed: 24 });
});
after(() => rm(dir, { recursive: true, force: true }));

interface JobCase {
  name: string;
  args: (out: string, schema: string) => string[];
  /** Tables whose rows must match (schema-qualified at query time). */
  tables: string[];
}

const example = (file: string) => fileURLToPath(new URL(`../examples/${file}`, import.meta.url));
const COMMON = ['--no-progress', '--json', '--workers', '2', '--split-size', '64KiB'];

const CASES: JobCase[] = [
  {
    name: 'customer-revenue (example)',
    args: (out, schema) => [
      'run',
      example('customer-revenue.js'),
      '--orders',
      join(dir, 'orders.csv'),
      '--out',
      out,
      '--pg',
      testPgUrl(),
      '--pg-schema',
      schema,
      '--partitions',
      '8',
      ...COMMON,
    ],
    tables: ['customer_revenue'],
  },
  {
    name: 'user-sessions (example)',
    args: (out, schema) => [
      'run',
      example('user-sessions.js'),
      '--events',
      join(dir, 'events.jsonl'),
      '--out',
      out,
      '--pg',
      testPgUrl(),
      '--pg-schema',
      schema,
      '--partitions',
      '8',
      ...COMMON,
    ],
    tables: ['user_sessions'],
  },
  {
    name: 'interactions (built-in)',
    args: (out, schema) => [
      'run',
      'interactions',
      '--input',
      join(dir, 'interactions.csv'),
      '--out',
      out,
      '--pg',
      testPgUrl(),
      '--pg-schema',
      schema,
      '--partitions',
      '8',
      ...COMMON,
    ],
    tables: [
      'user_interactions',
      'user_interaction_users',
      'user_interaction_products',
      'user_interaction_daily',
    ],
  },
  {
    name: 'callsign (built-in)',
    args: (out) => [
      'run',
      'callsign',
      '--collections',
      join(dir, 'callsign', 'collections.jsonl'),
      '--predictions',
      join(dir, 'callsign', 'predictions.jsonl'),
      '--out',
      out,
      '--partitions',
      '8',
      ...COMMON,
    ],
    tables: [],
  },
];

/** sha256 of every file under `root` (hidden and temporary files included: none may be left). */
async function fileHashes(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await filesUnder(root))
    out[name] = createHash('sha256')
      .update(await readFile(join(root, name)))
      .digest('hex');
  return out;
}

/** md5 of each table's rows in a fixed order, and the row count. */
async function tableDigests(schema: string, tables: string[]): Promise<Record<string, string>> {
  if (tables.length === 0) return {};
  const client = await rawClient();
  try {
    const out: Record<string, string> = {};
    for (const table of tables) {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS h FROM "${schema}"."${table}" t`,
      );
      out[table] = `${String(rows[0].n)} ${String(rows[0].h)}`;
    }
    return out;
  } finally {
    await client.end();
  }
}

/**
 * Starts the run and SIGKILLs it after `ms`; resolves when it is gone, with how long it ran when
 * it finished before the kill.
 */
async function runAndKill(
  args: string[],
  ms: number,
  tmp: string,
): Promise<{ killed: boolean; ranMs: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, ...args, '--tmp-dir', tmp], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const outcome = await Promise.race([
    exited.then(() => 'finished' as const),
    sleep(ms).then(() => 'timer' as const),
  ]);
  if (outcome === 'finished') return { killed: false, ranMs: performance.now() - started };
  child.kill('SIGKILL');
  await exited;
  return { killed: true, ranMs: ms };
}

for (const job of CASES) {
  test(`kill -9 at ${KILLS} random moments, then a rerun: ${job.name} gives the same files and rows`, async (t) => {
    const refSchema = randomSchema('k9ref');
    t.after(() => dropSchema(refSchema));
    const refOut = join(dir, `${job.name.split(' ')[0]}-ref`);
    const t0 = performance.now();
    const ref = await runCli(job.args(refOut, refSchema));
    assert.equal(ref.code, 0, ref.stderr);
    // The window the kill moments are drawn from; a run that ends before its kill narrows it (a
    // busy machine makes the first run slower) and that attempt does not count.
    let wallMs = performance.now() - t0;
    const refFiles = await fileHashes(refOut);
    const refRows = await tableDigests(refSchema, job.tables);
    const rnd = random(job.name.length * 7919);
    let killed = 0;
    for (let k = 0; killed < KILLS && k < 3 * KILLS; k++) {
      const schema = randomSchema('k9');
      const out = join(dir, `${job.name.split(' ')[0]}-${k}`);
      const tmp = await mkdtemp(join(dir, 'tmp-'));
      try {
        // Anywhere from process start to the end of a whole run (the start-up included).
        const at = Math.floor(rnd() * wallMs);
        const attempt = await runAndKill(job.args(out, schema), at, tmp);
        if (attempt.killed) killed++;
        else wallMs = Math.min(wallMs, attempt.ranMs);
        const rerun = await runCli([...job.args(out, schema), '--tmp-dir', tmp]);
        assert.equal(rerun.code, 0, `rerun after a kill at ${at} ms: ${rerun.stderr}`);
        assert.deepEqual(await fileHashes(out), refFiles, `files after a kill at ${at} ms`);
        assert.deepEqual(await tableDigests(schema, job.tables), refRows, `rows after a kill at ${at} ms`);
        assert.deepEqual(await readdir(tmp), [], `no spill left after a kill at ${at} ms and a rerun`);
      } finally {
        await dropSchema(schema);
        await rm(out, { recursive: true, force: true });
        await rm(tmp, { recursive: true, force: true });
      }
    }
    assert.equal(killed, KILLS, `every kill landed before its run ended`);
  });
}
