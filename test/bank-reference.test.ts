/**
 * The bank reference detector (test/helpers/bank-reference.ts) on hand-made cases at each rule's
 * edge, and on the generator's output: what the generator plants is what the reference finds.
 */

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateBank, type BankPreset } from '../jobs/bank-detect/generate.js';
import {
  chunkTransactions,
  parseCsv,
  percentileRank,
  referenceDetect,
  type BankDetection,
  type BankThresholds,
} from './helpers/bank-reference.js';

const HEADER = 'CustomerId,MerchantId,transaction_value,gender,transaction_type';
const IMPORTANCE = 'CustomerId,transaction_type,weightage';

/** A readme chunk: `[customer, merchant, value, gender, type]` rows. */
const chunk = (rows: string[][]): string => `${[HEADER, ...rows.map((r) => r.join(','))].join('\n')}\n`;
const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const keys = (ds: BankDetection[]): string[] =>
  ds.map((d) => `${d.patternId} ${d.merchant} ${d.customer}`.trimEnd());

test('percentile rank is max(1, ⌈p·n/100⌉)', () => {
  assert.equal(percentileRank(99, 1), 1);
  assert.equal(percentileRank(20, 1), 1);
  assert.equal(percentileRank(0, 5), 1);
  assert.equal(percentileRank(99, 5), 5);
  assert.equal(percentileRank(20, 5), 1);
  assert.equal(percentileRank(20, 15), 3); // exactly 3, not rounded up to 4
  assert.equal(percentileRank(99, 15), 15);
  assert.equal(percentileRank(99, 100), 99);
  assert.equal(percentileRank(20, 100), 20);
  assert.equal(percentileRank(100, 100), 100);
});

test('the CSV reader: quotes, doubled quotes, commas and newlines inside quotes, CRLF, blank lines', () => {
  const records = parseCsv('a,"b,c","say ""hi"""\r\n\n"multi\nline",x,\n');
  assert.deepEqual(
    records.map((r) => r.fields),
    [
      ['a', 'b,c', 'say "hi"'],
      ['multi\nline', 'x', ''],
    ],
  );
  assert.equal(records[1].raw, '"multi\nline",x,');
});

test('chunks of R records, each with the header, named by the first record index', () => {
  const text = chunk(times(5, (i) => [`C${i}`, 'M1', '1.00', 'F', 't']));
  const chunks = chunkTransactions(text, 2);
  assert.deepEqual(
    chunks.map((c) => c.name),
    ['txn_batch_0000000000.csv', 'txn_batch_0000000002.csv', 'txn_batch_0000000004.csv'],
  );
  assert.equal(chunks[2].text, `${HEADER}\nC4,M1,1.00,F,t\n`);
  assert.equal(
    chunks.map((c) => parseCsv(c.text).length - 1).reduce((a, b) => a + b),
    5,
  );
});

test('drop rules: field count, missing role fields, numbers that are not finite decimals', () => {
  const rows = [
    ['C1', 'M1', '1.00', 'F', 't', 'extra'],
    ['C1', 'M1', '1.00', 'F'],
    ['', 'M1', '1.00', 'F', 't'],
    [' null ', 'M1', '1.00', 'F', 't'],
    ['C1', 'NULL', '1.00', 'F', 't'],
    ['C1', 'M1', 'NaN', 'F', 't'],
    ['C1', 'M1', '1.00', 'F', ' '],
    ['C1', 'M1', 'abc', 'F', 't'],
    ['C1', 'M1', 'Infinity', 'F', 't'],
    ['C1', 'M1', '0x1F', 'F', 't'],
    ['C1', 'M1', '1.2.3', 'F', 't'],
    ['C1', 'M1', ' 12.5 ', 'F', 't'],
    ['C1', 'M1', '-3', 'E', 't'],
    ['C1', 'M1', '.5', 'U', 't'],
    ['C1', 'M1', '1e3', 'x', 't'],
  ];
  const r = referenceDetect({ preset: 'readme', importance: IMPORTANCE, chunks: [chunk(rows)] });
  assert.deepEqual(r.dropped, { malformed_row: 2, missing_field: 5, bad_number: 4 });
  assert.equal(r.stored, 4);
});

/** `n` rows of one customer at one merchant with `value`. */
const rowsOf = (customer: string, merchant: string, n: number, value: (i: number) => string) =>
  times(n, (i) => [customer, merchant, value(i), 'M', `type${i}`]);

test('PatId2: 80 values of mean exactly 20 do not match, 19.99 does; 79 rows do not', () => {
  const rows = [
    ...rowsOf('C-exact20', 'M1', 80, (i) => (i % 2 === 0 ? '19.99' : '20.01')),
    ...rowsOf('C-19.99', 'M1', 80, () => '19.99'),
    ...rowsOf('C-79', 'M1', 79, () => '1.00'),
    ...rowsOf('C-80', 'M1', 80, () => '1.00'),
    // Mean exactly 20, but summed as floats in this order: 1599.9999999999984.
    ...rowsOf('C-float', 'M2', 80, (i) => (i < 40 ? '0.13' : '39.87')),
  ];
  let float = 0;
  for (let i = 0; i < 80; i++) float += i < 40 ? 0.13 : 39.87;
  assert.ok(float < 1600, 'the float trap is real');
  const r = referenceDetect({ preset: 'readme', importance: IMPORTANCE, chunks: [chunk(rows)] });
  assert.deepEqual(keys(r.detections), ['PatId2 M1 C-19.99', 'PatId2 M1 C-80']);
  assert.equal(r.detections[0].actionType, 'CHILD');
  assert.equal(r.detections[0].transactionType, 'type79', 'the type of the latest row');
});

test('PatId2 counts per merchant: 40 + 40 rows at two merchants are not 80', () => {
  const rows = [...rowsOf('C1', 'M1', 40, () => '1.00'), ...rowsOf('C1', 'M2', 40, () => '1.00')];
  const r = referenceDetect({ preset: 'readme', importance: IMPORTANCE, chunks: [chunk(rows)] });
  assert.deepEqual(r.detections, []);
});

/**
 * A merchant with 100 customers: 96 with one row and weights 1.00, 1.01 … 1.95, and h4, h5, h6,
 * h7 with 4–7 rows. P99 of the counts is the 99th of 100: 6. Weights of h4–h6 are 0.50, so P20 of
 * the weights is the 20th: 3 × 0.50, then 1.00 … 1.16. `h7Weights` are h7's importance rows.
 */
function upgradeCase(h7Weights: string[]) {
  const rows: string[][] = [];
  const weights: string[] = [];
  for (let i = 0; i < 96; i++) {
    rows.push([`L${String(i).padStart(2, '0')}`, 'M1', '100.00', 'F', 't']);
    weights.push(`L${String(i).padStart(2, '0')},t,${(1 + i / 100).toFixed(2)}`);
  }
  for (const n of [4, 5, 6, 7]) {
    rows.push(...rowsOf(`h${n}`, 'M1', n, () => '100.00'));
    if (n < 7) weights.push(`h${n},t,0.50`);
  }
  for (const w of h7Weights) weights.push(`h7,t,${w}`);
  return { rows, importance: [IMPORTANCE, ...weights].join('\n') };
}

test('PatId1: the customer at the P99 count rank matches, one below does not; W ≤ S at the tie', () => {
  const low: Partial<BankThresholds> = { p1MinMerchantTx: 117 }; // the merchant has 118 rows
  const tie = upgradeCase(['1.15', '1.17']); // mean exactly 1.16 = S
  const r = referenceDetect({
    preset: 'readme',
    importance: tie.importance,
    chunks: [chunk(tie.rows)],
    thresholds: low,
  });
  assert.deepEqual(keys(r.detections), ['PatId1 M1 h6', 'PatId1 M1 h7']);
  assert.equal(r.detections[0].actionType, 'UPGRADE');

  const above = upgradeCase(['1.16', '1.18']); // mean 1.17 > S = 1.16
  const r2 = referenceDetect({
    preset: 'readme',
    importance: above.importance,
    chunks: [chunk(above.rows)],
    thresholds: low,
  });
  assert.deepEqual(keys(r2.detections), ['PatId1 M1 h6']);

  // More than p1-min-merchant-tx rows: exactly 118 is not enough.
  const r3 = referenceDetect({
    preset: 'readme',
    importance: tie.importance,
    chunks: [chunk(tie.rows)],
    thresholds: { p1MinMerchantTx: 118 },
  });
  assert.deepEqual(r3.detections, []);
});

test('PatId1: a customer without a weight never matches', () => {
  const c = upgradeCase([]);
  const r = referenceDetect({
    preset: 'readme',
    importance: c.importance,
    chunks: [chunk(c.rows)],
    thresholds: { p1MinMerchantTx: 117 },
  });
  assert.deepEqual(keys(r.detections), ['PatId1 M1 h6']);
});

/** One row per customer at M1: `f` female, `m` male, `both` with one row of each, 5 E and U. */
function deiRows(f: number, m: number, both = 0): string[][] {
  return [
    ...times(f, (i) => [`F${i}`, 'M1', '25.00', i % 2 ? 'F' : 'female', 't']),
    ...times(m, (i) => [`M${i}`, 'M1', '25.00', i % 2 ? 'M' : 'MALE', 't']),
    ...times(both, (i) => [`B${i}`, 'M1', '25.00', 'F', 't']),
    ...times(both, (i) => [`B${i}`, 'M1', '25.00', 'm', 't']),
    ...times(5, (i) => [`E${i}`, 'M1', '25.00', i % 2 ? 'E' : 'U', 't']),
  ];
}

test('PatId3: F = 1000 and M = 10001 matches, M = 10000 does not; E and U count as neither', () => {
  const detect = (rows: string[][]) =>
    referenceDetect({ preset: 'readme', importance: IMPORTANCE, chunks: [chunk(rows)] }).detections;
  const [d] = detect(deiRows(1000, 10_001));
  assert.deepEqual(
    { ...d },
    {
      seq: 0,
      chunk: 0,
      patternId: 'PatId3',
      actionType: 'DEI-NEEDED',
      customer: '',
      merchant: 'M1',
      transactionType: '',
    },
  );
  assert.deepEqual(detect(deiRows(1000, 10_000)), []);
  assert.deepEqual(detect(deiRows(999, 10_001)), []);
  // A customer seen with both genders counts in both: F = 999 + 1, M = 10000 + 1.
  assert.equal(detect(deiRows(999, 10_000, 1)).length, 1);
});

test('detections: once, at the first chunk that matches; PatId1, PatId2, PatId3, then merchant, customer bytes', () => {
  // UTF-16 order puts 'M😀' before 'MＡ' (a surrogate is below U+FF21); byte order after.
  const rowsA = [
    ...rowsOf('Cx', 'M😀', 80, () => '1.00'),
    ...rowsOf('Cb', 'Mz', 80, () => '1.00'),
    ...rowsOf('Cx', 'MＡ', 80, () => '1.00'),
    ...rowsOf('Ca', 'Mz', 79, () => '1.00'),
  ];
  const rowsB = [
    ...rowsOf('Ca', 'Mz', 1, () => '1.00'), // Ca reaches 80 here
    ...rowsOf('Cc', 'Ma', 80, () => '1.00'),
    ...rowsOf('Cb', 'Mz', 1, () => '500.00'), // Cb still matches (mean 7.2…): not emitted again
    ...deiRows(2, 30).map((r) => [r[0], 'Mé', ...r.slice(2)]),
  ];
  const r = referenceDetect({
    preset: 'readme',
    importance: IMPORTANCE,
    chunks: [chunk(rowsA), chunk(rowsB), chunk(rowsB)],
    thresholds: { p3MinFemale: 2 },
  });
  assert.deepEqual(
    r.detections.map((d) => [d.seq, d.chunk, d.patternId, d.merchant, d.customer]),
    [
      [0, 0, 'PatId2', 'Mz', 'Cb'],
      [1, 0, 'PatId2', 'MＡ', 'Cx'],
      [2, 0, 'PatId2', 'M😀', 'Cx'],
      [3, 1, 'PatId2', 'Ma', 'Cc'],
      [4, 1, 'PatId2', 'Mz', 'Ca'],
      [5, 1, 'PatId3', 'Mé', ''],
    ],
  );
});

test('banksim: quotes stripped from ids and types, weights per (customer, merchant)', () => {
  const head =
    '"step","customer","age","gender","zipcodeOri","merchant","zipMerchant","category","amount","fraud"';
  const row = (c: string, m: string, amount: string, type = 'es_food') =>
    `0,'${c}','3','M','28007','${m}','28007','${type}',${amount},0`;
  const rows = [
    ...times(3, () => row('C1', 'M1', '5.00')),
    ...times(3, () => row('C1', 'M2', '5.00')),
    row('C2', 'M1', '5.00'),
    row('C2', 'M2', '5.00', 'es_travel'),
    "0,'','3','M','28007','M1','28007','es_food',5.00,0",
    "0,'C3','3','M','28007','null','28007','es_food',5.00,0",
    "0,'C3','3','M','28007','M1','28007','es_food',abc,0",
    "'0','C3','3','M','28007','M1','28007','es_food','7.5','0'",
  ];
  // C1's weight is low at M1 and high at M2 (its mean over both, 5.00, would decide neither);
  // C3's weight at M2 does not count there: C3 buys nothing at M2.
  const importance = [
    'Source,Target,Weight,typeTrans,fraud',
    "'C1','M1',1.00,'es_food',0",
    "'C1','M2',9.00,'es_food',0",
    "'C2','M1',5.00,'es_food',0",
    "'C2','M2',2.00,'es_food',0",
    "'C3','M2',0.10,'es_food',0",
    "'C3','M2',null,'es_food',0",
  ].join('\n');
  const r = referenceDetect({
    preset: 'banksim',
    importance,
    chunks: [[head, ...rows].join('\n')],
    thresholds: { p1MinMerchantTx: 3, p1CountPct: 50, p1WeightPct: 50, p2MinTx: 3 },
  });
  assert.deepEqual(r.dropped, { malformed_row: 0, missing_field: 2, bad_number: 1 });
  assert.equal(r.stored, 9);
  assert.equal(r.importanceSkipped, 1);
  assert.deepEqual(
    r.detections.map((d) => [d.patternId, d.merchant, d.customer, d.transactionType]),
    [
      ['PatId1', 'M1', 'C1', 'es_food'],
      ['PatId1', 'M2', 'C2', 'es_travel'],
      ['PatId2', 'M1', 'C1', 'es_food'],
      ['PatId2', 'M2', 'C1', 'es_food'],
    ],
  );
});

/** Generates into a temporary folder and runs the reference over it in chunks of `rows`. */
async function generatedRun(
  t: { after: (f: () => Promise<void>) => void },
  options: { transactions: number; customers: number; merchants: number; preset: BankPreset; seed: number },
  rows: number,
  thresholds: Partial<BankThresholds>,
) {
  const dir = await mkdtemp(join(tmpdir(), 'shardflow-bank-ref-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const summary = await generateBank({ ...options, out: dir });
  const text = await readFile(join(dir, 'transactions.csv'), 'utf8');
  const result = referenceDetect({
    preset: options.preset,
    importance: await readFile(join(dir, 'CustomerImportance.csv'), 'utf8'),
    chunks: chunkTransactions(text, rows).map((c) => c.text),
    thresholds,
  });
  const fired = { PatId1: 0, PatId2: 0, PatId3: 0 };
  for (const d of result.detections) fired[d.patternId]++;
  return { summary, result, fired };
}

for (const preset of ['readme', 'banksim'] as const)
  test(`generated input (${preset}, 20k rows, lowered p1/p3 minimums): each pattern fires as planted`, async (t) => {
    const { summary, result, fired } = await generatedRun(
      t,
      { transactions: 20_000, customers: 3000, merchants: 20, preset, seed: 7 },
      2000,
      { p1MinMerchantTx: 3000, p3MinFemale: 100 },
    );
    const bad = Object.values(summary.badRows).reduce((a, b) => a + b, 0);
    assert.deepEqual(result.dropped, summary.badRows);
    assert.equal(result.stored, summary.transactions - bad);
    assert.equal(result.importanceSkipped, 0);
    assert.ok(fired.PatId1 > 0, `PatId1 fired ${fired.PatId1} times`);
    // PatId2 keeps its default thresholds, so the planted pairs decide it exactly.
    assert.equal(fired.PatId2, summary.planted.child + summary.planted.edge);
    assert.equal(fired.PatId3, 1);
    const dei = result.detections.find((d) => d.patternId === 'PatId3');
    assert.equal(dei?.merchant, summary.planted.deiMerchant);
  });

test('generated input at the default thresholds (300k rows, 30k customers): every pattern fires', async (t) => {
  const { summary, fired } = await generatedRun(
    t,
    { transactions: 300_000, customers: 30_000, merchants: 40, preset: 'readme', seed: 1 },
    25_000,
    {},
  );
  assert.deepEqual(summary.planted.expectedAtDefaults, { PatId2: 8, PatId3: 1 });
  assert.equal(fired.PatId2, summary.planted.expectedAtDefaults.PatId2);
  assert.equal(fired.PatId3, summary.planted.expectedAtDefaults.PatId3);
  // Not planted: what the seed's random traffic gives (101 at this seed and chunk size).
  assert.ok(fired.PatId1 > 0, `PatId1 fired ${fired.PatId1} times`);
});
