/**
 * The Storage contract (issue #3) on the local filesystem and on a real S3 API server (s3rver on
 * loopback), and S3Storage under the faults a real server will not produce on demand (error
 * answers, a stalled or reset body), which a recording proxy in front of the server injects.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ShardflowError } from '../errors.js';
import { localStorage } from '../io/local-storage.js';
import {
  configureStorage,
  joinUrl,
  parseS3Url,
  storageFor,
  type S3Options,
  type Storage,
} from '../io/storage.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { makeS3Client, S3RVER_CREDENTIALS, startS3Server, type S3Server } from './helpers/s3-server.js';

const BUCKET = 'shardflow-test';
const MiB = 1024 * 1024;

let server: S3Server;
let raw: S3Client;

before(async () => {
  server = await startS3Server({ buckets: [BUCKET] });
  raw = makeS3Client({ endpoint: server.endpoint });
});

after(async () => {
  raw?.destroy();
  await server?.stop();
});

/** An ObjectInfo without its version, which differs between runs (an mtime) or servers. */
function withoutVersion(info: { url: string; size: number } | null): { url: string; size: number } | null {
  return info && { url: info.url, size: info.size };
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** Asserts equal bytes without printing megabytes when they differ. */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  if (a.equals(expected)) return;
  let i = 0;
  while (i < a.length && i < expected.length && a[i] === expected[i]) i++;
  assert.fail(
    `${what}: ${a.length} bytes where ${expected.length} were expected, first difference at byte ${i}`,
  );
}

async function writeObject(storage: Storage, url: string, data: Uint8Array, chunkSize = MiB): Promise<void> {
  const w = storage.create(url);
  for (let i = 0; i < data.length; i += chunkSize) await w.write(data.subarray(i, i + chunkSize));
  await w.commit();
}

/** `data` stored as `key` straight on the server, bypassing the code under test. */
async function putRaw(key: string, data: Uint8Array): Promise<void> {
  await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: data }));
}

/**
 * Tiny objects `keys` (each holding its own key), 16 requests at a time, as plain unsigned PUTs,
 * which s3rver accepts: the SDK's per-request cost would double the run time of the test that needs
 * a thousand of them.
 */
async function seedObjects(keys: readonly string[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const put = (key: string) =>
    new Promise<void>((resolve, reject) => {
      const path = `/${BUCKET}/${key.split('/').map(encodeURIComponent).join('/')}`;
      const req = request(`${server.endpoint}${path}`, { method: 'PUT', agent }, (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`PUT ${path}: HTTP ${res.statusCode}`)),
        );
      });
      req.on('error', reject);
      req.end(key);
    });
  try {
    for (let i = 0; i < keys.length; i += 16) await Promise.all(keys.slice(i, i + 16).map(put));
  } finally {
    agent.destroy();
  }
}

/** S3Storage configured against a fresh recording proxy in front of the server. */
async function s3ThroughProxy(
  t: TestContext,
  options: S3Options = {},
): Promise<{ storage: Storage; proxy: FaultProxy }> {
  const proxy = await startFaultProxy(server.endpoint);
  t.after(() => proxy.close());
  configureStorage({ s3: { ...options, endpoint: proxy.endpoint } });
  return { storage: await storageFor(`s3://${BUCKET}/`), proxy };
}

/** Asserts what every permanent S3 error must be: one line, exit 2, naming `where`, no secret. */
function assertPermanent(err: unknown, code: string, where: string): true {
  assert.ok(err instanceof ShardflowError, `not a ShardflowError: ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.equal(err.exitCode, 2);
  assert.equal(err.retryable, false, 'retrying cannot fix it');
  assert.ok(!err.message.includes('\n'), `more than one line: ${err.message}`);
  assert.ok(err.message.includes(where), `does not name ${where}: ${err.message}`);
  assert.ok(!err.message.includes(S3RVER_CREDENTIALS.secretAccessKey), `leaks the secret: ${err.message}`);
  return true;
}

// ---------------------------------------------------------------------------------------------
// The contract, run against each implementation.

let s3Roots = 0;

function storageContract(
  name: string,
  open: (t: TestContext) => Promise<{ storage: Storage; root: string }>,
) {
  test(`${name}: nothing is visible before commit; after it the object is whole and listed`, async (t) => {
    const { storage, root } = await open(t);
    const url = joinUrl(root, 'out/part-0.bin');
    const data = randomBytes(300_000);
    const w = storage.create(url);
    await w.write(data.subarray(0, 100_000));
    await w.write(data.subarray(100_000));
    assert.equal(await storage.stat(url), null);
    assert.deepEqual(await storage.list(root), []);
    await w.commit();
    const info = await storage.stat(url);
    assert.deepEqual(withoutVersion(info), { url, size: data.length });
    assert.ok(info !== null && info.version !== '', 'an object has a version (ETag or mtime)');
    assert.deepEqual(await storage.list(root), [info], 'list and stat agree, version included');
    assertSameBytes(await collect(storage.read(url)), data, 'read back');
  });

  test(`${name}: abort leaves nothing behind, twice is harmless, and the writer is closed`, async (t) => {
    const { storage, root } = await open(t);
    const url = joinUrl(root, 'aborted.bin');
    const w = storage.create(url);
    await w.write(randomBytes(50_000));
    await w.abort();
    await w.abort();
    assert.equal(await storage.stat(url), null);
    assert.deepEqual(await storage.list(root), [], 'a temporary file or object was left');
    await assert.rejects(w.write(new Uint8Array(1)));
    await assert.rejects(w.commit());
  });

  test(`${name}: a chunk buffer reused after write resolves does not change what was written`, async (t) => {
    const { storage, root } = await open(t);
    const url = joinUrl(root, 'reused.bin');
    const buf = Buffer.alloc(64 * 1024);
    const w = storage.create(url);
    for (let i = 1; i <= 4; i++) {
      buf.fill(i);
      await w.write(buf);
    }
    await w.commit();
    const expected = Buffer.concat([1, 2, 3, 4].map((i) => Buffer.alloc(buf.length, i)));
    assertSameBytes(await collect(storage.read(url)), expected, 'read back');
  });

  test(`${name}: an empty object commits with size 0 and reads as no bytes`, async (t) => {
    const { storage, root } = await open(t);
    const url = joinUrl(root, 'empty.bin');
    await storage.create(url).commit();
    assert.deepEqual(withoutVersion(await storage.stat(url)), { url, size: 0 });
    assert.equal((await collect(storage.read(url))).length, 0);
    assert.equal((await storage.readRange(url, 0, 10)).length, 0);
  });

  test(`${name}: commit replaces an existing object`, async (t) => {
    const { storage, root } = await open(t);
    const url = joinUrl(root, 'replaced.bin');
    await writeObject(storage, url, Buffer.from('first version, longer'));
    await writeObject(storage, url, Buffer.from('second'));
    assert.equal((await collect(storage.read(url))).toString(), 'second');
    // Same size, other bytes: the version tells them apart (an S3 ETag; a local mtime only from
    // the next millisecond on, which test/run-id.test.ts covers).
    const before = await storage.stat(url);
    await writeObject(storage, url, Buffer.from('SECOND'));
    if (name === 's3') assert.notEqual((await storage.stat(url))?.version, before?.version);
  });

  test(`${name}: list is recursive, sorted by URL, and stops at the prefix boundary`, async (t) => {
    const { storage, root } = await open(t);
    const names = ['d/b.csv', 'd/a/2.csv', 'd/a/10.csv', 'd/c/deep/x.csv', 'd-sibling/y.csv', 'd.csv'];
    for (const n of names) await writeObject(storage, joinUrl(root, n), Buffer.from(n));
    const listed = await storage.list(joinUrl(root, 'd'));
    assert.deepEqual(
      listed.map((o) => o.url),
      ['d/a/10.csv', 'd/a/2.csv', 'd/b.csv', 'd/c/deep/x.csv'].map((n) => joinUrl(root, n)),
    );
    assert.deepEqual(
      listed.map((o) => o.size),
      [10, 9, 7, 14],
    );
    assert.deepEqual(await storage.list(joinUrl(root, 'nothing-here')), []);
  });

  test(`${name}: read and readRange return exactly the asked bytes of a multi-MiB object`, async (t) => {
    const { storage, root } = await open(t);
    const url = joinUrl(root, 'ranges.bin');
    const data = randomBytes(5 * MiB + 123); // crosses the local reader's 4 MiB blocks
    await writeObject(storage, url, data);
    const size = data.length;
    const cases: Array<[number, number]> = [
      [0, 1],
      [MiB - 1, 3 * MiB + 5],
      [4 * MiB - 2, 4 * MiB + 2],
      [size - 10, size + 1000], // end past the object's end
      [size, size + 10], // starting at the end
      [size + 5, size + 10], // starting past the end
      [7, 7], // empty range
    ];
    for (const [start, end] of cases) {
      const want = data.subarray(start, end);
      assertSameBytes(await collect(storage.read(url, start, end)), want, `read(${start}, ${end})`);
      assertSameBytes(
        await storage.readRange(url, start, end - start),
        want,
        `readRange(${start}, ${end - start})`,
      );
    }
    assertSameBytes(
      await collect(storage.read(url, size - 100)),
      data.subarray(size - 100),
      'read to the end',
    );
    assertSameBytes(await collect(storage.read(url)), data, 'read all');
  });

  test(`${name}: delete and deletePrefix remove what they name, and a missing one is no error`, async (t) => {
    const { storage, root } = await open(t);
    for (const n of ['keep.csv', 'gone.csv', 'dir/a.csv', 'dir/sub/b.csv', 'dir-not/c.csv'])
      await writeObject(storage, joinUrl(root, n), Buffer.from(n));
    await storage.delete(joinUrl(root, 'gone.csv'));
    await storage.delete(joinUrl(root, 'never-was.csv'));
    await storage.deletePrefix(joinUrl(root, 'dir'));
    await storage.deletePrefix(joinUrl(root, 'no-such-dir'));
    assert.deepEqual(
      (await storage.list(root)).map((o) => o.url),
      ['dir-not/c.csv', 'keep.csv'].map((n) => joinUrl(root, n)),
    );
  });
}

storageContract('local', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'shardflow-storage-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return { storage: localStorage, root };
});

storageContract('s3', async () => {
  configureStorage({ s3: { endpoint: server.endpoint } });
  const root = `s3://${BUCKET}/contract-${++s3Roots}`;
  return { storage: await storageFor(root), root };
});

// ---------------------------------------------------------------------------------------------
// S3 specifics: pages, parts, retries, resumes, errors.

test('s3: a prefix of more than 1000 objects lists completely, in key order, over several pages', async (t) => {
  const count = 1001;
  // Creation order differs from key order, and key order differs from numeric order.
  const keys = Array.from({ length: count }, (_, i) => `many/${(i * 7919) % count}.csv`);
  await seedObjects(keys);
  const { storage, proxy } = await s3ThroughProxy(t);
  const listed = await storage.list(`s3://${BUCKET}/many`);
  const expected = keys.map((k) => `s3://${BUCKET}/${k}`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  assert.equal(listed.length, count);
  assert.deepEqual(
    listed.map((o) => o.url),
    expected,
  );
  const pages = proxy.requests({ operation: 'ListObjectsV2' });
  assert.ok(pages.length >= 2, `${pages.length} ListObjectsV2 request(s)`);
  assert.ok(
    pages.slice(1).every((p) => p.query['continuation-token']),
    'a later page without a token',
  );
  assert.ok(pages.every((p) => p.status === 200));
});

test('s3: an upload larger than the part size goes up in parts and reads back byte-equal', async (t) => {
  const { storage, proxy } = await s3ThroughProxy(t, { partSize: 5 * MiB });
  const url = `s3://${BUCKET}/parts/big.bin`;
  const data = randomBytes(12 * MiB + 321);
  await writeObject(storage, url, data, MiB);
  assert.equal(proxy.requests({ operation: 'CreateMultipartUpload' }).length, 1);
  const parts = proxy.requests({ operation: 'UploadPart' });
  assert.ok(parts.length >= 2, `${parts.length} UploadPart request(s)`);
  assert.deepEqual(parts.map((p) => p.query.partNumber).sort(), ['1', '2', '3']);
  assert.equal(proxy.requests({ operation: 'CompleteMultipartUpload' }).length, 1);
  assert.equal(proxy.requests({ operation: 'PutObject' }).length, 0);
  assert.deepEqual(withoutVersion(await storage.stat(url)), { url, size: data.length });
  assertSameBytes(await collect(storage.read(url)), data, 'read back');
});

test('s3: an object smaller than the part size goes up in one PutObject, byte-equal', async (t) => {
  // The silent-corruption guard: a streamed PutObject with a checksum trailer that the server
  // stores as data would still "succeed".
  const { storage, proxy } = await s3ThroughProxy(t, { partSize: 5 * MiB });
  const url = `s3://${BUCKET}/small/one.bin`;
  const data = randomBytes(MiB + 17);
  await writeObject(storage, url, data, 100_003);
  assert.deepEqual(
    proxy.requests().map((r) => r.operation),
    ['PutObject'],
  );
  assert.deepEqual(withoutVersion(await storage.stat(url)), { url, size: data.length });
  assertSameBytes(await collect(storage.read(url)), data, 'read back');
});

test('s3: an aborted multipart upload is invisible and is aborted on the server before abort() returns', async (t) => {
  const { storage, proxy } = await s3ThroughProxy(t, { partSize: 5 * MiB });
  const url = `s3://${BUCKET}/aborted/big.bin`;
  const w = storage.create(url);
  const chunk = randomBytes(MiB);
  for (let i = 0; i < 7; i++) await w.write(chunk);
  // Wait until a part is on the server, so there is an upload to abort.
  for (let i = 0; i < 100 && proxy.requests({ operation: 'UploadPart' }).length === 0; i++)
    await new Promise((r) => setTimeout(r, 20));
  const created = proxy.requests({ operation: 'CreateMultipartUpload' });
  assert.equal(created.length, 1);
  assert.equal(await storage.stat(url), null);
  await w.abort();
  const aborts = proxy.requests({ operation: 'AbortMultipartUpload' });
  assert.equal(aborts.length, 1, 'no AbortMultipartUpload had been sent when abort() resolved');
  const uploadId = proxy.requests({ operation: 'UploadPart' })[0].query.uploadId;
  assert.equal(aborts[0].query.uploadId, uploadId);
  assert.equal(proxy.requests({ operation: 'CompleteMultipartUpload' }).length, 0);
  assert.equal(await storage.stat(url), null);
});

test('s3: an upload whose parts keep failing rejects with E_S3_UNAVAILABLE and leaves no object', async (t) => {
  const maxAttempts = 2;
  const { storage, proxy } = await s3ThroughProxy(t, { partSize: 5 * MiB, maxAttempts });
  proxy.failNext({ operation: 'UploadPart' }, 100, 500, 'InternalError');
  const url = `s3://${BUCKET}/failed/big.bin`;
  const w = storage.create(url);
  await assert.rejects(
    async () => {
      for (let i = 0; i < 6; i++) await w.write(randomBytes(MiB));
      await w.commit();
    },
    (err: unknown) => {
      assert.ok(err instanceof ShardflowError);
      assert.equal(err.code, 'E_S3_UNAVAILABLE', err.message);
      assert.equal(err.retryable, true, 'the pool may run the task again');
      assert.ok(err.message.includes(url), err.message);
      return true;
    },
  );
  await w.abort(); // what a caller does after a failure: harmless
  const parts = proxy.requests({ operation: 'UploadPart' });
  const tries = new Map<string, number>();
  for (const p of parts) tries.set(p.query.partNumber, (tries.get(p.query.partNumber) ?? 0) + 1);
  assert.ok(tries.size >= 1);
  for (const [part, n] of tries) assert.equal(n, maxAttempts, `part ${part} tried ${n} times`);
  assert.equal(proxy.requests({ operation: 'CompleteMultipartUpload' }).length, 0);
  assert.equal(proxy.requests({ operation: 'AbortMultipartUpload' }).length, 1);
  assert.equal(await storage.stat(url), null);
});

test('s3: transient errors are retried: two 500s on a GET, a 503 SlowDown on a PUT', async (t) => {
  const { storage, proxy } = await s3ThroughProxy(t, { maxAttempts: 3 });
  const url = `s3://${BUCKET}/retried/a.bin`;
  const data = randomBytes(200_000);
  await putRaw('retried/a.bin', data);
  proxy.failNext({ operation: 'GetObject' }, 2, 500, 'InternalError');
  assertSameBytes(await storage.readRange(url, 1000, 150_000), data.subarray(1000, 151_000), 'readRange');
  assert.deepEqual(
    proxy.requests({ operation: 'GetObject' }).map((r) => r.status),
    [500, 500, 206],
  );

  const putUrl = `s3://${BUCKET}/retried/b.bin`;
  const putData = randomBytes(70_000);
  proxy.failNext({ operation: 'PutObject' }, 1, 503, 'SlowDown');
  await writeObject(storage, putUrl, putData);
  assert.deepEqual(
    proxy.requests({ operation: 'PutObject' }).map((r) => r.status),
    [503, 200],
  );
  assertSameBytes(await collect(storage.read(putUrl)), putData, 'read back');
});

for (const [fault, afterBytes] of [
  ['stall', 1_000_000],
  ['reset', 777_777],
] as const) {
  test(`s3: a body that ${fault === 'stall' ? 'stalls' : 'is reset'} part-way is resumed from the byte where it stopped`, async (t) => {
    const { storage, proxy } = await s3ThroughProxy(t, { stallMs: 300, maxAttempts: 3 });
    const key = `resumed/${fault}.bin`;
    const data = randomBytes(3 * MiB);
    await putRaw(key, data);
    if (fault === 'stall') proxy.stallNext({ operation: 'GetObject' }, afterBytes);
    else proxy.resetNext({ operation: 'GetObject' }, afterBytes);
    const start = 5;
    const back = await collect(storage.read(`s3://${BUCKET}/${key}`, start));
    assertSameBytes(back, data.subarray(start), 'read back');
    const gets = proxy.requests({ operation: 'GetObject' });
    assert.deepEqual(
      gets.map((r) => [r.range, r.fault]),
      [
        [`bytes=${start}-`, fault],
        [`bytes=${start + afterBytes}-`, undefined],
      ],
    );
  });
}

test('s3: attempts count failures in a row, so a long read survives a stall after each resume', async (t) => {
  const { storage, proxy } = await s3ThroughProxy(t, { stallMs: 300, maxAttempts: 2 });
  const data = randomBytes(3 * MiB);
  await putRaw('resumed/twice.bin', data);
  // Two stalls, each after progress: more failures than maxAttempts in all, never two in a row.
  proxy.stallNext({ operation: 'GetObject' }, 1_000_000);
  proxy.stallNext({ operation: 'GetObject' }, 1_000_000);
  assertSameBytes(await collect(storage.read(`s3://${BUCKET}/resumed/twice.bin`)), data, 'read back');
  assert.deepEqual(
    proxy.requests({ operation: 'GetObject' }).map((r) => r.fault),
    ['stall', 'stall', undefined],
  );
});

test('local: a missing file is E_INPUT_NOT_FOUND on read and readRange, as on S3', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'shardflow-local-missing-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'missing.csv');
  const storage = await storageFor(path);
  await assert.rejects(collect(storage.read(path)), (err) => assertPermanent(err, 'E_INPUT_NOT_FOUND', path));
  await assert.rejects(storage.readRange(path, 0, 10), (err) =>
    assertPermanent(err, 'E_INPUT_NOT_FOUND', path),
  );
});

test('s3: a missing bucket is E_S3_NO_BUCKET on read, stat and list, naming the bucket', async (t) => {
  const { storage } = await s3ThroughProxy(t);
  const url = 's3://no-such-bucket/some/key.csv';
  await assert.rejects(collect(storage.read(url)), (err) => assertPermanent(err, 'E_S3_NO_BUCKET', url));
  await assert.rejects(storage.stat(url), (err) => assertPermanent(err, 'E_S3_NO_BUCKET', 'no-such-bucket'));
  await assert.rejects(storage.list('s3://no-such-bucket/some'), (err) =>
    assertPermanent(err, 'E_S3_NO_BUCKET', 'no-such-bucket'),
  );
});

test('s3: a missing object is E_INPUT_NOT_FOUND on read, naming the key, and null on stat', async (t) => {
  const { storage, proxy } = await s3ThroughProxy(t);
  const url = `s3://${BUCKET}/missing/key.csv`;
  await assert.rejects(collect(storage.read(url)), (err) => assertPermanent(err, 'E_INPUT_NOT_FOUND', url));
  await assert.rejects(storage.readRange(url, 0, 10), (err) =>
    assertPermanent(err, 'E_INPUT_NOT_FOUND', url),
  );
  assert.equal(await storage.stat(url), null);
  assert.ok(proxy.requests().every((r) => r.status === 404 || r.operation === 'ListObjectsV2'));
});

test('s3: an injected 403 AccessDenied is E_S3_ACCESS_DENIED and is not retried', async (t) => {
  const { storage, proxy } = await s3ThroughProxy(t, { maxAttempts: 5 });
  const url = `s3://${BUCKET}/denied/key.csv`;
  await putRaw('denied/key.csv', Buffer.from('secret data'));
  proxy.failNext({ operation: 'GetObject' }, 1, 403, 'AccessDenied');
  await assert.rejects(storage.readRange(url, 0, 100), (err) =>
    assertPermanent(err, 'E_S3_ACCESS_DENIED', url),
  );
  assert.deepEqual(
    proxy.requests().map((r) => [r.operation, r.status]),
    [['GetObject', 403]],
  );
  proxy.failNext({ operation: 'HeadObject' }, 1, 403, 'AccessDenied');
  await assert.rejects(storage.stat(url), (err) => assertPermanent(err, 'E_S3_ACCESS_DENIED', url));
});

test('s3: a URL without a bucket is a usage error (E_USAGE)', async () => {
  for (const url of ['s3://', 's3:///key.csv']) {
    assert.throws(
      () => parseS3Url(url),
      (err) => err instanceof ShardflowError && err.code === 'E_USAGE' && err.exitCode === 2,
    );
    await assert.rejects(storageFor(url), (err) => err instanceof ShardflowError && err.code === 'E_USAGE');
  }
  assert.deepEqual(parseS3Url('s3://bucket-1/a/b.csv'), { bucket: 'bucket-1', key: 'a/b.csv' });
});
