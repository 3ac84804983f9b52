/**
 * The writer registry a stopping run uses (issue #10): `abortOpenWriters()` aborts an S3 multipart
 * upload part-way (the recording proxy sees its AbortMultipartUpload; s3rver itself has no such
 * route and answers 405), removes a local writer's hidden temporary file, lets a commit under way
 * finish, and refuses new writers afterwards. It changes this process for good, so it has a file
 * of its own.
 */

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { abortOpenWriters, configureStorage, storageFor } from '../io/storage.js';
import { tempDir } from './helpers/run-cli.js';
import { startS3Server, useS3rverCredentials } from './helpers/s3-server.js';
import { startFaultProxy } from './helpers/fault-proxy.js';

test('abortOpenWriters: an upload part-way is aborted, a temp file removed, a commit finishes', async (t) => {
  const server = await startS3Server({ buckets: ['abort-test'] });
  t.after(() => server.stop());
  const proxy = await startFaultProxy(server.endpoint);
  t.after(() => proxy.close());
  useS3rverCredentials();
  configureStorage({ s3: { endpoint: proxy.endpoint, partSize: 5 * 1024 * 1024 } });
  const dir = await tempDir(t);

  // S3: 6 MiB written, not committed: the upload exists and its first part has gone up.
  const url = 's3://abort-test/big.bin';
  const s3Writer = (await storageFor(url)).create(url);
  await s3Writer.write(Buffer.alloc(6 * 1024 * 1024, 1));
  const deadline = Date.now() + 15_000;
  while (proxy.requests({ operation: 'UploadPart' }).length === 0) {
    assert.ok(Date.now() < deadline, 'the first part went up');
    await new Promise((r) => setTimeout(r, 20));
  }
  // Local: one writer part-way, one committing.
  const local = (await storageFor(dir)).create(join(dir, 'open.bin'));
  await local.write(Buffer.from('partial'));
  const done = (await storageFor(dir)).create(join(dir, 'done.bin'));
  await done.write(Buffer.from('whole'));
  const committing = done.commit();

  assert.equal(await abortOpenWriters(), 2, 'the two open writers');
  await committing;
  assert.deepEqual(await readdir(dir), ['done.bin'], 'no temporary file, the committed file whole');

  const uploadId = proxy.requests({ operation: 'UploadPart' })[0].query.uploadId;
  const aborts = proxy.requests({ operation: 'AbortMultipartUpload' });
  assert.deepEqual(
    aborts.map((r) => r.query.uploadId),
    [uploadId],
    'the upload was aborted on the server',
  );
  assert.equal(proxy.requests({ operation: 'CompleteMultipartUpload' }).length, 0);
  assert.equal(await (await storageFor(url)).stat(url), null, 'no object appeared');

  await assert.rejects(async () => (await storageFor(dir)).create(join(dir, 'late.bin')), {
    code: 'E_STOPPING',
  });
});
