/**
 * defineJob checks a job's declaration once, when its module loads: a minimal job is accepted and
 * frozen; each kind of mistake is a UsageError with code E_USAGE (exit 2), asserted on the code,
 * never on the message text. Each bad case is the valid job with one field broken, so a case
 * that passes proves that exact check exists.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  csv,
  csvFile,
  defineJob,
  emit,
  isJobDefinition,
  jsonl,
  jsonlFile,
  parquet,
  pgTable,
  reject,
  stageState,
} from '../engine/define-job.js';
import type { JobDefinition, StageSpec, StateSpec } from '../engine/job-contract.js';
import { count, max, sum } from '../engine/monoids.js';
import { ShardflowError } from '../errors.js';

type Job = JobDefinition<Record<string, unknown>>;

/** A fresh minimal valid job each call, so a case can break one part of it. */
function validJob(): Job {
  return {
    name: 'orders-per-customer',
    description: 'orders and revenue per customer',
    options: { 'min-orders': { type: 'integer', help: 'drop customers below this', default: 1 } },
    inputs: { orders: csv({ columns: { customer: {}, amount: { type: 'number' } } }) },
    stages: [
      {
        name: 'per-customer',
        map: (r) => emit(r.customer as string, { orders: 1, revenue: r.amount }),
        state: { orders: count(), revenue: sum() },
      },
    ],
    outputs: {
      customers: parquet('customers', { key: 'string', orders: 'int64', revenue: 'double' }),
    },
  };
}

/** The valid job's one stage. */
const stageOf = (job: Job): StageSpec => (job.stages ?? [])[0];

function usageError(err: unknown): boolean {
  assert.ok(err instanceof ShardflowError, `not a ShardflowError: ${String(err)}`);
  assert.equal(err.code, 'E_USAGE');
  assert.equal(err.exitCode, 2);
  return true;
}

test('a minimal valid job is accepted, frozen and recognised', () => {
  const input = validJob();
  const job = defineJob(input);
  assert.ok(Object.isFrozen(job));
  assert.ok(isJobDefinition(job));
  assert.equal(job.name, 'orders-per-customer');
  assert.equal(job.stages, input.stages);
  assert.throws(() => {
    (job as { name: string }).name = 'other';
  }, TypeError); // ESM is strict: writing a frozen property throws
  assert.equal(job.name, 'orders-per-customer');
  // Every sink kind and a second input are accepted too.
  const wide = validJob();
  defineJob({
    ...wide,
    inputs: { ...wide.inputs, events: jsonl({ columns: { id: { type: 'integer' } }, header: 'normalized' }) },
    outputs: {
      a: parquet('a', { key: 'string' }),
      b: csvFile('b.csv-parts', { key: 'string?' }),
      c: jsonlFile('c_1', { key: 'string', n: 'int64?', t: 'timestamp', d: 'date?', ok: 'boolean' }),
      d: pgTable('totals', { key: 'string', n: 'double' }, { mode: 'upsert', key: ['key'] }),
    },
  });
});

test('isJobDefinition is false for anything defineJob did not return', () => {
  assert.equal(isJobDefinition(validJob()), false);
  assert.equal(isJobDefinition({ name: 'x', [Symbol('shardflow.job')]: true }), false);
  assert.equal(isJobDefinition(null), false);
  assert.equal(isJobDefinition('orders-per-customer'), false);
});

/** Each case: a label and how it breaks the valid job. */
const BAD: [string, (job: Job) => Job][] = [
  ['name with upper case', (j) => ({ ...j, name: 'Orders' })],
  ['name with a space', (j) => ({ ...j, name: 'my job' })],
  ['name starting with a digit', (j) => ({ ...j, name: '1job' })],
  ['empty name', (j) => ({ ...j, name: '' })],
  ['empty description', (j) => ({ ...j, description: '' })],
  ['description not a string', (j) => ({ ...j, description: 42 as unknown as string })],
  ['no inputs', (j) => ({ ...j, inputs: {} })],
  [
    'unknown input format',
    (j) => ({ ...j, inputs: { orders: { format: 'xml' as 'csv', schema: j.inputs.orders.schema } } }),
  ],
  ['empty schema', (j) => ({ ...j, inputs: { orders: csv({ columns: {} }) } })],
  ['no stages', (j) => ({ ...j, stages: [] })],
  [
    'a stage without map',
    (j) => ({ ...j, stages: [{ ...stageOf(j), map: undefined as unknown as StageSpec['map'] }] }),
  ],
  [
    'a state field that is not an aggregate',
    (j) => ({
      ...j,
      stages: [
        {
          ...stageOf(j),
          state: { orders: count(), revenue: { name: 'sum' } as unknown as StateSpec[string] },
        },
      ],
    }),
  ],
  [
    'a state field missing decode()',
    (j) => {
      const { decode: _decode, ...partial } = sum();
      void _decode;
      return {
        ...j,
        stages: [{ ...stageOf(j), state: { revenue: partial as unknown as StateSpec[string] } }],
      };
    },
  ],
  ['an empty state', (j) => ({ ...j, stages: [{ ...stageOf(j), state: {} }] })],
  ['a stage naming an unknown input', (j) => ({ ...j, stages: [{ ...stageOf(j), inputs: ['payments'] }] })],
  [
    'an output column with an unknown type',
    (j) => ({ ...j, outputs: { customers: parquet('customers', { key: 'varchar' as 'string' }) } }),
  ],
  [
    'an output column with a bad name',
    (j) => ({ ...j, outputs: { customers: parquet('customers', { 'the key': 'string' }) } }),
  ],
  ['an output without columns', (j) => ({ ...j, outputs: { customers: parquet('customers', {}) } })],
  ['no outputs', (j) => ({ ...j, outputs: {} })],
  [
    'an upsert pgTable without key',
    (j) => ({ ...j, outputs: { t: pgTable('t', { key: 'string' }, { mode: 'upsert' }) } }),
  ],
  [
    'an upsert pgTable with an empty key',
    (j) => ({ ...j, outputs: { t: pgTable('t', { key: 'string' }, { mode: 'upsert', key: [] }) } }),
  ],
  [
    'a key column not in columns',
    (j) => ({ ...j, outputs: { t: pgTable('t', { key: 'string' }, { mode: 'upsert', key: ['customer'] }) } }),
  ],
  ['a sink path with ..', (j) => ({ ...j, outputs: { a: parquet('..', { key: 'string' }) } })],
  ['a sink path containing ..', (j) => ({ ...j, outputs: { a: parquet('a..b', { key: 'string' }) } })],
  ['a sink path with /', (j) => ({ ...j, outputs: { a: parquet('a/b', { key: 'string' }) } })],
  ['an absolute sink path', (j) => ({ ...j, outputs: { a: parquet('/tmp', { key: 'string' }) } })],
  ['an empty sink path', (j) => ({ ...j, outputs: { a: jsonlFile('', { key: 'string' }) } })],
  [
    'two sinks with the same path',
    (j) => ({
      ...j,
      outputs: { a: parquet('same', { key: 'string' }), b: csvFile('same', { key: 'string' }) },
    }),
  ],
  [
    'a sink path "rejects" (reserved)',
    (j) => ({ ...j, outputs: { a: parquet('rejects', { key: 'string' }) } }),
  ],
  [
    'an option with an unknown type',
    (j) => ({ ...j, options: { when: { type: 'date' as 'string', help: 'a day' } } }),
  ],
  [
    'an option with a bad name',
    (j) => ({ ...j, options: { Gap: { type: 'integer', help: 'x', default: 1 } } }),
  ],
];

for (const [label, breakIt] of BAD)
  test(`defineJob rejects ${label} with E_USAGE`, () => {
    const valid = validJob();
    defineJob(valid); // the unbroken job passes, so the case isolates one check
    assert.throws(() => defineJob(breakIt(validJob())), usageError);
  });

test('reject() takes lower snake case reasons only', () => {
  assert.deepEqual(reject('bad_amount'), { reject: 'bad_amount' });
  for (const bad of ['Bad Reason', 'bad-reason', '', '1st', 'bad reason'])
    assert.throws(() => reject(bad), usageError, bad);
});

test('emit() keys any id as a string', () => {
  assert.deepEqual(emit(42n, { n: 1 }), { key: '42', values: { n: 1 } });
  assert.deepEqual(emit(7), { key: '7', values: {} });
});

test('stageState calls a state function with the run options and checks what it returns', () => {
  const seen: unknown[] = [];
  const job = defineJob({
    ...validJob(),
    options: { gap: { type: 'integer', help: 'gap', default: 30 } },
    stages: [
      {
        name: 'sessions',
        map: () => null,
        state: (options): StateSpec => {
          seen.push(options);
          return options.gap === 5 ? { last: max() } : { n: count() };
        },
      },
    ],
  });
  assert.deepEqual(seen, [], 'defineJob does not call it: the options are not known yet');
  const state = stageState(job, 0, { gap: 5 });
  assert.deepEqual(seen, [{ gap: 5 }]);
  assert.deepEqual(Object.keys(state), ['last']);
  assert.equal(state.last, max());
  assert.deepEqual(Object.keys(stageState(job, 0, { gap: 6 })), ['n']);
  // A function that returns something that is not a state is caught when it is called.
  const broken = defineJob({
    ...validJob(),
    stages: [{ name: 's', map: () => null, state: () => ({ n: 1 as unknown as StateSpec[string] }) }],
  });
  assert.throws(() => stageState(broken, 0, {}), usageError);
  // A plain state is returned as declared.
  const plain = defineJob(validJob());
  assert.deepEqual(Object.keys(stageState(plain, 0, {})), ['orders', 'revenue']);
});

test('a kernel job is accepted without stages or outputs; a half-declared kernel is E_USAGE', () => {
  const kernel = { reasons: ['bad'], owner: () => 0, runTask: async () => 0, run: async () => ({}) as never };
  const inputs = { rows: jsonl({ columns: { id: {} } }) };
  const job = defineJob({ name: 'k', description: 'a kernel job', inputs, kernel });
  assert.ok(isJobDefinition(job));
  assert.equal(job.kernel, kernel);
  for (const broken of [
    { kernel: { ...kernel, run: undefined } },
    { kernel: { ...kernel, reasons: undefined } },
    { kernel, stages: [] },
  ])
    assert.throws(
      () => defineJob({ name: 'k', description: 'd', inputs, ...(broken as object) } as never),
      (err: unknown) => (err as { code?: string }).code === 'E_USAGE',
    );
});
