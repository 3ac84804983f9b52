/**
 * The DuckDB bank peer (bench/bank-peer.ts) gives the reference detector's detections, stored and
 * dropped counts: on generated input in both layouts (lowered thresholds, so every pattern fires in
 * a few seconds) and on hand-made rows at the rules' edges.
 */

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runBankPeer } from '../bench/bank-peer.js';
import { generateBank } from '../jobs/bank-detect/generate.js';
import { chunkTransactions, referenceDetect, type BankThresholds } from './helpers/bank-reference.js';

const LOWERED: Partial<BankThresholds> = { p1MinMerchantTx: 3000, p3MinFemale: 100 };

async function scratch(t: { after: (f: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shardflow-bank-peer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `chunks` into `dir/chunks` and returns that folder. */
async function writeChunks(dir: string, chunks: { name: string; text: string }[]): Promise<string> {
  const folder = join(dir, 'chunks');
  await mkdir(folder, { recursive: true });
  for (const c of chunks) await writeFile(join(folder, c.name), c.text);
  return folder;
}

const fired = (ds: { patternId: string }[]) => {
  const n: Record<string, number> = { PatId1: 0, PatId2: 0, PatId3: 0 };
  for (const d of ds) n[d.patternId]++;
  return n;
};

test('generated readme input, read as chunk files: the peer and the reference agree', async (t) => {
  const dir = await scratch(t);
  await generateBank({
    transactions: 20_000,
    customers: 3000,
    merchants: 20,
    preset: 'readme',
    out: dir,
    seed: 11,
  });
  const chunks = chunkTransactions(await readFile(join(dir, 'transactions.csv'), 'utf8'), 2000);
  const importance = join(dir, 'CustomerImportance.csv');
  const reference = referenceDetect({
    preset: 'readme',
    importance: await readFile(importance, 'utf8'),
    chunks: chunks.map((c) => c.text),
    thresholds: LOWERED,
  });
  const peer = await runBankPeer({
    chunksDir: await writeChunks(dir, chunks),
    importance,
    preset: 'readme',
    thresholds: LOWERED,
    threads: 2,
  });
  assert.equal(peer.chunks, 10);
  assert.equal(peer.stored, reference.stored);
  assert.deepEqual(peer.dropped, reference.dropped);
  for (const [pattern, n] of Object.entries(fired(reference.detections)))
    assert.ok(n > 0, `${pattern} fired`);
  assert.deepEqual(peer.detections, reference.detections);
});

test('generated banksim input, cut by the peer from the transactions file: the same detections', async (t) => {
  const dir = await scratch(t);
  await generateBank({
    transactions: 20_000,
    customers: 3000,
    merchants: 20,
    preset: 'banksim',
    out: dir,
    seed: 12,
  });
  const transactions = join(dir, 'transactions.csv');
  const importance = join(dir, 'CustomerImportance.csv');
  const reference = referenceDetect({
    preset: 'banksim',
    importance: await readFile(importance, 'utf8'),
    chunks: chunkTransactions(await readFile(transactions, 'utf8'), 1500).map((c) => c.text),
    thresholds: LOWERED,
  });
  const peer = await runBankPeer({
    transactions,
    rowsPerChunk: 1500,
    importance,
    preset: 'banksim',
    thresholds: LOWERED,
  });
  assert.equal(peer.chunks, 14);
  assert.deepEqual(peer.dropped, reference.dropped);
  for (const [pattern, n] of Object.entries(fired(reference.detections)))
    assert.ok(n > 0, `${pattern} fired`);
  assert.deepEqual(peer.detections, reference.detections);
});

test('hand-made edges: exact means, W = S ties, byte order, E/U, numbers, quotes in CSV', async (t) => {
  const dir = await scratch(t);
  const header = 'CustomerId,MerchantId,transaction_value,gender,transaction_type';
  const rows: string[] = [];
  const add = (c: string, m: string, n: number, v: (i: number) => string, g = 'M') => {
    for (let i = 0; i < n; i++) rows.push(`${c},${m},${v(i)},${g},t${i % 3}`);
  };
  add('Cfloat', 'M1', 80, (i) => (i < 40 ? '0.13' : '39.87')); // mean exactly 20: no match
  add('C1999', 'M1', 80, () => '19.99');
  add('Cexp', 'M1', 80, () => '1e1'); // 10: a decimal with an exponent
  add('Cx', 'M😀', 80, () => '1.00');
  add('Cx', 'MＡ', 80, () => '1.00');
  add('"C,q"', 'M2', 80, () => '"5.5"', 'female');
  add('Cu', 'M2', 3, () => '25', 'U');
  for (let i = 0; i < 12; i++) add(`Cm${i}`, 'M2', 2, () => '25', i % 2 ? 'Male' : 'm'); // 12 male customers
  rows.push('Cbad,M1,Infinity,F,t', 'Cbad,M1,0x1F,F,t', 'Cbad,M1, NaN ,F,t', 'Cbad,M1,1,F', 'null,M1,1,F,t');
  // Weights: ties at the P50 rank of M1's weighted customers (0.50, 0.50, 1.00 → S = 0.50).
  const importance = [
    'CustomerId,transaction_type,weightage',
    'Cfloat,t,0.25',
    'Cfloat,t,0.75',
    'C1999,t,0.5',
    'Cexp,t,1',
  ];
  await writeFile(join(dir, 'importance.csv'), importance.join('\n'));
  const chunks = chunkTransactions(`${[header, ...rows].join('\n')}\n`, 100);
  const thresholds = { p1MinMerchantTx: 200, p1CountPct: 50, p1WeightPct: 50, p3MinFemale: 1 };
  const reference = referenceDetect({
    preset: 'readme',
    importance: importance.join('\n'),
    chunks: chunks.map((c) => c.text),
    thresholds,
  });
  const peer = await runBankPeer({
    chunksDir: await writeChunks(dir, chunks),
    importance: join(dir, 'importance.csv'),
    thresholds,
    threads: 1,
  });
  assert.deepEqual(reference.dropped, { malformed_row: 1, missing_field: 2, bad_number: 2 });
  assert.deepEqual(peer.dropped, reference.dropped);
  assert.deepEqual(
    reference.detections.map((d) => `${d.chunk} ${d.patternId} ${d.merchant} ${d.customer}`),
    [
      '1 PatId2 M1 C1999', // its 80th row is in chunk 1
      '2 PatId1 M1 C1999', // M1 passes 200 rows in chunk 2
      '2 PatId1 M1 Cfloat',
      '2 PatId2 M1 Cexp',
      '3 PatId2 MＡ Cx',
      '3 PatId2 M😀 Cx',
      '4 PatId2 M2 C,q',
      '5 PatId3 M2 ', // F = 1; M = 9 after chunk 4, 12 after chunk 5 (U counts as neither)
    ],
  );
  assert.deepEqual(peer.detections, reference.detections);
});
