/**
 * The worker pool retries a task whose error is retryable (a transient S3 failure thrown in a
 * worker: the flag crosses the thread boundary) and fails at once on any other ShardflowError;
 * `shardflow_tasks_total{status="retried"}` counts the retries. A real piscina pool runs a small
 * test worker (test/helpers/flaky-task.ts).
 */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { WorkerPool } from '../coordinator/worker-pool.js';
import { ShardflowError } from '../errors.js';
import { createRunMetrics, type RunMetrics } from '../metrics/run-metrics.js';
import type { CallsignMapTask } from '../jobs/callsign/tasks.js';
import type { FlakyTask } from './helpers/flaky-task.js';
import { tempDir } from './helpers/run-cli.js';

const FLAKY_TASK = new URL('./helpers/flaky-task.js', import.meta.url).href;

function pool(
  t: { after: (fn: () => Promise<void>) => void },
  metrics: RunMetrics,
  attempts = 3,
): WorkerPool {
  const p = new WorkerPool({ workers: 2, metrics, attempts, retryDelayMs: 10, filename: FLAKY_TASK });
  t.after(() => p.close());
  return p;
}

function flaky(id: number, failures: number, retryable: boolean, attempts: SharedArrayBuffer): FlakyTask {
  return { id, failures, retryable, attempts };
}

async function taskCount(metrics: RunMetrics, status: string): Promise<number> {
  const metric = await metrics.registry.getSingleMetric('shardflow_tasks_total')?.get();
  return (metric?.values ?? []).filter((v) => v.labels.status === status).reduce((n, v) => n + v.value, 0);
}

test('a task whose error is retryable runs again and succeeds; the retry is counted', async (t) => {
  const metrics = createRunMetrics({ job: 'interactions' });
  const attempts = new SharedArrayBuffer(4 * 4);
  const tasks = [flaky(0, 1, true, attempts), flaky(1, 0, true, attempts), flaky(2, 2, true, attempts)];
  const results = await pool(t, metrics).runAll<{ id: number; attempt: number }>('map', tasks as never[]);
  assert.deepEqual(results, [
    { id: 0, attempt: 2 },
    { id: 1, attempt: 1 },
    { id: 2, attempt: 3 },
  ]);
  assert.equal(await taskCount(metrics, 'retried'), 3);
  assert.equal(await taskCount(metrics, 'ok'), 3);
  assert.equal(await taskCount(metrics, 'failed'), 0);
});

test('a non-retryable ShardflowError is final after one attempt, code and exit code kept', async (t) => {
  const metrics = createRunMetrics({ job: 'interactions' });
  const attempts = new SharedArrayBuffer(4);
  await assert.rejects(pool(t, metrics).run('map', flaky(0, 1, false, attempts) as never), (err) => {
    assert.ok(err instanceof ShardflowError);
    assert.equal(err.code, 'E_S3');
    assert.equal(err.exitCode, 1);
    assert.equal(err.retryable, false);
    return true;
  });
  assert.equal(new Int32Array(attempts)[0], 1, 'one attempt only');
  assert.equal(await taskCount(metrics, 'retried'), 0);
  assert.equal(await taskCount(metrics, 'failed'), 1);
});

test('a retryable error that outlasts the attempts fails, still marked retryable', async (t) => {
  const metrics = createRunMetrics({ job: 'interactions' });
  const attempts = new SharedArrayBuffer(4);
  await assert.rejects(pool(t, metrics, 2).run('map', flaky(0, 5, true, attempts) as never), (err) => {
    assert.ok(err instanceof ShardflowError);
    assert.equal(err.code, 'E_S3_UNAVAILABLE');
    assert.equal(err.retryable, true);
    return true;
  });
  assert.equal(new Int32Array(attempts)[0], 2);
  assert.equal(await taskCount(metrics, 'retried'), 1);
  assert.equal(await taskCount(metrics, 'failed'), 1);
});

test('the real worker entry hands a ShardflowError to the pool with its code and exit code', async (t) => {
  // A callsign map task over a file that is not there: E_INPUT_NOT_FOUND, thrown in the worker.
  const metrics = createRunMetrics({ job: 'callsign' });
  const p = new WorkerPool({ workers: 1, metrics, retryDelayMs: 10 });
  t.after(() => p.close());
  const dir = await tempDir(t);
  const missing = join(dir, 'gone.jsonl');
  const task: CallsignMapTask = {
    stage: 'map',
    taskId: 0,
    split: { kind: 'collections', url: missing, fileIndex: 0, start: 0, end: 100 },
    partitions: 4,
    spillPath: join(dir, 'split-0.spill'),
    storage: {},
  };
  const jobUrl = new URL('../jobs/callsign/job.js', import.meta.url).href;
  await assert.rejects(p.run('map', task, jobUrl), (err) => {
    assert.ok(err instanceof ShardflowError, `a ShardflowError, not ${String(err)}`);
    assert.equal(err.code, 'E_INPUT_NOT_FOUND');
    assert.equal(err.exitCode, 2);
    assert.equal(err.retryable, false);
    return true;
  });
  assert.equal(await taskCount(metrics, 'retried'), 0, 'bad input is not retried');
  assert.equal(await taskCount(metrics, 'failed'), 1);
});
