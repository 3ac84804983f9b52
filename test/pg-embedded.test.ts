import assert from 'node:assert/strict';
import { test } from 'node:test';

import { PostgresError } from '../errors.js';
import { resolvePgConfig } from '../io/pg-config.js';
import { queryInteractions } from '../jobs/interactions/pg-interactions.js';
import type { InteractionsQuestion } from '../jobs/interactions/pg-interactions.js';
import { openServerClient } from '../io/pg-server-client.js';
import { openSqlClient } from '../io/sql-client.js';
import type { SqlClient } from '../io/sql-client.js';
import {
  dropSchema,
  interactionsCopyData,
  loadInteractions,
  randomSchema,
  testServerTarget,
} from './pg-test-env.js';
import type { TestInteraction } from './pg-test-env.js';

/** Ties in every ranking, ids beyond 2^53, four months including a leap day and a year change. */
function dataset(): TestInteraction[] {
  const rows: TestInteraction[] = [];
  const users = ['9223372036854775806', '42', '9007199254740993', '7', '1000'];
  const products = ['3', '9223372036854775000', '11', '500'];
  const days = ['2023-12-31', '2024-01-01', '2024-01-15', '2024-02-29', '2024-03-01'];
  for (let i = 0; i < 97; i++) {
    rows.push({
      id: String(9_000_000_000_000_000_000n + BigInt(i)),
      user: users[(i * 7) % users.length]!,
      product: products[(i * 3) % products.length]!,
      action: ['view', 'click', 'purchase'][i % 3]!,
      ts: `${days[i % days.length]} ${String(i % 24).padStart(2, '0')}:00:${String(i % 60).padStart(2, '0')}`,
    });
  }
  return rows;
}

const QUESTIONS: { question: InteractionsQuestion; limit?: number }[] = [
  { question: 'daily' },
  { question: 'daily', limit: 2 },
  { question: 'top-users' },
  { question: 'top-users', limit: 50 },
  { question: 'top-products' },
  { question: 'top-products', limit: 1 },
];

async function answers(client: SqlClient, schema: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const q of QUESTIONS) out.push(await queryInteractions(client, { schema, ...q }));
  return out;
}

test('the embedded PGlite runs the same load and answers the same as the server', async (t) => {
  const target = resolvePgConfig({ env: {} });
  assert.equal(target.kind, 'embedded');
  const started = performance.now();
  const embedded = await openSqlClient(target);
  t.diagnostic(`PGlite start: ${Math.round(performance.now() - started)} ms`);
  const schema = randomSchema('embedded');
  const server = await openServerClient(testServerTarget());
  t.after(async () => {
    await embedded.close();
    await server.close();
    await dropSchema(schema);
  });
  assert.equal(embedded.maxConnections, 1);

  const data = interactionsCopyData(dataset());
  // Two parallel sources: on PGlite they queue on its single connection.
  assert.equal(await loadInteractions(embedded, schema, data, 2), 97);
  assert.equal(await loadInteractions(server, schema, data, 2), 97);

  const fromServer = await answers(server, schema);
  const fromEmbedded = await answers(embedded, schema);
  assert.deepEqual(fromEmbedded, fromServer);
  // Guard against both sides being equally wrong (e.g. empty): spot-check the server's answer.
  assert.equal((fromServer[0] as unknown[]).length, 5);
  assert.deepEqual((fromServer[1] as unknown[])[0], { day: '2023-12-31', interactions: 20 });

  // Same rows byte for byte, and the same catalog shape.
  const dump = `SELECT interaction_id::text, user_id::text, product_id::text, action, "timestamp"::text,
    user_interaction_count, product_interaction_count, interaction_count
    FROM "${schema}".user_interactions ORDER BY interaction_id`;
  assert.deepEqual(await embedded.query(dump), await server.query(dump));
  const shape = `SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 ORDER BY 1`;
  assert.deepEqual(await embedded.query(shape, [schema]), await server.query(shape, [schema]));

  // A rerun with fewer rows replaces the embedded tables as well.
  const fewer = interactionsCopyData(dataset().slice(0, 10));
  await loadInteractions(embedded, schema, fewer, 1);
  const [{ n }] = await embedded.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${schema}".user_interactions`,
  );
  assert.equal(n, '10');

  // Errors come back as PostgresError with the SQLSTATE, like the server's.
  await assert.rejects(embedded.query('SELECT * FROM "no_such_table"'), (err: unknown) => {
    assert.ok(err instanceof PostgresError);
    assert.equal(err.sqlState, '42P01');
    assert.match(err.message, /^SELECT "no_such_table" failed: relation "no_such_table" does not exist/);
    return true;
  });
  // A failing transaction rolls back on PGlite too.
  await assert.rejects(
    embedded.transaction(async (tx) => {
      await tx.query(`CREATE TABLE "${schema}".t_rollback (x int)`);
      await tx.query('SELECT 1/0');
    }),
    /division by zero/,
  );
  assert.deepEqual(await embedded.query(`SELECT to_regclass($1)::text AS t`, [`"${schema}".t_rollback`]), [
    { t: null },
  ]);
});
