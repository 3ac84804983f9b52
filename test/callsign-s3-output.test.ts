/**
 * The callsign job writes through the storage interface (issue #5): with `--out s3://bucket/prefix`
 * on an S3 API server it writes exactly the objects, with exactly the bytes, that a local run
 * writes, hostile profile ids included.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { configureStorage, storageFor } from '../io/storage.js';
import { FIXTURES, runCli, tempDir } from './helpers/run-cli.js';
import { readTree, type CallsignRunSummary } from './helpers/callsign.js';
import { startS3Server, useS3rverCredentials } from './helpers/s3-server.js';

test('S3 output holds the same objects and bytes as local output', async (t) => {
  const bucket = 'callsign-test';
  const server = await startS3Server({ buckets: [bucket] });
  t.after(() => server.stop());
  useS3rverCredentials();
  const endpoint = server.endpoint;
  configureStorage({ s3: { endpoint } });
  t.after(() => configureStorage({}));
  const dir = await tempDir(t);
  const input = join(FIXTURES, 'callsign', 'basic', 'input');
  const hostile = ['../../etc', 'a/b', '..', '%41', 'Zürich'].map((id) =>
    JSON.stringify({ metadata: { profile_id: id, session_id: 's' }, behaviour: {} }),
  );
  await writeFile(join(dir, 'more.jsonl'), `${hostile.join('\n')}\n`);
  const run = async (out: string): Promise<CallsignRunSummary> => {
    const result = await runCli([
      ...['run', 'callsign', '--collections', join(input, 'collections.jsonl'), join(dir, 'more.jsonl')],
      ...['--predictions', join(input, 'predictions.jsonl'), '--out', out],
      ...['--workers', '2', '--partitions', '4', '--no-progress', '--json', '--s3-endpoint', endpoint],
    ]);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout.trim().split('\n').pop() as string) as CallsignRunSummary;
  };
  const local = join(dir, 'local');
  const s3 = `s3://${bucket}/runs/one`;
  const localSummary = await run(local);
  const s3Summary = await run(s3);
  assert.equal(s3Summary.label_files, localSummary.label_files);
  const expected = await readTree(local);
  const storage = await storageFor(s3);
  const objects = await storage.list(s3);
  assert.deepEqual(
    objects.map((o) => o.url.slice(s3.length + 1)),
    [...expected.keys()],
  );
  for (const o of objects) {
    const chunks: Uint8Array[] = [];
    for await (const c of storage.read(o.url)) chunks.push(c);
    const path = o.url.slice(s3.length + 1);
    assert.ok(Buffer.concat(chunks).equals(expected.get(path) as Buffer), `${path}: same bytes`);
  }
});
