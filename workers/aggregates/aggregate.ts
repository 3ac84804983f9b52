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

/** Encodes a fixed list of float64 values (little endian). */
export function encodeFloats(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat64(i * 8, values[i], true);
  return out;
}

/** Decodes what {@link encodeFloats} wrote, reading in place (no copy of the bytes). */
export function decodeFloats(bytes: Uint8Array): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(bytes.byteLength >>> 3);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/** A JSON-encodable state as UTF-8 bytes (one Buffer, no encoder object per call). */
export function jsonBytes(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** What {@link jsonBytes} wrote. */
export function fromJsonBytes<T>(bytes: Uint8Array): T {
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T;
}
