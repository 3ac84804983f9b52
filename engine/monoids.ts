/**
 * The state a job declares, as factories: `state: { orders: count(), revenue: exactSum() }`. Each
 * is a commutative monoid with a binary encoding (workers/aggregates/aggregate.ts), so any way of
 * splitting the input gives the same result; `test/aggregates-monoid.test.ts` checks the
 * property for each.
 */

import {
  type Aggregate,
  decodeFloats,
  encodeFloats,
  fromJsonBytes,
  jsonBytes,
} from '../workers/aggregates/aggregate.js';
import {
  count as countAgg,
  sum as sumAgg,
  min as minAgg,
  max as maxAgg,
  mean as meanAgg,
} from '../workers/aggregates/numeric.js';
import { countDistinct as countDistinctAgg, firstByPosition } from '../workers/aggregates/distinct.js';
import { exactAdd, exactMerge, exactValue } from './exact-sum.js';
import { UsageError } from '../errors.js';

/** Updates of the key (a count field counts every update of its key). */
export const count = (): Aggregate<number, unknown, number> => countAgg;

/** Float sum in arrival order: exact only for integers below 2^53 (use {@link exactSum} for money). */
export const sum = (): Aggregate<number, number, number> => sumAgg;

/** Smallest value; null for none. */
export const min = (): Aggregate<number, number, number | null> => minAgg;

/** Largest value; null for none. */
export const max = (): Aggregate<number, number, number | null> => maxAgg;

/** Arithmetic mean; null for none. */
export const mean = (): Aggregate<{ sum: number; count: number }, number, number | null> => meanAgg;

/** Number of distinct values (held as a set: memory grows with them). */
export const countDistinct = (): Aggregate<Set<string>, string, number> => countDistinctAgg;

/** The value at the earliest input position (file order, then byte offset): "the first one stays". */
export const first = <V>(): Aggregate<{ position: number; value: V | undefined }, V, V | undefined> =>
  firstByPosition<V>();

/**
 * A correctly rounded float sum that does not depend on the order of its terms (Shewchuk
 * partials, as Python's math.fsum): the same bits whatever the split, worker or shard count.
 */
export const exactSum = (): Aggregate<number[], number, number> => EXACT_SUM;

const EXACT_SUM: Aggregate<number[], number, number> = Object.freeze({
  name: 'exactSum',
  init: () => [],
  update: (s: number[], v: number) => {
    if (typeof v === 'number' && Number.isFinite(v)) exactAdd(s, v);
    return s;
  },
  merge: (a: number[], b: number[]) => {
    const out = a.slice();
    exactMerge(out, b);
    return out;
  },
  finalize: (s: number[]) => exactValue(s),
  encode: (s: number[]) => encodeFloats(s),
  decode: (b: Uint8Array) => Array.from(decodeFloats(b)),
});

/**
 * The `k` largest values by `score`, ties broken by the value's JSON text; values must be
 * JSON-encodable. Memory: k values a key.
 */
export function topK<V>(k: number, score: (v: V) => number): Aggregate<V[], V, V[]> {
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`topK(${k}): k must be a positive integer`);
  const order = (a: V, b: V) =>
    score(b) - score(a) ||
    (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0);
  const keep = (list: V[]) => list.sort(order).slice(0, k);
  return {
    name: 'topK',
    init: () => [],
    update: (s, v) => keep([...s, v]),
    merge: (a, b) => keep([...a, ...b]),
    finalize: (s) => s,
    encode: (s) => jsonBytes(s),
    decode: (b) => fromJsonBytes<V[]>(b),
  };
}

/** The first `n` values by input position (a bounded list), in input order. */
export function firstN<V>(n: number): Aggregate<[number, V][], V, V[]> {
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`firstN(${n}): n must be a positive integer`);
  const keep = (list: [number, V][]) => list.sort((a, b) => a[0] - b[0]).slice(0, n);
  return {
    name: 'firstN',
    init: () => [],
    update: (s, v, position) => keep([...s, [position, v]]),
    merge: (a, b) => keep([...a, ...b]),
    finalize: (s) => s.map(([, v]) => v),
    encode: (s) => jsonBytes(s),
    decode: (b) => fromJsonBytes<[number, V][]>(b),
  };
}

export type { Aggregate };
