import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Aggregate } from '../workers/aggregates/aggregate.js';
import { count, max, mean, min, sum } from '../workers/aggregates/numeric.js';
import { countDistinct, firstByPosition } from '../workers/aggregates/distinct.js';
import { CountTable, type CountEntries } from '../jobs/interactions/count-table.js';
import {
  mergePartition,
  mergePartitionSorted,
  partitionCounts,
  partitionRawKeys,
} from '../jobs/interactions/partitioned-counts.js';
import { sortedOrder } from '../jobs/interactions/sort-keys.js';
import { murmur3Words } from '../partitioners/murmur3.js';
import { mulberry32 } from './helpers/mulberry32.js';

/** Deterministic generator (mulberry32): a failing seed reproduces. */
function random(seed: number): { u32: () => number; int: (lo: number, hi: number) => number } {
  const u32 = mulberry32(seed);
  return { u32, int: (lo, hi) => lo + (u32() % (hi - lo + 1)) };
}

interface Input<V> {
  value: V;
  position: number;
}

// Every aggregate is tested over integer inputs; countDistinct sees them as strings.
interface Case {
  name: string;
  agg: Aggregate<unknown, unknown, unknown>;
  value: (n: number) => unknown;
}

const CASES: Case[] = [
  { name: 'count', agg: count as Aggregate<unknown, unknown, unknown>, value: (n) => n },
  { name: 'sum', agg: sum as Aggregate<unknown, unknown, unknown>, value: (n) => n },
  { name: 'min', agg: min as Aggregate<unknown, unknown, unknown>, value: (n) => n },
  { name: 'max', agg: max as Aggregate<unknown, unknown, unknown>, value: (n) => n },
  { name: 'mean', agg: mean as Aggregate<unknown, unknown, unknown>, value: (n) => n },
  {
    name: 'countDistinct',
    agg: countDistinct as Aggregate<unknown, unknown, unknown>,
    value: (n) => `v${n % 97}`,
  },
  {
    name: 'firstByPosition',
    agg: firstByPosition<number>() as Aggregate<unknown, unknown, unknown>,
    value: (n) => n,
  },
];

function fold<S, V, R>(agg: Aggregate<S, V, R>, inputs: readonly Input<V>[]): S {
  let s = agg.init();
  for (const x of inputs) s = agg.update(s, x.value, x.position);
  return s;
}

const roundTrip = <S>(agg: Aggregate<S, unknown, unknown>, s: S): S => agg.decode(agg.encode(s));

function randomInputs(
  rng: ReturnType<typeof random>,
  n: number,
  value: (n: number) => unknown,
): Input<unknown>[] {
  const positions = new Set<number>();
  while (positions.size < n) positions.add(rng.int(0, 3) * 2 ** 40 + rng.int(0, 1_000_000)); // file · 2^40 + offset
  return [...positions].map((position) => ({ value: value(rng.int(-1_000_000, 1_000_000)), position }));
}

test('every aggregate: any split, merge order, grouping and encode/decode gives the single fold', () => {
  for (const { name, agg, value } of CASES) {
    for (let seed = 1; seed <= 60; seed++) {
      const rng = random(seed * 7919);
      const inputs = randomInputs(rng, rng.int(0, 300), value);
      const expected = agg.finalize(fold(agg, inputs));
      // Random chunks, not contiguous: each input goes to one of k chunks.
      const k = rng.int(1, 8);
      const chunks: Input<unknown>[][] = Array.from({ length: k }, () => []);
      for (const x of inputs) chunks[rng.int(0, k - 1)].push(x);
      let pool = chunks.map((c) => fold(agg, c));
      while (pool.length > 1) {
        const i = rng.int(0, pool.length - 1);
        const a = pool[i];
        pool = pool.filter((_, j) => j !== i);
        const j = rng.int(0, pool.length - 1);
        const b = pool[j];
        const ea = rng.int(0, 1) ? roundTrip(agg, a) : a;
        const eb = rng.int(0, 1) ? roundTrip(agg, b) : b;
        pool[j] = rng.int(0, 1) ? agg.merge(ea, eb) : agg.merge(eb, ea);
      }
      const label = `${name}, seed ${seed}, ${inputs.length} inputs in ${k} chunks`;
      assert.deepEqual(agg.finalize(pool[0]), expected, label);
      assert.deepEqual(agg.finalize(roundTrip(agg, pool[0])), expected, `${label}, after encode/decode`);
    }
  }
});

test('every aggregate: init is the identity of merge, on both sides and through encode/decode', () => {
  for (const { name, agg, value } of CASES) {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = random(seed);
      const s = fold(agg, randomInputs(rng, rng.int(0, 50), value));
      const expected = agg.finalize(s);
      assert.deepEqual(agg.finalize(agg.merge(agg.init(), s)), expected, `${name}: init ⊕ s`);
      assert.deepEqual(agg.finalize(agg.merge(s, agg.init())), expected, `${name}: s ⊕ init`);
      assert.deepEqual(
        agg.finalize(agg.merge(roundTrip(agg, agg.init()), s)),
        expected,
        `${name}: decoded init`,
      );
      assert.deepEqual(agg.encode(agg.merge(agg.init(), s)), agg.encode(s), `${name}: same encoding`);
    }
  }
});

test('every aggregate: merge leaves its arguments unchanged', () => {
  for (const { name, agg, value } of CASES) {
    const rng = random(99);
    const a = fold(agg, randomInputs(rng, 40, value));
    const b = fold(agg, randomInputs(rng, 40, value));
    const [ea, eb] = [agg.encode(a), agg.encode(b)];
    agg.merge(a, b);
    agg.merge(b, a);
    assert.deepEqual(agg.encode(a), ea, name);
    assert.deepEqual(agg.encode(b), eb, name);
  }
});

test('the values of the aggregates, and of no input', () => {
  const inputs: Input<number>[] = [
    { value: 5, position: 30 },
    { value: -2, position: 10 },
    { value: 9, position: 20 },
    { value: 5, position: 2 ** 40 },
  ];
  assert.equal(count.finalize(fold(count, inputs)), 4);
  assert.equal(sum.finalize(fold(sum, inputs)), 17);
  assert.equal(min.finalize(fold(min, inputs)), -2);
  assert.equal(max.finalize(fold(max, inputs)), 9);
  assert.equal(mean.finalize(fold(mean, inputs)), 4.25);
  assert.equal(
    countDistinct.finalize(
      fold(
        countDistinct,
        inputs.map((x) => ({ ...x, value: String(x.value) })),
      ),
    ),
    3,
  );
  const first = firstByPosition<number>();
  assert.equal(
    first.finalize(fold(first, inputs)),
    -2,
    'the value at the smallest position, not the first pushed',
  );

  assert.equal(count.finalize(count.init()), 0);
  assert.equal(sum.finalize(sum.init()), 0);
  assert.equal(min.finalize(roundTrip(min, min.init())), null);
  assert.equal(max.finalize(roundTrip(max, max.init())), null);
  assert.equal(mean.finalize(roundTrip(mean, mean.init())), null);
  assert.equal(countDistinct.finalize(roundTrip(countDistinct, countDistinct.init())), 0);
  assert.equal(first.finalize(roundTrip(first, first.init())), undefined);
});

test('countDistinct: equal sets encode to equal bytes whatever the insertion order', () => {
  const a = fold(
    countDistinct,
    ['x', 'y', 'z', 'x'].map((value, position) => ({ value, position })),
  );
  const b = fold(
    countDistinct,
    ['z', 'x', 'y'].map((value, position) => ({ value, position })),
  );
  assert.deepEqual(countDistinct.encode(a), countDistinct.encode(b));
});

// ---- CountTable: the grouped count monoid ----

type Reference = Map<string, number>;
const keyText = (words: Uint32Array, offset: number, width: number): string =>
  Array.from(words.subarray(offset, offset + width)).join(':');

function entriesMap(e: CountEntries): Reference {
  const m: Reference = new Map();
  for (let i = 0; i < e.counts.length; i++) {
    const key = keyText(e.keys, i * e.width, e.width);
    assert.ok(!m.has(key), `key ${key} listed twice`);
    m.set(key, e.counts[i]);
  }
  return m;
}

interface KeyedAdd {
  words: Uint32Array;
  hash: number;
  delta: number;
}

/** Random adds over a pool of `distinct` keys of `width` words; `hashOf` picks each key's hash. */
function randomAdds(
  seed: number,
  n: number,
  distinct: number,
  width: number,
  hashOf: (w: Uint32Array) => number,
): KeyedAdd[] {
  const rng = random(seed);
  const pool = Array.from({ length: distinct }, () => {
    const words = new Uint32Array(width);
    for (let k = 0; k < width; k++) words[k] = rng.int(0, 3) === 0 ? rng.int(0, 3) : rng.u32(); // small words collide more
    return words;
  });
  return Array.from({ length: n }, () => {
    const words = pool[rng.int(0, distinct - 1)];
    return { words, hash: hashOf(words), delta: rng.int(1, 5) };
  });
}

function reference(adds: readonly KeyedAdd[], width: number): Reference {
  const m: Reference = new Map();
  for (const a of adds) {
    const key = keyText(a.words, 0, width);
    m.set(key, (m.get(key) ?? 0) + a.delta);
  }
  return m;
}

test('CountTable: adds spread over several tables and merged via entries() give the counts of one table', () => {
  for (const width of [1, 2, 4]) {
    const adds = randomAdds(width, 60_000, 20_000, width, (w) => murmur3Words(w, 0, width));
    const expected = reference(adds, width);
    const rng = random(1000 + width);
    const tables = Array.from({ length: 5 }, () => new CountTable(width, 16)); // 16 slots: many resizes
    for (const a of adds) tables[rng.int(0, tables.length - 1)].add(a.words, 0, a.hash, a.delta);
    const merged = new CountTable(width);
    for (const t of tables) merged.merge(t.entries());
    assert.equal(merged.size, expected.size, `width ${width}: distinct keys`);
    assert.deepEqual(entriesMap(merged.entries()), expected, `width ${width}`);
    for (const a of adds.slice(0, 500)) {
      assert.equal(merged.get(a.words, 0, a.hash), expected.get(keyText(a.words, 0, width)));
    }
  }
});

test('CountTable: add returns the count before, get of an absent key is 0, zero counts are not listed', () => {
  const t = new CountTable(2, 16);
  const k = new Uint32Array([7, 0, 8, 0]);
  const h = murmur3Words(k, 0, 2);
  assert.equal(t.add(k, 0, h, 3), 0);
  assert.equal(t.add(k, 0, h, 2), 3);
  assert.equal(t.get(k, 0, h), 5);
  assert.equal(t.get(k, 2, murmur3Words(k, 2, 2)), 0, 'absent key');
  t.add(k, 2, murmur3Words(k, 2, 2), 1);
  t.add(k, 2, murmur3Words(k, 2, 2), -1);
  assert.deepEqual(entriesMap(t.entries()), new Map([['7:0', 5]]));
});

test('CountTable: grows from 16 slots through many resizes without losing a key', () => {
  const t = new CountTable(2, 1);
  const words = new Uint32Array(2);
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    words[0] = i * 2654435761;
    words[1] = i;
    t.add(words, 0, murmur3Words(words, 0, 2), i % 3 === 0 ? 2 : 1);
  }
  assert.equal(t.size, n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    words[0] = i * 2654435761;
    words[1] = i;
    const c = t.get(words, 0, murmur3Words(words, 0, 2));
    assert.equal(c, i % 3 === 0 ? 2 : 1, `key ${i}`);
    total += c;
  }
  assert.equal(
    t.entries().counts.reduce((a, b) => a + b, 0),
    total,
  );
});

test('CountTable: keys whose hash is 0, and many keys sharing one hash, are kept apart', () => {
  const STANDIN = 0x9e3779b9; // the table once stored hash 0 as this; keys with either hash must stay apart
  for (const hashOf of [() => 0, () => STANDIN, (w: Uint32Array) => (w[0] % 2 === 0 ? 0 : STANDIN)]) {
    const adds = randomAdds(5, 3000, 300, 2, hashOf);
    const expected = reference(adds, 2);
    const a = new CountTable(2, 16);
    const b = new CountTable(2, 16);
    adds.forEach((x, i) => (i % 2 ? a : b).add(x.words, 0, x.hash, x.delta));
    const merged = new CountTable(2, 16);
    merged.merge(a.entries());
    merged.merge(b.entries());
    assert.deepEqual(entriesMap(merged.entries()), expected);
    for (const x of adds.slice(0, 300))
      assert.equal(merged.get(x.words, 0, x.hash), expected.get(keyText(x.words, 0, 2)));
    // entries() reports each key's own hash: partitionCounts routes by it.
    const e = merged.entries();
    for (let i = 0; i < e.counts.length; i++)
      assert.equal(e.hashes[i], hashOf(e.keys.subarray(2 * i, 2 * i + 2)));
  }
});

test('CountTable: a shared table read through its handle in place', () => {
  const t = new CountTable(4, 16, true);
  const adds = randomAdds(11, 5000, 1500, 4, (w) => murmur3Words(w, 0, 4));
  for (const x of adds) t.add(x.words, 0, x.hash, x.delta);
  const handle = t.handle();
  assert.ok(handle.keys instanceof SharedArrayBuffer && handle.counts instanceof SharedArrayBuffer);
  const view = CountTable.fromHandle(structuredClone(handle));
  assert.equal(view.size, t.size);
  for (const x of adds) assert.equal(view.get(x.words, 0, x.hash), t.get(x.words, 0, x.hash));
  t.add(adds[0].words, 0, adds[0].hash, 1000);
  assert.equal(
    view.get(adds[0].words, 0, adds[0].hash),
    t.get(adds[0].words, 0, adds[0].hash),
    'same memory',
  );
});

test('partitionCounts + mergePartition: partials regrouped by hash mod P give the counts of one table', () => {
  const P = 7;
  const adds = randomAdds(21, 30_000, 8000, 2, (w) => murmur3Words(w, 0, 2));
  const rng = random(3);
  const tables = Array.from({ length: 4 }, () => new CountTable(2, 16));
  for (const a of adds) tables[rng.int(0, 3)].add(a.words, 0, a.hash, a.delta);
  const partials = tables.map((t) => partitionCounts(t, P));
  const union: Reference = new Map();
  for (let p = 0; p < P; p++) {
    const table = new CountTable(2, 16);
    mergePartition(table, partials, p);
    const e = table.entries();
    for (let i = 0; i < e.counts.length; i++) {
      assert.equal(murmur3Words(e.keys, 2 * i, 2) % P, p, 'every key in the partition of its murmur3');
    }
    for (const [k, v] of entriesMap(e)) union.set(k, v);
  }
  assert.deepEqual(union, reference(adds, 2));
});

test('partitionCounts routes a key whose hash is 0 to partition 0, like murmur3 mod P', () => {
  const t = new CountTable(2);
  t.add(new Uint32Array([92612215, 0]), 0, murmur3Words(new Uint32Array([92612215, 0]), 0, 2), 1);
  assert.equal(murmur3Words(new Uint32Array([92612215, 0]), 0, 2), 0);
  const parts = partitionCounts(t, 64);
  assert.equal(parts.offsets[1] - parts.offsets[0], 1, 'partition 0 holds the key');
});

/** Pair keys (4 words each) as raw rows grouped by partition, as a map task hands them on. */
function rawPairRows(rows: Uint32Array[], partitions: number) {
  const keys = new Uint32Array(rows.length * 4);
  const hashes = new Uint32Array(rows.length);
  rows.forEach((w, i) => {
    keys.set(w, 4 * i);
    hashes[i] = murmur3Words(w, 0, 4);
  });
  return partitionRawKeys(keys, hashes, 4, partitions);
}

test('partitionRawKeys: raw rows merged with combined partials and negative corrections give one table', () => {
  const P = 5;
  const rng = random(17);
  // Raw rows (each counts 1), a combined partial of more rows, and corrections that remove some.
  const rows = Array.from({ length: 20_000 }, () => new Uint32Array([rng.int(0, 300), 0, rng.int(0, 40), 0]));
  const combined = new CountTable(4, 16);
  const extra = Array.from({ length: 5000 }, () => new Uint32Array([rng.int(0, 300), 0, rng.int(0, 40), 0]));
  for (const w of extra) combined.add(w, 0, murmur3Words(w, 0, 4), 1);
  const corrections = new CountTable(4, 16);
  const removed = rows.slice(0, 700);
  for (const w of removed) corrections.add(w, 0, murmur3Words(w, 0, 4), -1);
  const partials = [rawPairRows(rows, P), partitionCounts(combined, P), partitionCounts(corrections, P)];
  const expected = new Map<string, number>();
  for (const w of [...rows, ...extra]) expected.set(w.join(','), (expected.get(w.join(',')) ?? 0) + 1);
  for (const w of removed) expected.set(w.join(','), (expected.get(w.join(',')) ?? 0) - 1);
  for (const [k, v] of expected) if (v === 0) expected.delete(k);
  const got = new Map<string, number>();
  for (let p = 0; p < P; p++) {
    const table = new CountTable(4, 16);
    mergePartition(table, partials, p);
    const e = table.entries();
    for (let i = 0; i < e.counts.length; i++) {
      assert.equal(e.hashes[i] % P, p);
      got.set(Array.from(e.keys.subarray(4 * i, 4 * i + 4)).join(','), e.counts[i]);
    }
  }
  assert.deepEqual(got, expected);
});

test('mergePartitionSorted: the same merged counts as a table, in key order, and every entry its total', () => {
  const P = 3;
  const rng = random(23);
  // Raw pair rows (some with high words and over 2^31), combined entries, and corrections that
  // cancel some keys to 0; enough rows per partition for the radix path and few for the comparator.
  for (const rowsCount of [300, 30_000]) {
    const word = () => (rng.int(0, 9) === 0 ? 0x80000000 + rng.int(0, 5) : rng.int(0, 200));
    const rows = Array.from(
      { length: rowsCount },
      () => new Uint32Array([word(), rng.int(0, 9) === 0 ? 1 : 0, rng.int(0, 30), 0]),
    );
    const corrections = new CountTable(4, 16);
    for (const w of rows.slice(0, rowsCount / 10)) corrections.add(w, 0, murmur3Words(w, 0, 4), -1);
    const partials = [rawPairRows(rows, P), partitionCounts(corrections, P)];
    for (let p = 0; p < P; p++) {
      const table = new CountTable(4, 16);
      mergePartition(table, partials, p);
      const e = table.entries();
      const order = sortedOrder(e.keys, 4, e.counts.length);
      const sorted = mergePartitionSorted(partials, p, 4);
      assert.deepEqual(
        Array.from(sorted.keys),
        Array.from(order).flatMap((i) => Array.from(e.keys.subarray(4 * i, 4 * i + 4))),
        `rows ${rowsCount}, partition ${p}: keys`,
      );
      assert.deepEqual(
        Array.from(sorted.counts),
        Array.from(order, (i) => e.counts[i]),
      );
      // Entries: partial after partial, each its key's total (0 where the key cancelled out).
      const totals: number[] = [];
      for (const part of partials)
        for (let k = part.offsets[p]; k < part.offsets[p + 1]; k++)
          totals.push(table.get(part.keys, 4 * k, part.hashes[k]));
      assert.deepEqual(Array.from(sorted.entryTotals), totals, `rows ${rowsCount}, partition ${p}: totals`);
      assert.ok(totals.includes(0) || rowsCount < 1000, 'some key cancels out');
    }
  }
});
