import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ShardflowError } from '../errors.js';
import { pushRunMetrics } from '../metrics/pushgateway.js';
import { createRunMetrics } from '../metrics/run-metrics.js';
import { FIXTURES, runCli } from './helpers/run-cli.js';

const BINARY = process.env.PUSHGATEWAY_BIN ?? '/usr/bin/prometheus-pushgateway';
const INSTALL_HINT = `prometheus-pushgateway not found at ${BINARY}: apt-get install prometheus-pushgateway (or set PUSHGATEWAY_BIN)`;

interface PushedGroup {
  labels: Record<string, string>;
  [family: string]: unknown;
}

interface PushedFamily {
  type: string;
  metrics: { labels: Record<string, string>; value?: string }[];
}

function shardRun(shard: string, rowsRead: number) {
  const m = createRunMetrics({ job: 'interactions', labels: { shard } });
  m.setRunId('run-1');
  m.recordRows({ rowsRead, rowsValid: rowsRead - 3, bytesRead: 4096, rejected: { bad_date: 3 } });
  m.recordTask('map', 0.2, 'ok');
  return m;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts the real Pushgateway on a free loopback port; stopped (by pid) in `t.after`. */
async function startPushgateway(t: TestContext): Promise<string> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'shardflow-pushgw-'));
  const child: ChildProcess = spawn(
    BINARY,
    [`--web.listen-address=127.0.0.1:${port}`, `--persistence.file=${join(dir, 'metrics.store')}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    assert.equal(child.exitCode, null, `pushgateway exited early:\n${log}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return url;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`pushgateway did not become ready on ${url}:\n${log}`);
}

async function pushedGroups(url: string): Promise<PushedGroup[]> {
  const res = await fetch(`${url}/api/v1/metrics`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { status: string; data: PushedGroup[] };
  assert.equal(body.status, 'success');
  return body.data;
}

/** `name{labels} value` lines of the Pushgateway's own exposition for one metric name. */
async function scrape(url: string, name: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith(`${name}{`));
}

function isPushError(err: unknown, url: string): boolean {
  return (
    err instanceof ShardflowError &&
    err.code === 'E_PUSHGATEWAY' &&
    err.exitCode === 1 &&
    err.message.includes(url) &&
    !err.message.includes('\n')
  );
}

test('a real Pushgateway receives each shard under job / run_id / shard; a re-push replaces', async (t) => {
  if (spawnSync(BINARY, ['--version']).error) {
    t.skip(INSTALL_HINT);
    return;
  }
  const url = await startPushgateway(t);

  await pushRunMetrics(shardRun('0/3', 1005).registry, {
    url,
    job: 'interactions',
    runId: 'run-1',
    shard: '0/3',
  });
  await pushRunMetrics(shardRun('1/3', 700).registry, {
    url,
    job: 'interactions',
    runId: 'run-1',
    shard: '1/3',
  });

  const groups = await pushedGroups(url);
  assert.deepEqual(
    groups.map((g) => g.labels).sort((a, b) => a.shard.localeCompare(b.shard)),
    [
      { job: 'interactions', run_id: 'run-1', shard: '0/3' },
      { job: 'interactions', run_id: 'run-1', shard: '1/3' },
    ],
  );
  const group0 = groups.find((g) => g.labels.shard === '0/3')!;
  assert.equal(group0.last_push_successful, true);
  const rowsRead = group0.shardflow_rows_read_total as PushedFamily;
  assert.equal(rowsRead.type, 'COUNTER');
  assert.deepEqual(rowsRead.metrics, [
    { labels: { instance: '', job: 'interactions', run_id: 'run-1', shard: '0/3' }, value: '1005' },
  ]);
  const runInfo = group0.shardflow_run_info as PushedFamily;
  assert.deepEqual(runInfo.metrics[0].labels.run_id, 'run-1');

  // What Prometheus scrapes from the Pushgateway: one series per shard, our labels exactly.
  assert.deepEqual((await scrape(url, 'shardflow_rows_read_total')).sort(), [
    'shardflow_rows_read_total{instance="",job="interactions",run_id="run-1",shard="0/3"} 1005',
    'shardflow_rows_read_total{instance="",job="interactions",run_id="run-1",shard="1/3"} 700',
  ]);
  const rejected = await scrape(url, 'shardflow_rows_rejected_total');
  assert.ok(
    rejected.includes(
      'shardflow_rows_rejected_total{instance="",job="interactions",reason="bad_date",run_id="run-1",shard="0/3"} 3',
    ),
    rejected.join('\n'),
  );

  // A retried pod pushes its own final counters: they replace the group, never add to it.
  await pushRunMetrics(shardRun('0/3', 40).registry, {
    url,
    job: 'interactions',
    runId: 'run-1',
    shard: '0/3',
  });
  assert.deepEqual((await scrape(url, 'shardflow_rows_read_total')).sort(), [
    'shardflow_rows_read_total{instance="",job="interactions",run_id="run-1",shard="0/3"} 40',
    'shardflow_rows_read_total{instance="",job="interactions",run_id="run-1",shard="1/3"} 700',
  ]);

  // An unsharded run groups by job and run id only; the registry has no shard label at all.
  const single = createRunMetrics({ job: 'interactions' });
  single.recordRows({ rowsRead: 9, rowsValid: 9, bytesRead: 1, rejected: {} });
  await pushRunMetrics(single.registry, { url, job: 'interactions', runId: 'run-2' });
  assert.ok(
    (await scrape(url, 'shardflow_rows_read_total')).includes(
      'shardflow_rows_read_total{instance="",job="interactions",run_id="run-2"} 9',
    ),
  );
});

test('a refused connection rejects with E_PUSHGATEWAY naming the URL, within the timeout', async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const started = Date.now();
  await assert.rejects(
    pushRunMetrics(shardRun('0/1', 10).registry, { url, job: 'interactions', runId: 'r', timeoutMs: 2000 }),
    (err) => isPushError(err, url),
  );
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
});

test('a gateway that never answers rejects with E_PUSHGATEWAY after timeoutMs', async (t) => {
  // A real server that accepts the push and never answers: the one fault a Pushgateway will not produce.
  const server: Server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const started = Date.now();
  await assert.rejects(
    pushRunMetrics(shardRun('0/1', 10).registry, { url, job: 'interactions', runId: 'r', timeoutMs: 300 }),
    (err) => isPushError(err, url) && (err as Error).message.includes('300 ms'),
  );
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 250 && elapsed < 2000, `took ${elapsed} ms`);
});

test('an HTTP error status is one line with the status, credentials kept out of the message', async (t) => {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(400).end('pushed metrics are invalid or inconsistent\nsecond line\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const withCredentials = base.replace('//', '//user:s3cret@');
  await assert.rejects(
    pushRunMetrics(shardRun('0/1', 10).registry, { url: withCredentials, job: 'interactions', runId: 'r' }),
    (err) =>
      isPushError(err, base) &&
      /400/.test((err as Error).message) &&
      !(err as Error).message.includes('s3cret'),
  );
});

test('bad options are E_USAGE naming the option', async () => {
  const registry = shardRun('0/1', 10).registry;
  const ok = { url: 'http://127.0.0.1:9091', job: 'interactions', runId: 'r' };
  const bad: [Partial<typeof ok> & { shard?: string; timeoutMs?: number }, string][] = [
    [{ url: 'not a url' }, '`url`'],
    [{ url: 'ftp://host:21' }, '`url`'],
    [{ job: '' }, '`job`'],
    [{ job: 'a/b' }, '`job`'],
    [{ runId: '' }, '`runId`'],
    [{ shard: '' }, '`shard`'],
    [{ timeoutMs: 0 }, '`timeoutMs`'],
  ];
  for (const [override, option] of bad) {
    await assert.rejects(
      pushRunMetrics(registry, { ...ok, ...override }),
      (err: ShardflowError) => err.code === 'E_USAGE' && err.message.includes(option),
      JSON.stringify(override),
    );
  }
});

test('run --pushgateway: two shard processes each push their own rows, which add up to the run', async (t) => {
  if (spawnSync(BINARY, ['--version']).error) {
    t.skip(INSTALL_HINT);
    return;
  }
  const url = await startPushgateway(t);
  const dir = await mkdtemp(join(tmpdir(), 'shardflow-push-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const input = join(FIXTURES, 'interactions-icustomer', 'interaction_data.csv');
  const shard = (i: number) =>
    runCli([
      ...['run', 'interactions', '--input', input, '--out', join(dir, 'out'), '--no-pg', '--json'],
      ...['--shard', `${i}/2`, '--shuffle', join(dir, 'shuffle'), '--split-size', '4KiB'],
      ...['--run-id', 'push-test', '--pushgateway', url, '--no-progress', '--workers', '1'],
    ]);
  const results = await Promise.all([shard(0), shard(1)]);
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const total = (JSON.parse(results[0].stdout.trim().split('\n').pop()!) as { rows_read: number }).rows_read;
  const lines = await scrape(url, 'shardflow_rows_read_total');
  const shards = lines.filter((l) => l.includes('run_id="push-test"') && l.includes('job="interactions"'));
  assert.equal(shards.length, 2, lines.join('\n'));
  const values = shards.map((l) => Number(l.split(' ').pop()));
  assert.ok(
    values.every((v) => v > 0 && v < total),
    `each shard pushes its own share: ${values.join(', ')}`,
  );
  assert.equal(
    values.reduce((a, b) => a + b, 0),
    total,
  );
});
