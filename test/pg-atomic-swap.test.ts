import assert from 'node:assert/strict';
import { test } from 'node:test';

import { PostgresError } from '../errors.js';
import { openServerClient } from '../io/pg-server-client.js';
import {
  dropSchema,
  interactionsCopyData,
  loadInteractions,
  randomSchema,
  rawClient,
  testServerTarget,
} from './pg-test-env.js';
import type { TestInteraction } from './pg-test-env.js';

const OLD_ROWS = 1000;
const NEW_ROWS = 200_000;

function synthetic(count: number, idOffset: number): TestInteraction[] {
  const rows: TestInteraction[] = [];
  for (let i = 0; i < count; i++) {
    const day = 1 + (i % 28);
    const month = 1 + (i % 3);
    rows.push({
      id: String(idOffset + i),
      user: String(i % 997),
      product: String(i % 211),
      action: i % 2 === 0 ? 'view' : 'click',
      ts: `2024-0${month}-${String(day).padStart(2, '0')} 12:${String(i % 60).padStart(2, '0')}:00`,
    });
  }
  return rows;
}

test('a concurrent reader sees the old tables or the new ones, never an empty or partial state', async (t) => {
  const schema = randomSchema('swap');
  const client = await openServerClient(testServerTarget(), { maxConnections: 2 });
  const reader = await rawClient();
  t.after(async () => {
    await reader.end();
    await client.close();
    await dropSchema(schema);
  });

  await loadInteractions(client, schema, interactionsCopyData(synthetic(OLD_ROWS, 1)));
  const big = interactionsCopyData(synthetic(NEW_ROWS, 10_000_000));

  // One statement reads the big table and a count table together: both must come from the same load.
  const sql = `SELECT (SELECT count(*) FROM "${schema}".user_interactions)::int AS rows,
                      (SELECT sum(interaction_count) FROM "${schema}".user_interaction_users)::int AS counted`;
  const seen = new Map<string, number>();
  const errors: string[] = [];
  let loading = true;
  const readLoop = (async () => {
    // Keep reading a little after the load finished so the new state is observed too.
    for (let after = 0; loading || after < 5; after += loading ? 0 : 1) {
      try {
        const { rows } = await reader.query<{ rows: number; counted: number }>(sql);
        const key = `${rows[0]!.rows}/${rows[0]!.counted}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  })();
  try {
    await loadInteractions(client, schema, big, 2);
  } finally {
    loading = false;
  }
  await readLoop;

  assert.deepEqual(errors, []);
  const states = [...seen.keys()].sort();
  assert.deepEqual(
    states,
    [`${NEW_ROWS}/${NEW_ROWS}`, `${OLD_ROWS}/${OLD_ROWS}`].sort(),
    `states seen: ${[...seen]}`,
  );
  // The reader really overlapped the load: it read the old state many times before the swap.
  assert.ok(
    seen.get(`${OLD_ROWS}/${OLD_ROWS}`)! > 10,
    `old state read ${seen.get(`${OLD_ROWS}/${OLD_ROWS}`)} times`,
  );
});

test('a swap blocked by a long reader retries with a short lock_timeout, then gives up leaving the old tables', async (t) => {
  const schema = randomSchema('lock');
  const client = await openServerClient(testServerTarget(), { maxConnections: 2 });
  const holder = await rawClient();
  t.after(async () => {
    await holder.end();
    await client.close();
    await dropSchema(schema);
  });
  await loadInteractions(client, schema, interactionsCopyData(synthetic(10, 1)));
  const count = async () =>
    (await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".user_interactions`))[0]!.n;

  // A reader transaction holding ACCESS SHARE for 600 ms: attempts of 100 ms time out, a later one succeeds.
  await holder.query('BEGIN');
  await holder.query(`SELECT count(*) FROM "${schema}".user_interactions`);
  const release = setTimeout(() => void holder.query('COMMIT'), 600);
  const started = performance.now();
  await loadInteractions(client, schema, interactionsCopyData(synthetic(20, 100)), 2, {
    lockTimeoutMs: 100,
    swapRetries: 10,
  });
  clearTimeout(release);
  assert.ok(performance.now() - started >= 500, 'the swap waited for the reader');
  assert.equal(await count(), '20');

  // Held for longer than all attempts: the load fails with lock_not_available, old rows stay.
  await holder.query('BEGIN');
  await holder.query(`SELECT count(*) FROM "${schema}".user_interactions`);
  try {
    await assert.rejects(
      loadInteractions(client, schema, interactionsCopyData(synthetic(30, 200)), 1, {
        lockTimeoutMs: 50,
        swapRetries: 1,
      }),
      (err: unknown) => {
        assert.ok(err instanceof PostgresError);
        assert.equal(err.sqlState, '55P03');
        assert.match(err.message, /^DROP TABLE IF EXISTS "sf_lock_[0-9a-f]+"\."user_interactions" failed: /);
        return true;
      },
    );
  } finally {
    await holder.query('COMMIT');
  }
  assert.equal(await count(), '20');
});
