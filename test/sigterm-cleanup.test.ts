/**
 * SIGTERM and SIGINT stop a run in order (issue #10): a real `shardflow run` is signalled while
 * its spill files exist; it exits 143 / 130 with one line, leaves its `--tmp-dir` empty and no
 * hidden temporary file under `--out`. With S3 output, every multipart upload it started is
 * completed or aborted (which of the two depends on whether its writer had reached commit; the abort
 * itself is checked in abort-open-writers.test.ts). s3rver answers neither ListMultipartUploads nor
 * AbortMultipartUpload (it has no such routes), so the recording proxy checks the requests instead.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI, runCli, tempDir } from './helpers/run-cli.js';
import { startS3Server, type S3Server } from './helpers/s3-server.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';

const STOP_LINE = /^shardflow: stopped by (SIGTERM|SIGINT); removed spill, aborted (\d+) uploads$/m;
let dir = '';
let input = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardflow-test-'));
  input = join(dir, 'in.csv');
  const generated = await runCli(['generate', 'interactions', '--rows', '400000', '--out', input]);
  assert.equal(generated.code, 0, generated.stderr);
});

/** Every file under `root` (an empty list when it does not exist), as paths relative to it. */
async function files(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length + 1));
}

/** Polls `check` every 20 ms until it returns true; fails after `timeoutMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The CLI as a child process, with its exit and stderr. */
function startCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, stderr: () => stderr };
}

for (const [signal, code] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const) {
  test(`${signal} mid-run: exit ${code}, spill removed, no temporary file under --out`, async (t) => {
    const work = await tempDir(t);
    const tmp = join(work, 'tmp');
    const out = join(work, 'out');
    const run = startCli([
      ...['run', 'interactions', '--input', input, '--out', out, '--tmp-dir', tmp],
      ...['--split-size', '1MiB', '--workers', '2', '--no-pg', '--no-progress', '--json'],
    ]);
    let exitedEarly = false;
    void run.exited.then(() => (exitedEarly = true));
    await until('spill files', async () => {
      assert.ok(!exitedEarly, `the run ended before it spilled: ${run.stderr()}`);
      return (await files(tmp)).some((f) => /spill-\d+/.test(f));
    });
    run.child.kill(signal);
    const [exitCode] = await run.exited;
    assert.equal(exitCode, code, run.stderr());
    const line = STOP_LINE.exec(run.stderr());
    assert.ok(line, `one stop line on stderr: ${run.stderr()}`);
    assert.equal(line[1], signal);
    assert.deepEqual(await readdir(tmp), [], 'the tmp dir holds nothing of the run');
    assert.deepEqual(
      (await files(out)).filter((f) => f.endsWith('.shardflow-tmp')),
      [],
      'no hidden temporary file under --out',
    );
  });
}

/**
 * A TCP relay that passes bytes from the client at `bytesPerSecond` until `unthrottle()`: a
 * multipart upload through it stays in flight long enough to be stopped part-way.
 */
async function startThrottle(upstream: string, bytesPerSecond: number) {
  const target = new URL(upstream);
  let rate = bytesPerSecond;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const up = connect(Number(target.port), target.hostname);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        up.destroy();
      });
    }
    up.pipe(client);
    client.on('data', (chunk: Buffer) => {
      up.write(chunk);
      if (rate === Infinity) return;
      client.pause();
      setTimeout(() => client.resume(), (chunk.length / rate) * 1000);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    unthrottle: () => {
      rate = Infinity;
      for (const s of sockets) s.resume();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

let s3: S3Server | undefined;
let proxy: FaultProxy | undefined;
after(async () => {
  await proxy?.close();
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('SIGTERM mid-upload: every multipart upload the run started is completed or aborted', async (t) => {
  const work = await tempDir(t);
  const tmp = join(work, 'tmp');
  // One profile: its collections and predictions files (~6 MB each) go up as multipart uploads.
  const data = join(work, 'callsign');
  const generated = await runCli([
    ...['generate', 'callsign', '--profiles', '1', '--sessions-per-profile', '5000', '--out', data],
  ]);
  assert.equal(generated.code, 0, generated.stderr);
  s3 = await startS3Server({ buckets: ['stop-test'] });
  proxy = await startFaultProxy(s3.endpoint);
  const throttle = await startThrottle(proxy.endpoint, 2_000_000);
  t.after(() => throttle.close());
  const run = startCli(
    [
      ...['run', 'callsign', '--collections', join(data, 'collections.jsonl')],
      ...['--predictions', join(data, 'predictions.jsonl'), '--out', 's3://stop-test/run'],
      ...['--tmp-dir', tmp, '--workers', '2', '--partitions', '2', '--no-progress', '--json'],
      ...['--s3-endpoint', throttle.endpoint, '--s3-part-size', '5MiB'],
    ],
    s3.env,
  );
  let exitedEarly = false;
  void run.exited.then(() => (exitedEarly = true));
  const p = proxy;
  await until(
    'a part upload in flight',
    () => {
      assert.ok(!exitedEarly, `the run ended before it uploaded a part: ${run.stderr()}`);
      return p.requests({ operation: 'UploadPart' }).length > 0;
    },
    30_000,
  );
  run.child.kill('SIGTERM');
  throttle.unthrottle(); // the parts in flight finish quickly, then the completes or aborts go out
  const [exitCode] = await run.exited;
  assert.equal(exitCode, 143, run.stderr());
  const line = STOP_LINE.exec(run.stderr());
  assert.ok(line, `one stop line on stderr: ${run.stderr()}`);

  const created = proxy.requests({ operation: 'CreateMultipartUpload' }).filter((r) => r.status === 200);
  const ended = new Set(
    proxy
      .requests()
      .filter((r) => r.operation === 'AbortMultipartUpload' || r.operation === 'CompleteMultipartUpload')
      .map((r) => r.query.uploadId),
  );
  assert.ok(created.length >= 1, 'the run started a multipart upload');
  assert.ok(
    ended.size >= created.length,
    `${created.length} uploads started, ${ended.size} completed or aborted`,
  );
  assert.deepEqual(await readdir(tmp), [], 'the tmp dir holds nothing of the run');
});
