import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { Agent, get } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { startMetricsServer } from '../metrics/metrics-server.js';
import { createRunMetrics } from '../metrics/run-metrics.js';
import { ShardflowError } from '../errors.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// Minimal Prometheus text-format parser: `name{a="x",b="y"} value` lines, comments skipped.
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return samples;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function recordedRun() {
  const m = createRunMetrics({ job: 'interactions', labels: { shard: '0/3' } });
  m.initReasons(['bad_date', 'missing_key', 'duplicate_key']);
  m.setRunId('stale');
  m.setRunId('run-1');
  m.recordRows({ rowsRead: 1000, rowsValid: 990, bytesRead: 5_000_000_000, rejected: { bad_date: 7 } });
  m.recordRows({ rowsRead: 5, rowsValid: 2, bytesRead: 100, rejected: { bad_date: 1, missing_key: 2 } });
  m.recordTask('decode', 0.004, 'ok');
  m.recordTask('decode', 0.2, 'ok');
  m.recordTask('decode', 12, 'failed');
  m.recordTask('aggregate', 400, 'retried');
  m.samplePool({ utilization: 0.75, queueSize: 4, threads: [{}, {}, {}] });
  return m;
}

test('metrics exposition over HTTP: values, default labels, zeroed reasons, 404, clean close', async () => {
  const m = recordedRun();
  const server = await startMetricsServer(m.registry, { port: 0 });
  const agent = new Agent({ keepAlive: true });
  try {
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/metrics`);

    const res = await fetch(server.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), m.registry.contentType);
    const samples = parse(await res.text());

    assert.equal(value(samples, 'shardflow_rows_read_total'), 1005);
    assert.equal(value(samples, 'shardflow_rows_valid_total'), 992);
    assert.equal(value(samples, 'shardflow_bytes_read_total'), 5_000_000_100);
    assert.equal(value(samples, 'shardflow_rows_rejected_total', { reason: 'bad_date' }), 8);
    assert.equal(value(samples, 'shardflow_rows_rejected_total', { reason: 'missing_key' }), 2);
    assert.equal(value(samples, 'shardflow_rows_rejected_total', { reason: 'duplicate_key' }), 0);

    assert.equal(value(samples, 'shardflow_tasks_total', { stage: 'decode', status: 'ok' }), 2);
    assert.equal(value(samples, 'shardflow_tasks_total', { stage: 'decode', status: 'failed' }), 1);
    assert.equal(value(samples, 'shardflow_tasks_total', { stage: 'aggregate', status: 'retried' }), 1);
    const decode = { stage: 'decode' };
    assert.equal(value(samples, 'shardflow_task_duration_seconds_count', decode), 3);
    assert.ok(Math.abs(value(samples, 'shardflow_task_duration_seconds_sum', decode)! - 12.204) < 1e-9);
    assert.equal(value(samples, 'shardflow_task_duration_seconds_bucket', { ...decode, le: '0.001' }), 0);
    assert.equal(value(samples, 'shardflow_task_duration_seconds_bucket', { ...decode, le: '0.005' }), 1);
    assert.equal(value(samples, 'shardflow_task_duration_seconds_bucket', { ...decode, le: '0.25' }), 2);
    assert.equal(value(samples, 'shardflow_task_duration_seconds_bucket', { ...decode, le: '30' }), 3);
    const aggregate = { stage: 'aggregate' };
    assert.equal(value(samples, 'shardflow_task_duration_seconds_bucket', { ...aggregate, le: '300' }), 0);
    assert.equal(value(samples, 'shardflow_task_duration_seconds_bucket', { ...aggregate, le: '+Inf' }), 1);

    assert.equal(value(samples, 'shardflow_pool_utilization'), 0.75);
    assert.equal(value(samples, 'shardflow_pool_queue_size'), 4);
    assert.equal(value(samples, 'shardflow_pool_threads'), 3);
    assert.equal(value(samples, 'shardflow_run_info', { run_id: 'run-1' }), 1);
    assert.equal(value(samples, 'shardflow_run_info', { run_id: 'stale' }), undefined);

    // Process default metrics are on the same registry and carry the default labels too.
    assert.ok(value(samples, 'process_cpu_user_seconds_total')! >= 0);
    for (const s of samples) {
      assert.deepEqual([s.labels.job, s.labels.shard], ['interactions', '0/3'], `labels of ${s.name}`);
    }

    assert.match(await m.snapshot(), /^shardflow_rows_read_total\{.*shard="0\/3".*\} 1005$/m);

    const health = await fetch(new URL('/healthz', server.url));
    assert.deepEqual([health.status, await health.text()], [200, 'ok']);
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/metricsx'],
      ['POST', '/metrics'],
    ]) {
      const r = await fetch(new URL(path, server.url), { method });
      assert.equal(r.status, 404, `${method} ${path}`);
      await r.body?.cancel();
    }

    // Leave an idle keep-alive socket open: close() must still finish promptly.
    await new Promise<void>((resolve, reject) => {
      get(`http://127.0.0.1:${server.port}/healthz`, { agent }, (r) => r.resume().on('end', resolve)).on(
        'error',
        reject,
      );
    });
    assert.equal(Object.keys(agent.freeSockets).length, 1);
    // And a stalled scraper mid-request (headers never finished), which server.close() alone waits for.
    const stalled = connect(server.port, '127.0.0.1');
    stalled.on('error', () => {});
    await new Promise((resolve) => stalled.once('connect', resolve));
    stalled.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    await withTimeout(server.close(), 2000, 'server.close()');
    await server.close();
    agent.destroy();
  }
});

test('a fresh registry per run: no global metrics, two runs side by side', async () => {
  const a = createRunMetrics({ job: 'a' });
  const b = createRunMetrics({ job: 'b', labels: { shard: '1/3' } });
  a.recordRows({ rowsRead: 3, rowsValid: 3, bytesRead: 10, rejected: {} });
  assert.equal(globalRegistry.getSingleMetric('shardflow_rows_read_total'), undefined);
  assert.equal(value(parse(await a.snapshot()), 'shardflow_rows_read_total'), 3);
  assert.equal(value(parse(await b.snapshot()), 'shardflow_rows_read_total', { job: 'b', shard: '1/3' }), 0);
});

test('bad label options are usage errors naming the option', () => {
  const bad: Record<string, string>[] = [{ 'bad-name': 'x' }, { __meta: 'x' }, { job: 'x' }, { reason: 'x' }];
  for (const labels of bad) {
    assert.throws(
      () => createRunMetrics({ job: 'j', labels }),
      (err: ShardflowError) => err.code === 'E_USAGE' && err.message.includes('`labels`'),
    );
  }
  assert.throws(() => createRunMetrics({ job: '' }), /`job`/);
});

test('a busy port is E_METRICS_PORT, exit code 2, one line naming the port', async () => {
  const first = await startMetricsServer(createRunMetrics({ job: 'j' }).registry, { port: 0 });
  try {
    await assert.rejects(
      startMetricsServer(createRunMetrics({ job: 'j' }).registry, { port: first.port }),
      (err: ShardflowError) =>
        err instanceof ShardflowError &&
        err.code === 'E_METRICS_PORT' &&
        err.exitCode === 2 &&
        err.message.includes(String(first.port)) &&
        !err.message.includes('\n'),
    );
    await assert.rejects(startMetricsServer(createRunMetrics({ job: 'j' }).registry, { port: -1 }), {
      code: 'E_USAGE',
    });
  } finally {
    await first.close();
  }
});

function promtool(text: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  child.stdin.end(text);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

test('promtool check metrics accepts the exposition', async (t) => {
  if (spawnSync('promtool', ['--version']).error) {
    t.skip('promtool not on PATH (Debian package `prometheus`)');
    return;
  }
  const text = await recordedRun().snapshot();
  const ours = text
    .split('\n')
    .filter((line) => /^(# (HELP|TYPE) )?shardflow_/.test(line))
    .join('\n');
  const strict = await promtool(`${ours}\n`);
  assert.equal(strict.code, 0, `promtool on shardflow_* exited ${strict.code}:\n${strict.output}`);

  // The full output parses (exit 1 would be a format error); prom-client's own default gauges
  // nodejs_active_{handles,requests,resources}_total draw lint warnings (exit 3) we cannot rename.
  const full = await promtool(text);
  const problems = full.output.split('\n').filter(Boolean);
  assert.ok(full.code === 0 || full.code === 3, `promtool exited ${full.code}:\n${full.output}`);
  for (const p of problems) assert.match(p, /^nodejs_active_\w+_total non-counter metrics/, p);
});
