/** Append-only typed arrays that double when full; `view()` is the filled prefix. */

type TypedCtor<T> = { new (length: number): T; BYTES_PER_ELEMENT: number };

export class Growable<T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array> {
  readonly #ctor: TypedCtor<T>;
  #data: T;
  length = 0;

  /** A builder of `ctor` elements, starting at `capacity` (default 1024). */
  constructor(ctor: TypedCtor<T>, capacity = 1024) {
    this.#ctor = ctor;
    this.#data = new ctor(Math.max(16, capacity));
  }

  /** Makes room for `n` more elements and returns the backing array. */
  reserve(n: number): T {
    const need = this.length + n;
    if (need > this.#data.length) {
      let cap = this.#data.length * 2;
      while (cap < need) cap *= 2;
      const next = new this.#ctor(cap);
      next.set(this.#data.subarray(0, this.length) as never);
      this.#data = next;
    }
    return this.#data;
  }

  push(value: number): void {
    if (this.length === this.#data.length) this.reserve(1);
    this.#data[this.length++] = value;
  }

  /** Appends bytes (Uint8 builders only). */
  pushBytes(bytes: Uint8Array, start: number, end: number): void {
    const data = this.reserve(end - start);
    (data as Uint8Array).set(bytes.subarray(start, end), this.length);
    this.length += end - start;
  }

  /** The filled prefix (a view, not a copy). */
  view(): T {
    return this.#data.subarray(0, this.length) as T;
  }
}
