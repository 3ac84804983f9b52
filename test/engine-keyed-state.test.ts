/**
 * The property the engine rests on (ARCHITECTURE: "Any way of splitting the input gives the same
 * result"): a seeded random stream of keyed updates over every monoid of engine/monoids.ts, folded
 * into one KeyedState, gives exactly what the same stream cut into pieces (each folded in its own
 * order, encoded, merged partition by partition in a random order and grouping) gives. The single
 * fold is also checked against values computed here without the monoids, exactSum against an
 * exact BigInt sum correctly rounded, so a consistently wrong state cannot pass either.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StateSpec } from '../engine/job-contract.js';
import { KeyedState, sectionOf, type EncodedPartials } from '../engine/keyed-state.js';
import {
  count,
  countDistinct,
  exactSum,
  first,
  firstN,
  max,
  mean,
  min,
  sum,
  topK,
} from '../engine/monoids.js';
import { ShardflowError } from '../errors.js';
import { hashPartitionString } from '../partitioners/hash-partition.js';
import { mulberry32 } from './helpers/mulberry32.js';

/** Deterministic generator (mulberry32): a failing seed reproduces. */
function random(seed: number) {
  const u32 = mulberry32(seed);
  const next = (): number => u32() / 4294967296;
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  const shuffle = <T>(list: T[]): T[] => {
    for (let i = list.length - 1; i > 0; i--) {
      const j = int(0, i);
      [list[i], list[j]] = [list[j], list[i]];
    }
    return list;
  };
  return { next, int, shuffle };
}
type Random = ReturnType<typeof random>;

interface Scored {
  s: number;
  tag: string;
}

const STATE = {
  n: count(),
  total: sum(),
  exact: exactSum(),
  low: min(),
  high: max(),
  avg: mean(),
  distinct: countDistinct(),
  first: first<string>(),
  first3: firstN<string>(3),
  top2: topK<Scored>(2, (v) => v.s),
} as unknown as StateSpec;

// Keys whose order differs by code unit, by case, by length and by digits; most are plain.
const ODD_KEYS = ['', 'a', 'B', 'b', '10', '9', 'é', 'e\u0301', '😀', '\uff21', 'key with space', 'ü/ß'];

interface Update {
  key: string;
  values: Record<string, unknown>;
  position: number;
}

/** A random double of magnitude between 1e-20 and 1e20, either sign. */
function wideDouble(r: Random): number {
  return (r.next() - 0.5) * 10 ** r.int(-20, 20);
}

function randomStream(r: Random): Update[] {
  const keyCount = r.int(1, 60);
  const keys = Array.from({ length: keyCount }, (_, i) =>
    i < ODD_KEYS.length && r.next() < 0.5 ? ODD_KEYS[i] : `k${i}`,
  );
  const n = r.int(0, 300);
  // Unique positions (file · 2^40 + offset, as the map task numbers records), in random order.
  const positions = r.shuffle(
    Array.from({ length: n }, (_, i) => r.int(0, 3) * 2 ** 40 + i * 1000 + r.int(0, 999)),
  );
  return positions.map((position) => {
    const values: Record<string, unknown> = {};
    const field = (name: string, value: () => unknown) => {
      if (r.next() < 0.8) values[name] = value(); // a field left out is left alone
    };
    const whole = r.int(-1_000_000, 1_000_000);
    field('total', () => whole);
    field('exact', () => wideDouble(r));
    field('low', () => r.int(-1000, 1000));
    field('high', () => r.int(-1000, 1000));
    field('avg', () => r.int(-1_000_000, 1_000_000));
    field('distinct', () => `d${r.int(0, 20)}`);
    field('first', () => `v${position}`);
    field('first3', () => `w${r.int(0, 9)}`);
    field('top2', () => ({ s: r.int(-5, 5), tag: `t${r.int(0, 99)}` }));
    return { key: keys[r.int(0, keyCount - 1)], values, position };
  });
}

/** Finalized rows of every partition: [partition][i] = [key, values]. */
function finalizedAll(state: KeyedState, partitions: number): [string, Record<string, unknown>][][] {
  return Array.from({ length: partitions }, (_, p) => [...state.finalized(p)]);
}

function fold(updates: readonly Update[], partitions: number): KeyedState {
  const state = new KeyedState(STATE, partitions);
  for (const u of updates) state.update(u.key, u.values, u.position);
  return state;
}

/**
 * Merges encoded partials as a reduce would, with a random grouping first: some pairs are merged
 * into an intermediate state and re-encoded (a partial of partials), then each partition's
 * sections are merged into a fresh state in a random order.
 */
function mergeAll(r: Random, partials: EncodedPartials[], partitions: number): KeyedState[] {
  const pool = [...partials];
  while (pool.length > 1 && r.next() < 0.5) {
    r.shuffle(pool);
    const [a, b] = [pool.pop()!, pool.pop()!];
    const mid = new KeyedState(STATE, partitions);
    for (let p = 0; p < partitions; p++) {
      mid.mergeSection(p, sectionOf(b, p));
      mid.mergeSection(p, sectionOf(a, p));
    }
    pool.push(mid.encode());
  }
  return Array.from({ length: partitions }, (_, p) => {
    const reduce = new KeyedState(STATE, partitions);
    for (const partial of r.shuffle([...pool])) reduce.mergeSection(p, sectionOf(partial, p));
    return reduce;
  });
}

/** The exact sum of doubles, correctly rounded (ties to even), computed with BigInt. */
function exactSumReference(terms: readonly number[]): number {
  if (terms.length === 0) return 0;
  const view = new DataView(new ArrayBuffer(8));
  const parts = terms.map((x) => {
    view.setFloat64(0, x);
    const bits = view.getBigUint64(0);
    const biased = Number((bits >> 52n) & 0x7ffn);
    const fraction = bits & ((1n << 52n) - 1n);
    const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
    return { mantissa: bits >> 63n ? -mantissa : mantissa, exp: (biased === 0 ? 1 : biased) - 1075 };
  });
  const low = Math.min(...parts.map((p) => p.exp));
  let scaled = 0n;
  for (const p of parts) scaled += p.mantissa << BigInt(p.exp - low);
  // Number(bigint) rounds to nearest, ties to even; scaling by a power of two is then exact here
  // (the terms keep the result far from overflow and from subnormals).
  const result = Number(scaled) * 2 ** low;
  return scaled === 0n && terms.every((t) => Object.is(t, -0)) ? -0 : result;
}

function compareTopK(a: Scored, b: Scored): number {
  const ja = JSON.stringify(a);
  const jb = JSON.stringify(b);
  return b.s - a.s || (ja < jb ? -1 : ja > jb ? 1 : 0);
}

/** Each key's values computed directly from the stream, without the monoids. */
function expectedValues(updates: readonly Update[]): Map<string, Record<string, unknown>> {
  const byKey = new Map<string, Update[]>();
  for (const u of updates) byKey.set(u.key, [...(byKey.get(u.key) ?? []), u]);
  const out = new Map<string, Record<string, unknown>>();
  for (const [key, list] of byKey) {
    const has = (f: string) => list.filter((u) => f in u.values);
    const vals = (f: string) => has(f).map((u) => u.values[f]);
    const byPosition = (f: string) => has(f).sort((a, b) => a.position - b.position);
    const avg = vals('avg') as number[];
    out.set(key, {
      n: list.length,
      total: (vals('total') as number[]).reduce((a, b) => a + b, 0),
      exact: exactSumReference(vals('exact') as number[]),
      low: has('low').length ? Math.min(...(vals('low') as number[])) : null,
      high: has('high').length ? Math.max(...(vals('high') as number[])) : null,
      avg: avg.length ? avg.reduce((a, b) => a + b, 0) / avg.length : null,
      distinct: new Set(vals('distinct')).size,
      first: byPosition('first')[0]?.values.first,
      first3: byPosition('first3')
        .slice(0, 3)
        .map((u) => u.values.first3),
      top2: (vals('top2') as Scored[]).sort(compareTopK).slice(0, 2),
    });
  }
  return out;
}

function assertSameBits(
  got: [string, Record<string, unknown>][][],
  want: [string, Record<string, unknown>][][],
  label: string,
): void {
  assert.deepStrictEqual(got, want, label);
  got.forEach((rows, p) =>
    rows.forEach(([key, values], i) =>
      assert.ok(Object.is(values.exact, want[p][i][1].exact), `${label}: exactSum bits of ${key}`),
    ),
  );
}

test('any split, order and grouping of the updates gives the single fold, bit for bit', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const r = random(seed * 104_729);
    const partitions = r.int(1, 7);
    const stream = randomStream(r);
    const label = `seed ${seed}, ${stream.length} updates, ${partitions} partitions`;
    const single = fold(stream, partitions);
    const reference = finalizedAll(single, partitions);

    // The single fold is right: each key in its murmur3 partition, keys sorted, values as computed.
    const expected = expectedValues(stream);
    assert.equal(single.keys, expected.size, label);
    assert.equal(
      reference.reduce((n, rows) => n + rows.length, 0),
      expected.size,
      label,
    );
    reference.forEach((rows, p) => {
      const keys = rows.map(([k]) => k);
      assert.deepEqual(keys, [...keys].sort(), `${label}: partition ${p} sorted`);
      for (const [key, values] of rows) {
        assert.equal(
          hashPartitionString(key, partitions),
          p,
          `${label}: partition of ${JSON.stringify(key)}`,
        );
        assert.deepStrictEqual(values, expected.get(key), `${label}: values of ${JSON.stringify(key)}`);
        assert.ok(Object.is(values.exact, expected.get(key)!.exact), `${label}: exact bits`);
      }
    });

    // The same stream cut at random points into pieces, each folded in its own order.
    const cuts = Array.from({ length: r.int(0, 6) }, () => r.int(0, stream.length)).sort((a, b) => a - b);
    const bounds = [0, ...cuts, stream.length];
    const pieces = bounds.slice(1).map((end, i) => r.shuffle(stream.slice(bounds[i], end)));
    const partials = pieces.map((piece) => fold(piece, partitions).encode());
    const reduced = mergeAll(r, partials, partitions);
    const merged = reduced.map((state, p) => [...state.finalized(p)]);
    assertSameBits(merged, reference, `${label}, ${pieces.length} pieces`);
    // A reduce state holds its own partition only.
    reduced.forEach((state, p) => assert.equal(state.keys, reference[p].length, label));

    // The single fold, encoded and decoded whole, is unchanged too.
    const whole = single.encode();
    const again = mergeAll(r, [whole], partitions).map((state, p) => [...state.finalized(p)]);
    assertSameBits(again, reference, `${label}, round trip`);
  }
});

test('exactSum is correctly rounded where a float sum is not (the reference can tell them apart)', () => {
  const terms = [1e16, 1, 1, -1e16, 0.1, 0.2];
  const state = new KeyedState(STATE, 1);
  terms.forEach((x, i) => state.update('k', { exact: x }, i));
  const [[, values]] = [...state.finalized(0)];
  assert.equal(values.exact, exactSumReference(terms));
  assert.equal(values.exact, 2.3); // 2 + 0.1 + 0.2 held exactly, rounded once
  assert.notEqual(
    terms.reduce((a, b) => a + b, 0),
    values.exact,
    'the naive sum differs, so the check can fail',
  );
});

test('an update only touches the fields it names; count counts every update of its key', () => {
  const state = new KeyedState(STATE, 3);
  state.update('u', { total: 5 }, 10);
  state.update('u', {}, 11);
  state.update('u', { low: 3, first: 'x' }, 12);
  const [row] = [...state.finalized(hashPartitionString('u', 3))];
  assert.deepStrictEqual(row, [
    'u',
    {
      n: 3,
      total: 5,
      exact: 0,
      low: 3,
      high: null,
      avg: null,
      distinct: 0,
      first: 'x',
      first3: [],
      top2: [],
    },
  ]);
});

test('finalized yields each partition in sorted key order', () => {
  const keys = [...ODD_KEYS, ...Array.from({ length: 200 }, (_, i) => `user-${(i * 7919) % 1000}`)];
  const state = new KeyedState({ n: count() } as unknown as StateSpec, 4);
  for (const [i, key] of [...keys].reverse().entries()) state.update(key, {}, i);
  const all: string[] = [];
  for (let p = 0; p < 4; p++) {
    const got = [...state.finalized(p)].map(([k]) => k);
    assert.deepEqual(got, [...got].sort(), `partition ${p}`);
    for (const k of got) assert.equal(hashPartitionString(k, 4), p, k);
    all.push(...got);
  }
  assert.deepEqual(all.sort(), [...new Set(keys)].sort());
  assert.ok(
    [0, 1, 2, 3].every((p) => [...state.finalized(p)].length > 0),
    'every partition has keys, so the partition check has teeth',
  );
});

function corruptCode(err: unknown): boolean {
  assert.ok(err instanceof ShardflowError, `not a ShardflowError: ${String(err)}`);
  assert.equal(err.code, 'E_SHUFFLE_CORRUPT');
  return true;
}

test('a truncated section is E_SHUFFLE_CORRUPT at every cut that is not between two keys', () => {
  const r = random(7);
  const stream = randomStream(r).map((u, i) => ({ ...u, key: `k${i % 8}` }));
  const state = fold(stream.slice(0, 24), 2);
  const partials = state.encode();
  for (let p = 0; p < 2; p++) {
    const section = sectionOf(partials, p);
    const keysInSection = [...state.finalized(p)].length;
    assert.ok(keysInSection > 1, 'the section holds several keys');
    let whole = 0;
    for (let cut = 0; cut < section.length; cut++) {
      const fresh = new KeyedState(STATE, 2);
      try {
        fresh.mergeSection(p, section.subarray(0, cut));
        whole++; // a cut between two entries is a shorter valid section
      } catch (err) {
        corruptCode(err);
      }
    }
    // Cuts at 0 and after each key but the last are the only clean ones.
    assert.equal(whole, keysInSection, `partition ${p}`);
    assert.throws(
      () => new KeyedState(STATE, 2).mergeSection(p, section.subarray(0, section.length - 1)),
      corruptCode,
    );
  }
  // A key length that points past the end.
  const bogus = new Uint8Array([0xff, 0xff, 0xff, 0x7f, 0x61]);
  assert.throws(() => new KeyedState(STATE, 1).mergeSection(0, bogus), corruptCode);
  assert.throws(() => new KeyedState(STATE, 1).mergeSection(0, new Uint8Array([1, 0])), corruptCode);
});

test('an empty state encodes to offsets of all zeros and no bytes', () => {
  for (const partitions of [1, 4, 13]) {
    const { offsets, bytes } = new KeyedState(STATE, partitions).encode();
    assert.equal(offsets.length, partitions + 1);
    assert.deepEqual([...offsets], new Array<number>(partitions + 1).fill(0));
    assert.equal(bytes.length, 0);
    // Merging empty sections leaves a state empty.
    const reduce = new KeyedState(STATE, partitions);
    for (let p = 0; p < partitions; p++) reduce.mergeSection(p, sectionOf({ offsets, bytes }, p));
    assert.equal(reduce.keys, 0);
  }
});

test('offsets bound each partition: sections are contiguous and cover the bytes', () => {
  const r = random(11);
  const state = fold(randomStream(r), 5);
  const { offsets, bytes } = state.encode();
  assert.equal(offsets[0], 0);
  for (let p = 0; p < 5; p++) assert.ok(offsets[p] <= offsets[p + 1]);
  assert.equal(offsets[5], bytes.length);
});
