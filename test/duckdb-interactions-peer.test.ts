import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { generateInteractions } from '../jobs/interactions/generate.js';
import { classifyInteractionsCsv } from './interactions-reference-classifier.js';
import type { ClassifiedRow } from './interactions-reference-classifier.js';

const PEER = fileURLToPath(new URL('../bench/duckdb-interactions.js', import.meta.url));
const SAMPLE = '/work/shared/data/interactions-icustomer/interaction_data.csv';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shardflow-peer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function runPeer(
  input: string,
  out: string,
  mode: string,
  ...extra: string[]
): Promise<Record<string, unknown>> {
  const args = [PEER, '--input', input, '--out', out, '--mode', mode, ...extra];
  const { stdout } = await promisify(execFile)(process.execPath, args);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'exactly one stdout line');
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

const readParquet = async (file: string): Promise<Record<string, unknown>[]> =>
  parquetReadObjects({ file: await asyncBufferFromFile(file) });

function countBy(rows: ClassifiedRow[], key: (r: ClassifiedRow) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of rows) if (r.reason === null) m.set(key(r), (m.get(key(r)) ?? 0) + 1);
  return m;
}

for (const order of ['rowid', 'window']) {
  test(`full mode (--order ${order}) agrees row by row with the reference rules on generated data`, async (t) => {
    const dir = await tempDir(t);
    const input = join(dir, 'in.csv');
    await generateInteractions({ rows: 20_000, out: input, badFraction: 0.05, seed: 11 });
    // Without empty lines the peer's line numbers are exact (it cannot see empty lines; see bench/README.md).
    await writeFile(input, (await readFile(input, 'latin1')).replace(/\n\n+/g, '\n'), 'latin1');
    const expected = classifyInteractionsCsv(await readFile(input, 'latin1'));
    const valid = expected.filter((r) => r.reason === null);

    const summary = await runPeer(input, join(dir, 'out'), 'full', '--order', order);
    assert.equal(summary.engine, 'duckdb');
    assert.equal(summary.rows_read, 20_000);
    assert.equal(summary.rows_valid, valid.length);
    assert.ok((summary.peak_rss_bytes as number) > 10 * 2 ** 20);

    const rejects = await readParquet(join(dir, 'out', 'rejects.parquet'));
    assert.deepEqual(
      rejects.map((r) => `${r.line_number} ${r.reason}`),
      expected.filter((r) => r.reason !== null).map((r) => `${r.line} ${r.reason}`),
    );
    const malformed = rejects.find((r) => r.reason === 'malformed_row')!;
    assert.equal(malformed.raw_line, expected.find((r) => r.line === Number(malformed.line_number))!.raw);

    const users = await readParquet(join(dir, 'out', 'users.parquet'));
    const userCounts = countBy(expected, (r) => String(r.userId));
    assert.deepEqual(new Map(users.map((u) => [String(u.user_id), Number(u.interaction_count)])), userCounts);
    const pairs = await readParquet(join(dir, 'out', 'pairs.parquet'));
    const pairCounts = countBy(expected, (r) => `${r.userId}/${r.productId}`);
    assert.equal(pairs.length, pairCounts.size);
    const daily = await readParquet(join(dir, 'out', 'daily.parquet'));
    assert.equal(
      daily.reduce((s, d) => s + Number(d.interactions), 0),
      valid.length,
    );

    const clean = await readParquet(join(dir, 'out', 'clean.parquet'));
    assert.equal(clean.length, valid.length);
    const productCounts = countBy(expected, (r) => String(r.productId));
    for (const row of clean.slice(0, 500)) {
      assert.equal(Number(row.user_interaction_count), userCounts.get(String(row.user_id)));
      assert.equal(Number(row.product_interaction_count), productCounts.get(String(row.product_id)));
      assert.equal(Number(row.interaction_count), pairCounts.get(`${row.user_id}/${row.product_id}`));
    }
  });
}

test('counts mode on the real sample matches the hand-checked facts', async (t) => {
  const dir = await tempDir(t);
  const summary = await runPeer(SAMPLE, dir, 'counts');
  assert.equal(summary.rows_read, 1000);
  assert.equal(summary.rows_valid, 1000);
  const users = await readParquet(join(dir, 'users.parquet'));
  const top = users
    .map((u) => [Number(u.user_id), Number(u.interaction_count)])
    .sort((a, b) => b[1]! - a[1]! || a[0]! - b[0]!);
  assert.deepEqual(top.slice(0, 4), [
    [1044, 19],
    [1002, 17],
    [1031, 16],
    [1093, 16],
  ]);
  const products = await readParquet(join(dir, 'products.parquet'));
  assert.equal(Math.max(...products.map((p) => Number(p.interaction_count))), 17);
  assert.equal((await readParquet(join(dir, 'daily.parquet'))).length, 336);
});

test('header matched case-insensitively, in any order, with extra columns', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'odd.csv');
  await writeFile(
    input,
    'Note,TIMESTAMP,Action,Product_ID,User_Id,Interaction_Id\n' +
      'a,2023-01-01 00:00:00,view,7,1000,1\n' +
      'b, 2024-02-29 23:59:59 ,"click",7,1001,2\n' +
      '\n' +
      'c,2023-01-01 00:00:00,view,7,1000,1\n' +
      'd,2023-01-01 00:00:00,view,7,1000\n',
  );
  const summary = await runPeer(input, join(dir, 'out'), 'full');
  assert.equal(summary.rows_read, 4);
  assert.equal(summary.rows_valid, 2);
  const rejects = await readParquet(join(dir, 'out', 'rejects.parquet'));
  assert.deepEqual(
    rejects.map((r) => r.reason),
    ['duplicate_id', 'malformed_row'],
  );
});

test('a missing input is one clear line and exit code 2', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(
    runPeer(join(dir, 'nope.csv'), dir, 'counts'),
    (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr ?? '', /cannot open --input .*nope\.csv/);
      return true;
    },
  );
});
