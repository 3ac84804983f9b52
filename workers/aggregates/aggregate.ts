/**
 * An aggregate is a commutative monoid over partial states: `merge(init(), s) = s`, `merge` is
 * associative and commutative, so any split of the input folded in any order gives the same
 * `finalize`. Each has a compact binary encoding so partials can cross threads and pods.
 */
export interface Aggregate<S, V, R> {
  readonly name: string;
  /** The identity state. */
  init(): S;
  /** Folds one input value at input position `position` (file order, then byte offset). */
  update(state: S, value: V, position: number): S;
  /** Combines two partial states. */
  merge(a: S, b: S): S;
  /** The final value. */
  finalize(state: S): R;
  encode(state: S): Uint8Array;
  decode(bytes: Uint8Array): S;
}

/** Encodes a fixed list of float64 values. */
export function encodeFloats(values: readonly number[]): Uint8Array {
  const out = new Float64Array(values.length);
  out.set(values);
  return new Uint8Array(out.buffer);
}

/** Decodes what {@link encodeFloats} wrote. */
export function decodeFloats(bytes: Uint8Array): Float64Array {
  const copy = bytes.slice();
  return new Float64Array(copy.buffer, 0, copy.byteLength / 8);
}
