import { type Aggregate, decodeFloats, encodeFloats } from './aggregate.js';

/** Number of values. */
export const count: Aggregate<number, unknown, number> = {
  name: 'count',
  init: () => 0,
  update: (s) => s + 1,
  merge: (a, b) => a + b,
  finalize: (s) => s,
  encode: (s) => encodeFloats([s]),
  decode: (b) => decodeFloats(b)[0],
};

/**
 * Sum of values. Exact, and so independent of grouping, while the values and every partial sum
 * are integers below 2^53 (counts, ids, cents); for other floats the result can differ in the
 * last bits between groupings, as in every float engine.
 */
export const sum: Aggregate<number, number, number> = {
  name: 'sum',
  init: () => 0,
  update: (s, v) => s + v,
  merge: (a, b) => a + b,
  finalize: (s) => s,
  encode: (s) => encodeFloats([s]),
  decode: (b) => decodeFloats(b)[0],
};

/** Smallest value; null for no values. */
export const min: Aggregate<number, number, number | null> = {
  name: 'min',
  init: () => Infinity,
  update: (s, v) => (v < s ? v : s),
  merge: (a, b) => (b < a ? b : a),
  finalize: (s) => (s === Infinity ? null : s),
  encode: (s) => encodeFloats([s]),
  decode: (b) => decodeFloats(b)[0],
};

/** Largest value; null for no values. */
export const max: Aggregate<number, number, number | null> = {
  name: 'max',
  init: () => -Infinity,
  update: (s, v) => (v > s ? v : s),
  merge: (a, b) => (b > a ? b : a),
  finalize: (s) => (s === -Infinity ? null : s),
  encode: (s) => encodeFloats([s]),
  decode: (b) => decodeFloats(b)[0],
};

/** Arithmetic mean as (sum, count); null for no values. Exact under the same terms as {@link sum}. */
export const mean: Aggregate<{ sum: number; count: number }, number, number | null> = {
  name: 'mean',
  init: () => ({ sum: 0, count: 0 }),
  update: (s, v) => ({ sum: s.sum + v, count: s.count + 1 }),
  merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
  finalize: (s) => (s.count === 0 ? null : s.sum / s.count),
  encode: (s) => encodeFloats([s.sum, s.count]),
  decode: (b) => {
    const f = decodeFloats(b);
    return { sum: f[0], count: f[1] };
  },
};
