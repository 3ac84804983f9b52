import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';

import { InputError, PostgresError, ShardflowError } from '../errors.js';
import {
  abortInteractionsLoad,
  copyInteractionRows,
  prepareInteractionsLoad,
  queryInteractions,
} from '../jobs/interactions/pg-interactions.js';
import { openServerClient } from '../io/pg-server-client.js';
import type { SqlClient } from '../io/sql-client.js';
import {
  dropSchema,
  interactionsCopyData,
  loadInteractions,
  randomSchema,
  testServerTarget,
} from './pg-test-env.js';
import type { TestInteraction } from './pg-test-env.js';

const BIG = '9223372036854775806'; // 2^63 - 2: far beyond Number.MAX_SAFE_INTEGER
const BIG53 = '9007199254740993'; // 2^53 + 1: the first integer a double cannot hold

/**
 * Three months; user 95 and user BIG tie at 3 interactions, products 950 and BIG53 tie at 2. The ids
 * sort differently as text ('95' > '9223…') and as numbers, so the tie-break must be numeric.
 */
const ROWS_A: readonly TestInteraction[] = Object.freeze([
  { id: BIG, user: BIG, product: BIG53, action: 'click', ts: '2024-01-15 10:00:00' },
  { id: '1', user: '95', product: '100', action: 'view', ts: '2024-01-15 11:30:00' },
  { id: '2', user: '95', product: '100', action: 'purchase', ts: '2024-01-31 23:59:59' },
  { id: '3', user: BIG, product: '950', action: 'view', ts: '2024-02-01 00:00:00' },
  { id: '4', user: '7', product: '950', action: 'click', ts: '2024-02-29 12:00:00' },
  { id: '5', user: '95', product: BIG53, action: 'view', ts: '2024-03-01 08:00:00' },
  { id: '6', user: BIG, product: '100', action: `it's "quoted" – ü`, ts: '2024-03-31 23:59:59' },
  { id: BIG53, user: '7', product: '300', action: 'view', ts: '2024-03-10 09:00:00' },
]);

/** Different months and ids: must fully replace ROWS_A. */
const ROWS_B: readonly TestInteraction[] = Object.freeze([
  { id: '10', user: '1', product: '1', action: 'view', ts: '2023-12-31 23:59:59' },
  { id: '11', user: '2', product: '1', action: 'click', ts: '2024-02-10 10:10:10' },
]);

async function setup(t: TestContext, label: string): Promise<{ client: SqlClient; schema: string }> {
  const schema = randomSchema(label);
  const client = await openServerClient(testServerTarget(), { maxConnections: 3 });
  t.after(async () => {
    await client.close();
    await dropSchema(schema);
  });
  return { client, schema };
}

async function interactionRows(client: SqlClient, schema: string): Promise<string[][]> {
  const rows = await client.query<Record<string, string>>(
    `SELECT interaction_id::text, user_id::text, product_id::text, action, "timestamp"::text,
            user_interaction_count::text, product_interaction_count::text, interaction_count::text
     FROM "${schema}".user_interactions ORDER BY interaction_id, "timestamp"`,
  );
  return rows.map((r) => Object.values(r));
}

function expectedRows(rows: readonly TestInteraction[]): string[][] {
  const text = interactionsCopyData(rows).interactions.toString('utf8');
  return text
    .trimEnd()
    .split('\n')
    .map((line) => line.split('\t'))
    .sort((a, b) => (BigInt(a[0]!) < BigInt(b[0]!) ? -1 : BigInt(a[0]!) > BigInt(b[0]!) ? 1 : 0));
}

async function leftovers(client: SqlClient, schema: string): Promise<string[]> {
  const rows = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname LIKE '%\\_\\_load%' ORDER BY 1`,
    [schema],
  );
  return rows.map((r) => r.relname);
}

test('a load creates monthly partitions, keys and indexes, and round-trips values exactly', async (t) => {
  const { client, schema } = await setup(t, 'load');
  const copied = await loadInteractions(client, schema, interactionsCopyData(ROWS_A));
  assert.equal(copied, ROWS_A.length);

  const parent = await client.query<{ relkind: string; key: string }>(
    `SELECT c.relkind::text, pg_get_partkeydef(c.oid) AS key FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'user_interactions'`,
    [schema],
  );
  assert.deepEqual(parent, [{ relkind: 'p', key: 'RANGE ("timestamp")' }]);
  const partitions = await client.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i
     JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
     JOIN pg_namespace n ON n.oid = p.relnamespace
     WHERE n.nspname = $1 AND p.relname = 'user_interactions' ORDER BY 1`,
    [schema],
  );
  assert.deepEqual(partitions, [
    {
      name: 'user_interactions_p2024_01',
      bound: "FOR VALUES FROM ('2024-01-01 00:00:00') TO ('2024-02-01 00:00:00')",
    },
    {
      name: 'user_interactions_p2024_02',
      bound: "FOR VALUES FROM ('2024-02-01 00:00:00') TO ('2024-03-01 00:00:00')",
    },
    {
      name: 'user_interactions_p2024_03',
      bound: "FOR VALUES FROM ('2024-03-01 00:00:00') TO ('2024-04-01 00:00:00')",
    },
  ]);

  const indexes = await client.query<{ tablename: string; indexname: string; indexdef: string }>(
    `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1, 2`,
    [schema],
  );
  const names = (table: string) => indexes.filter((i) => i.tablename === table).map((i) => i.indexname);
  for (const table of ['user_interactions', ...partitions.map((p) => p.name)]) {
    assert.deepEqual(
      names(table),
      ['pkey', 'product_id_idx', 'timestamp_idx', 'user_id_idx'].map((s) => `${table}_${s}`),
    );
  }
  const parentDefs = indexes.filter((i) => i.tablename === 'user_interactions').map((i) => i.indexdef);
  assert.match(parentDefs[0]!, /UNIQUE INDEX .* \(interaction_id, "timestamp"\)/);
  assert.match(parentDefs[1]!, /\(product_id\)$/);
  assert.match(parentDefs[2]!, /\("timestamp"\)$/);
  assert.match(parentDefs[3]!, /\(user_id\)$/);
  assert.deepEqual(names('user_interaction_users'), ['user_interaction_users_pkey']);
  assert.deepEqual(names('user_interaction_products'), ['user_interaction_products_pkey']);
  assert.deepEqual(names('user_interaction_daily'), ['user_interaction_daily_pkey']);

  // Primary keys are real constraints, and the partitioned indexes are valid (all partitions attached).
  const constraints = await client.query<{ table: string; name: string; def: string }>(
    `SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS def
     FROM pg_constraint WHERE connamespace = $1::regnamespace AND contype = 'p' ORDER BY 2`,
    [schema],
  );
  assert.deepEqual(
    constraints.map((c) => [c.name, c.def]),
    [
      ['user_interaction_daily_pkey', 'PRIMARY KEY (day)'],
      ['user_interaction_products_pkey', 'PRIMARY KEY (product_id)'],
      ['user_interaction_users_pkey', 'PRIMARY KEY (user_id)'],
      ['user_interactions_p2024_01_pkey', 'PRIMARY KEY (interaction_id, "timestamp")'],
      ['user_interactions_p2024_02_pkey', 'PRIMARY KEY (interaction_id, "timestamp")'],
      ['user_interactions_p2024_03_pkey', 'PRIMARY KEY (interaction_id, "timestamp")'],
      ['user_interactions_pkey', 'PRIMARY KEY (interaction_id, "timestamp")'],
    ],
  );
  const invalid = await client.query(
    `SELECT i.indexrelid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relnamespace = $1::regnamespace AND NOT i.indisvalid`,
    [schema],
  );
  assert.deepEqual(invalid, []);

  assert.deepEqual(await interactionRows(client, schema), expectedRows(ROWS_A));
  const perPartition = await client.query<{ name: string; n: string }>(
    `SELECT tableoid::regclass::text AS name, count(*) AS n FROM "${schema}".user_interactions GROUP BY 1 ORDER BY 1`,
  );
  assert.deepEqual(
    perPartition.map((r) => [r.name.split('.')[1], r.n]),
    [
      ['user_interactions_p2024_01', '3'],
      ['user_interactions_p2024_02', '2'],
      ['user_interactions_p2024_03', '3'],
    ],
  );
  assert.deepEqual(await leftovers(client, schema), []);
});

test('a rerun leaves identical rows and no staging tables; different input replaces everything', async (t) => {
  const { client, schema } = await setup(t, 'rerun');
  await loadInteractions(client, schema, interactionsCopyData(ROWS_A));
  const first = await interactionRows(client, schema);
  const firstCounts = await client.query(`SELECT * FROM "${schema}".user_interaction_users ORDER BY 1`);

  await loadInteractions(client, schema, interactionsCopyData(ROWS_A), 3);
  assert.deepEqual(await interactionRows(client, schema), first);
  assert.deepEqual(
    await client.query(`SELECT * FROM "${schema}".user_interaction_users ORDER BY 1`),
    firstCounts,
  );
  assert.deepEqual(await leftovers(client, schema), []);

  await loadInteractions(client, schema, interactionsCopyData(ROWS_B), 1);
  assert.deepEqual(await interactionRows(client, schema), expectedRows(ROWS_B));
  const partitions = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = $1::regclass ORDER BY 1`,
    [`"${schema}".user_interactions`],
  );
  assert.deepEqual(
    partitions.map((p) => p.relname),
    ['user_interactions_p2023_12', 'user_interactions_p2024_02'],
  );
  // The old months' partitions went with the old parent: nothing else is left in the schema.
  const tables = await client.query<{ relname: string }>(
    `SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 'p') ORDER BY 1`,
    [schema],
  );
  assert.deepEqual(
    tables.map((r) => r.relname),
    [
      'user_interaction_daily',
      'user_interaction_products',
      'user_interaction_users',
      'user_interactions',
      'user_interactions_p2023_12',
      'user_interactions_p2024_02',
    ],
  );
  assert.deepEqual(await queryInteractions(client, { schema, question: 'top-users' }), [
    { user_id: '1', interactions: 1 },
    { user_id: '2', interactions: 1 },
  ]);
  assert.deepEqual(await leftovers(client, schema), []);

  // An empty input is a valid load too: empty tables, no partitions, empty answers.
  assert.equal(await loadInteractions(client, schema, interactionsCopyData([])), 0);
  assert.deepEqual(await queryInteractions(client, { schema, question: 'daily' }), []);
  assert.deepEqual(await interactionRows(client, schema), []);
  assert.deepEqual(await leftovers(client, schema), []);
});

test('an error from the row source aborts the COPY unchanged and the pool stays usable', async (t) => {
  const { client, schema } = await setup(t, 'source');
  const target = await prepareInteractionsLoad(client, { schema, months: ['2024-01'] });
  const good = interactionsCopyData(ROWS_A.slice(0, 2)).interactions;
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield good;
    await new Promise((resolve) => setTimeout(resolve, 20));
    throw new InputError('E_CSV', 'bad row 3');
  }
  for (let i = 0; i < 5; i++) {
    // Five times over a 3-connection pool: a poisoned connection would be reused and fail differently.
    await assert.rejects(copyInteractionRows(client, target, failing()), (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.equal(err.code, 'E_CSV');
      return true;
    });
  }
  const rows = await client.query(`SELECT count(*)::int AS n FROM "${schema}".user_interactions__load`);
  assert.deepEqual(rows, [{ n: 0 }]);
  assert.equal(await copyInteractionRows(client, target, [good]), 2);
});

test('queries order by count desc then id asc, and the count tables match user_interactions', async (t) => {
  const { client, schema } = await setup(t, 'query');
  await loadInteractions(client, schema, interactionsCopyData(ROWS_A));

  assert.deepEqual(await queryInteractions(client, { schema, question: 'top-users' }), [
    { user_id: '95', interactions: 3 },
    { user_id: BIG, interactions: 3 },
    { user_id: '7', interactions: 2 },
  ]);
  assert.deepEqual(await queryInteractions(client, { schema, question: 'top-products' }), [
    { product_id: '100', interactions: 3 },
    { product_id: '950', interactions: 2 },
    { product_id: BIG53, interactions: 2 },
    { product_id: '300', interactions: 1 },
  ]);
  assert.deepEqual(await queryInteractions(client, { schema, question: 'top-products', limit: 2 }), [
    { product_id: '100', interactions: 3 },
    { product_id: '950', interactions: 2 },
  ]);
  assert.deepEqual(await queryInteractions(client, { schema, question: 'daily' }), [
    { day: '2024-01-15', interactions: 2 },
    { day: '2024-01-31', interactions: 1 },
    { day: '2024-02-01', interactions: 1 },
    { day: '2024-02-29', interactions: 1 },
    { day: '2024-03-01', interactions: 1 },
    { day: '2024-03-10', interactions: 1 },
    { day: '2024-03-31', interactions: 1 },
  ]);
  assert.deepEqual(await queryInteractions(client, { schema, question: 'daily', limit: 1 }), [
    { day: '2024-01-15', interactions: 2 },
  ]);

  const mismatches = await client.query(
    `(SELECT 'user' AS kind, user_id::text AS id, count(*) AS n FROM "${schema}".user_interactions GROUP BY user_id
      EXCEPT SELECT 'user', user_id::text, interaction_count FROM "${schema}".user_interaction_users)
     UNION ALL
     (SELECT 'user', user_id::text, interaction_count FROM "${schema}".user_interaction_users
      EXCEPT SELECT 'user', user_id::text, count(*) FROM "${schema}".user_interactions GROUP BY user_id)
     UNION ALL
     (SELECT 'product', product_id::text, count(*) FROM "${schema}".user_interactions GROUP BY product_id
      EXCEPT SELECT 'product', product_id::text, interaction_count FROM "${schema}".user_interaction_products)
     UNION ALL
     (SELECT 'product', product_id::text, interaction_count FROM "${schema}".user_interaction_products
      EXCEPT SELECT 'product', product_id::text, count(*) FROM "${schema}".user_interactions GROUP BY product_id)
     UNION ALL
     (SELECT 'day', "timestamp"::date::text, count(*) FROM "${schema}".user_interactions GROUP BY 2
      EXCEPT SELECT 'day', day::text, interactions FROM "${schema}".user_interaction_daily)
     UNION ALL
     (SELECT 'day', day::text, interactions FROM "${schema}".user_interaction_daily
      EXCEPT SELECT 'day', "timestamp"::date::text, count(*) FROM "${schema}".user_interactions GROUP BY 2)`,
  );
  assert.deepEqual(mismatches, []);

  await assert.rejects(
    queryInteractions(client, { schema, question: 'top-users', limit: 0 }),
    /limit must be/,
  );
  await assert.rejects(
    queryInteractions(client, { schema, question: 'nope' as 'daily' }),
    /question must be one of daily, top-users, top-products/,
  );
});

test('a failed load leaves the previous tables answering, and the next load clears its staging', async (t) => {
  const { client, schema } = await setup(t, 'fail');
  await loadInteractions(client, schema, interactionsCopyData(ROWS_A));

  const target = await prepareInteractionsLoad(client, { schema, months: ['2024-01'] });
  const outside = interactionsCopyData([
    { id: '99', user: '1', product: '1', action: 'x', ts: '2025-06-01 00:00:00' },
  ]);
  await assert.rejects(copyInteractionRows(client, target, [outside.interactions]), (err: unknown) => {
    assert.ok(err instanceof PostgresError);
    assert.equal(err.sqlState, '23514');
    assert.match(err.message, /^COPY "sf_fail_[0-9a-f]+"\."user_interactions__load" failed: no partition/);
    assert.match(err.message, /months with a partition: 2024-01$/);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  });
  assert.notDeepEqual(await leftovers(client, schema), []);
  assert.deepEqual(await interactionRows(client, schema), expectedRows(ROWS_A));
  await abortInteractionsLoad(client, target);
  assert.deepEqual(await leftovers(client, schema), []);

  // A crash mid-load (staging left behind) is cleaned up by the next prepare.
  await prepareInteractionsLoad(client, { schema, months: ['2024-01', '2024-02'] });
  assert.notDeepEqual(await leftovers(client, schema), []);
  await loadInteractions(client, schema, interactionsCopyData(ROWS_B));
  assert.deepEqual(await leftovers(client, schema), []);
  assert.deepEqual(await interactionRows(client, schema), expectedRows(ROWS_B));

  await assert.rejects(
    prepareInteractionsLoad(client, { schema, months: ['2024-13'] }),
    /months must be YYYY-MM/,
  );
  await assert.rejects(prepareInteractionsLoad(client, { schema: '', months: [] }), /schema \(--pg-schema\)/);
});

test('querying a schema with nothing loaded fails with E_NO_DATA (exit 2)', async (t) => {
  const { client, schema } = await setup(t, 'empty');
  await assert.rejects(queryInteractions(client, { schema, question: 'daily' }), (err: unknown) => {
    assert.ok(err instanceof ShardflowError);
    assert.equal(err.code, 'E_NO_DATA');
    assert.equal(err.exitCode, 2);
    assert.equal(
      err.message,
      `no interactions loaded in schema "${schema}": run \`shardflow run interactions --pg …\` first`,
    );
    return true;
  });
});
