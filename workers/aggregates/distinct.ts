import { fromJsonBytes, jsonBytes, type Aggregate } from './aggregate.js';

/**
 * Exact number of distinct string values (state: the set). Memory grows with the distinct values,
 * as the contract allows; the encoding is the sorted values, so equal states encode equally.
 */
export const countDistinct: Aggregate<Set<string>, string, number> = {
  name: 'countDistinct',
  init: () => new Set<string>(),
  update: (s, v) => s.add(v),
  merge: (a, b) => {
    const out = new Set(a);
    for (const v of b) out.add(v);
    return out;
  },
  finalize: (s) => s.size,
  encode: (s) => jsonBytes([...s].sort()),
  decode: (b) => new Set<string>(fromJsonBytes<string[]>(b)),
};

/** State of {@link firstByPosition}: the value seen at the smallest input position. */
export interface FirstState<V> {
  position: number;
  value: V | undefined;
}

/**
 * The value at the smallest input position (files in order, then byte offset): the "first one
 * stays" rule of de-duplication. Positions are unique, so the merge is commutative.
 */
export function firstByPosition<V>(): Aggregate<FirstState<V>, V, V | undefined> {
  return {
    name: 'firstByPosition',
    init: () => ({ position: Infinity, value: undefined }),
    update: (s, value, position) => (position < s.position ? { position, value } : s),
    merge: (a, b) => (b.position < a.position ? b : a),
    finalize: (s) => s.value,
    encode: (s) => jsonBytes([s.position === Infinity ? null : s.position, s.value]),
    decode: (b) => {
      const [position, value] = fromJsonBytes<[number | null, V]>(b);
      return { position: position ?? Infinity, value: position === null ? undefined : value };
    },
  };
}
