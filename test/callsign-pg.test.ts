/**
 * `run callsign --pg`: the session aggregates land in `callsign_sessions` and the rejects in
 * `callsign_rejects` on a real PostgreSQL, row for row what the files hold; a rerun with the same
 * run id loads nothing twice. And `--shard` with more than one shard is one usage error.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, runCli, tempDir } from './helpers/run-cli.js';
import { dropSchema, randomSchema, rawClient, testPgUrl } from './pg-test-env.js';

const INPUT = join(FIXTURES, 'callsign', 'basic', 'input');

interface PgSummary {
  rows_rejected: number;
  aggregated_rows: number;
  pg: { schema: string; tables: Record<string, string>; rows: { sessions: number; rejects: number } };
}

async function run(out: string, extra: readonly string[]): Promise<PgSummary> {
  const result = await runCli([
    ...['run', 'callsign', '--collections', join(INPUT, 'collections.jsonl')],
    ...['--predictions', join(INPUT, 'predictions.jsonl'), '--out', out, '--json', '--no-progress'],
    ...extra,
  ]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').pop() as string) as PgSummary;
}

test('--pg loads the aggregated rows and the rejects once per run id', async (t) => {
  const schema = randomSchema('callsign');
  t.after(() => dropSchema(schema));
  const dir = await tempDir(t);
  const out = join(dir, 'out');
  const pg = ['--pg', testPgUrl(), '--pg-schema', schema, '--run-id', 'callsign-pg-1'];
  const first = await run(out, pg);
  assert.deepEqual(first.pg.tables, { sessions: 'callsign_sessions', rejects: 'callsign_rejects' });
  assert.equal(first.pg.rows.sessions, first.aggregated_rows);
  assert.equal(first.pg.rows.rejects, first.rows_rejected);

  const client = await rawClient();
  t.after(() => client.end());
  const sessions = async () =>
    (
      await client.query(
        `SELECT profile_id, session_id, collections::int AS collections, weighted_mean_score,
                mean_swipe_score, failed_keystroke_predictions::int AS failed_keystroke_predictions
         FROM "${schema}".callsign_sessions ORDER BY profile_id COLLATE "C", session_id COLLATE "C" NULLS FIRST`,
      )
    ).rows.map((r: Record<string, unknown>) => ({
      profile_id: r.profile_id,
      session_id: r.session_id,
      collections: r.collections,
      weighted_mean_score: r.weighted_mean_score,
      mean_swipe_score: r.mean_swipe_score,
      failed_keystroke_predictions: r.failed_keystroke_predictions,
    }));
  const jsonl = (await readFile(join(out, 'aggregated-result', 'data.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.ok(jsonl.length > 0);
  assert.deepEqual(await sessions(), jsonl);
  const rejects = await client.query(
    `SELECT source, line::int AS line, reason, raw FROM "${schema}".callsign_rejects ORDER BY source, line`,
  );
  assert.equal(rejects.rows.length, first.rows_rejected);
  assert.ok(
    rejects.rows.every((r: { source: string; line: number }) => r.line >= 1 && r.source.endsWith('.jsonl')),
  );
  const rejectsBefore = JSON.stringify(rejects.rows);

  // The same run id again: the ledger says it finished; nothing is loaded, the tables stay.
  const again = await run(out, pg);
  assert.deepEqual(again.pg.rows, { sessions: 0, rejects: 0 });
  assert.deepEqual(await sessions(), jsonl);
  const rejectsAfter = await client.query(
    `SELECT source, line::int AS line, reason, raw FROM "${schema}".callsign_rejects ORDER BY source, line`,
  );
  assert.equal(JSON.stringify(rejectsAfter.rows), rejectsBefore);

  // A new run id replaces the tables whole (never appends).
  const third = await run(out, ['--pg', testPgUrl(), '--pg-schema', schema, '--run-id', 'callsign-pg-2']);
  assert.equal(third.pg.rows.sessions, jsonl.length);
  assert.deepEqual(await sessions(), jsonl);
});

test('--no-pg loads nothing and the summary has no pg field', async (t) => {
  const dir = await tempDir(t);
  const summary = await run(join(dir, 'out'), ['--pg', testPgUrl(), '--no-pg']);
  assert.equal(summary.pg, undefined);
});

test('--shard with more than one shard is one usage error for callsign', async (t) => {
  const dir = await tempDir(t);
  const result = await runCli([
    ...['run', 'callsign', '--collections', join(INPUT, 'collections.jsonl')],
    ...['--predictions', join(INPUT, 'predictions.jsonl'), '--out', join(dir, 'out'), '--no-progress'],
    ...['--shard', '0/2', '--shuffle', join(dir, 'shuffle')],
  ]);
  assert.equal(result.code, 2, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], /callsign runs in one process/);
});
