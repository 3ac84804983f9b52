/**
 * io/external-sort.ts: random records sorted through several spilled runs come out exactly as an
 * in-memory stable sort by the key's bytes puts them (ties in input order), whatever the budget;
 * the memory held stays within the budget; and a process whose heap could not hold the records
 * still sorts them.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ExternalSort, MIN_MERGE_BLOCK } from '../io/external-sort.js';
import { mulberry32 } from './helpers/mulberry32.js';

interface Rec {
  key: Buffer;
  bytes: Buffer;
}

/**
 * `n` records: keys of 0–6 bytes from a small alphabet with a byte above 0x7f (ties, prefixes and
 * unsigned order all occur); each record names its input index, and every 97th is larger than a
 * merge block so it crosses block boundaries.
 */
function records(seed: number, n: number): Rec[] {
  const next = mulberry32(seed);
  const alphabet = [0x00, 0x41, 0x42, 0x7f, 0x80, 0xe9, 0xff];
  const out: Rec[] = [];
  for (let i = 0; i < n; i++) {
    const key = Buffer.from(Array.from({ length: next() % 7 }, () => alphabet[next() % alphabet.length]));
    const pad = i % 97 === 0 ? MIN_MERGE_BLOCK + (next() % 5000) : next() % 60;
    out.push({ key, bytes: Buffer.concat([Buffer.from(`${i}:`), Buffer.alloc(pad, 0x61 + (i % 26))]) });
  }
  return out;
}

/** The reference: Array.prototype.sort is stable; keys compare as unsigned bytes. */
function referenceOrder(recs: readonly Rec[]): Buffer[] {
  return [...recs].sort((a, b) => Buffer.compare(a.key, b.key)).map((r) => r.bytes);
}

/** Sorts `recs` with `budget`, spilling whenever add() asks to, as a caller must. */
async function externalOrder(recs: readonly Rec[], dir: string, budget: number) {
  const sort = new ExternalSort({ dir, budgetBytes: budget });
  try {
    for (const r of recs) if (!sort.add(r.key, r.bytes)) await sort.spill();
    const out: Buffer[] = [];
    for await (const batch of sort.sorted()) for (const b of batch) out.push(Buffer.from(b));
    return { out, stats: sort.stats };
  } finally {
    await sort.close();
  }
}

const tempDir = async (t: { after: (fn: () => Promise<void>) => void }) => {
  const dir = await mkdtemp(join(tmpdir(), 'shardflow-xsort-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

test('random records through many runs come out as a stable in-memory sort puts them', async (t) => {
  const dir = await tempDir(t);
  for (const seed of [1, 2, 3]) {
    const recs = records(seed, 6000);
    const expected = referenceOrder(recs);
    for (const budget of [16 * 1024, 200 * 1024, 64 * 1024 * 1024]) {
      const { out, stats } = await externalOrder(recs, dir, budget);
      assert.equal(out.length, recs.length);
      assert.ok(
        out.every((b, i) => b.equals(expected[i])),
        `seed ${seed}, budget ${budget}: the order differs`,
      );
      if (budget === 16 * 1024) assert.ok(stats.runs >= 10, `${stats.runs} runs with a 16 KiB budget`);
      if (budget === 64 * 1024 * 1024) assert.equal(stats.runs, 0, 'everything fits: nothing spilled');
    }
  }
  assert.deepEqual(await readdir(dir), [], 'close() removes the runs');
});

test('equal keys keep their input order across runs (stability)', async (t) => {
  const dir = await tempDir(t);
  const recs = Array.from({ length: 5000 }, (_, i) => ({
    key: Buffer.from(i % 3 === 0 ? 'b' : 'a'),
    bytes: Buffer.from(String(i)),
  }));
  const { out, stats } = await externalOrder(recs, dir, 4096);
  assert.ok(stats.runs > 20, `${stats.runs} runs`);
  const indexes = out.map((b) => Number(b.toString()));
  const a = indexes.filter((i) => i % 3 !== 0);
  const b = indexes.filter((i) => i % 3 === 0);
  assert.deepEqual(indexes, [...a, ...b], 'every a before every b');
  assert.deepEqual(
    a,
    [...a].sort((x, y) => x - y),
    'the a records in input order',
  );
  assert.deepEqual(
    b,
    [...b].sort((x, y) => x - y),
    'the b records in input order',
  );
});

test('the memory held stays within the budget: buffered records, then the merge blocks', async (t) => {
  const dir = await tempDir(t);
  const recs = records(7, 20000);
  const maxRecord = Math.max(...recs.map((r) => r.key.length + r.bytes.length + 64));
  for (const budget of [8 * 1024, 256 * 1024, 1024 * 1024]) {
    const { stats } = await externalOrder(recs, dir, budget);
    assert.ok(stats.runs > 1, `budget ${budget}: ${stats.runs} runs`);
    const bound = Math.max(budget + maxRecord, stats.runs * MIN_MERGE_BLOCK);
    assert.ok(stats.peakBytes <= bound, `budget ${budget}: held ${stats.peakBytes} > ${bound}`);
  }
});

test('an empty sort yields nothing and writes nothing', async (t) => {
  const dir = await tempDir(t);
  const { out, stats } = await externalOrder([], dir, 4096);
  assert.deepEqual(out, []);
  assert.deepEqual(stats, { records: 0, runs: 0, spilledBytes: 0, peakBytes: 0 });
});

// A child with a 32 MiB old space sorts 600,000 records (their keys alone, held as the sort holds
// them, need more heap than that), with a 2 MiB budget, and checks the order as it streams.
const SCRIPT = `
import { ExternalSort } from ${JSON.stringify(new URL('../io/external-sort.js', import.meta.url).href)};
const sort = new ExternalSort({ dir: process.argv[1], budgetBytes: 2 * 1024 * 1024 });
let x = 12345;
for (let i = 0; i < 600000; i++) {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  const key = Buffer.from(x.toString(36).padStart(12, '0'));
  if (!sort.add(key, Buffer.from(key.toString() + ',' + i + ',some payload of a row\\n'))) await sort.spill();
}
let last = '', n = 0;
for await (const batch of sort.sorted())
  for (const r of batch) {
    const k = Buffer.from(r).toString().slice(0, 12);
    if (k < last) throw new Error('out of order at ' + n);
    last = k;
    n++;
  }
await sort.close();
console.log(JSON.stringify({ n, runs: sort.stats.runs }));
`;

test('a heap too small for the records still sorts them within a small budget', async (t) => {
  const dir = await tempDir(t);
  const child = spawnSync(
    process.execPath,
    ['--max-old-space-size=32', '--input-type=module', '-e', SCRIPT, dir],
    { encoding: 'utf8', timeout: 60_000, cwd: fileURLToPath(new URL('.', import.meta.url)) },
  );
  assert.equal(child.status, 0, child.stderr);
  const result = JSON.parse(child.stdout) as { n: number; runs: number };
  assert.equal(result.n, 600000);
  assert.ok(result.runs > 10, `${result.runs} runs`);
});
