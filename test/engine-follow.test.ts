/**
 * The engine's follow mode and per-object checkpoint (issue #11: "the follow mode, the per-object
 * checkpoint and the PostgreSQL source ... are engine features"): the loop's backoff and stop,
 * and exactly-once processing against a real PostgreSQL, including two processes racing for the
 * same object and a transaction that fails half-way.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { followLoop, sleep } from '../engine/follow.js';
import { now, offsetTimeText } from '../engine/clock.js';
import { ObjectCheckpoint, pendingObjects } from '../io/pg-checkpoint.js';
import { openSqlClient } from '../io/sql-client.js';
import { dropSchema, randomSchema, testServerTarget } from './pg-test-env.js';

test('followLoop: drains without follow; with follow backs off, resets on work, stops on abort', async () => {
  let calls = 0;
  assert.equal(await followLoop({ follow: false, pollMs: 1000 }, async () => ++calls < 3), 'drained');
  assert.equal(calls, 3);

  const waits: number[] = [];
  const ac = new AbortController();
  let step = 0;
  const work = new Set([4]); // the fifth step finds work, the others none
  const end = await followLoop(
    { follow: true, pollMs: 1, maxPollMs: 4, signal: ac.signal, onIdle: (ms) => waits.push(ms) },
    async () => {
      step += 1;
      if (step === 9) ac.abort();
      return work.has(step);
    },
  );
  assert.equal(end, 'stopped');
  assert.deepEqual(waits, [1, 2, 4, 1, 2, 4, 4, 4]); // step 9 aborts, then waits no more
});

test('sleep ends at once when its signal aborts', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ac.abort(), 20);
  await sleep(60_000, ac.signal);
  assert.ok(Date.now() - t0 < 5_000);
});

test('the clock: SHARDFLOW_CLOCK fixes it; IST text has the +05:30 offset', () => {
  const fixed = now({ SHARDFLOW_CLOCK: '2026-01-01T00:00:00Z' });
  assert.equal(fixed.toISOString(), '2026-01-01T00:00:00.000Z');
  assert.equal(offsetTimeText(fixed, 330), '2026-01-01T05:30:00.000+05:30');
  assert.equal(offsetTimeText(new Date('2026-03-01T20:00:00.123Z'), 330), '2026-03-02T01:30:00.123+05:30');
  assert.throws(() => now({ SHARDFLOW_CLOCK: 'yesterday' }), /SHARDFLOW_CLOCK must be an ISO 8601 instant/);
});

test('pendingObjects: new objects in name order; a done object whose size changed is reported', () => {
  const done = new Map([['b.csv', { object: 'b.csv', size: 10, version: '1', stats: {} }]]);
  const listing = [
    { url: 'p/c.csv', size: 1, version: 'x' },
    { url: 'p/b.csv', size: 11, version: 'y' },
    { url: 'p/a.csv', size: 1, version: 'x' },
  ];
  const { fresh, changed } = pendingObjects(listing, done, (u) => u.slice(2));
  assert.deepEqual(
    fresh.map((f) => f.name),
    ['a.csv', 'c.csv'],
  );
  assert.deepEqual(
    changed.map((c) => [c.name, c.done.size, c.info.size]),
    [['b.csv', 10, 11]],
  );
});

test('ObjectCheckpoint: an object is processed once with its effects, even by two racing clients', async () => {
  const schema = randomSchema('ckpt');
  const a = await openSqlClient(testServerTarget());
  const b = await openSqlClient(testServerTarget());
  try {
    const ckA = await ObjectCheckpoint.open(a, { schema, job: 'j', scope: 's' });
    const ckB = await ObjectCheckpoint.open(b, { schema, job: 'j', scope: 's' });
    await a.query(`CREATE TABLE "${schema}".effects (object text)`);
    const effect = (ck: ObjectCheckpoint, name: string, delayMs: number) =>
      ck.processOnce(name, { size: 3, version: 'v' }, async (tx) => {
        await tx.query(`INSERT INTO "${schema}".effects VALUES ($1)`, [name]);
        await sleep(delayMs);
        return { rows: 3 };
      });
    // Both take x.csv at once: one does it, the other waits on the key and skips.
    const [r1, r2] = await Promise.all([effect(ckA, 'x.csv', 100), effect(ckB, 'x.csv', 0)]);
    assert.equal([r1, r2].filter((r) => r !== undefined).length, 1);
    assert.equal(await effect(ckA, 'x.csv', 0), undefined);
    // A failure half-way leaves neither the effect nor the checkpoint row.
    await assert.rejects(
      ckA.processOnce('y.csv', { size: 1, version: 'v' }, async (tx) => {
        await tx.query(`INSERT INTO "${schema}".effects VALUES ('y.csv')`);
        throw new Error('boom');
      }),
      /boom/,
    );
    const effects = await a.query<{ object: string }>(`SELECT object FROM "${schema}".effects ORDER BY 1`);
    assert.deepEqual(
      effects.map((e) => e.object),
      ['x.csv'],
    );
    const done = await ckB.done();
    assert.deepEqual([...done.keys()], ['x.csv']);
    assert.deepEqual(done.get('x.csv')?.stats, { rows: 3 });
  } finally {
    await a.close();
    await b.close();
    await dropSchema(schema);
  }
});
