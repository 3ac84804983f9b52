/**
 * An open-addressing hash table from fixed-width keys (`width` 32-bit words, e.g. 2 for an int64,
 * 4 for a pair of int64s) to float64 counts; the grouped form of the count monoid. The caller
 * passes each key's murmur3 hash (the same one that picks its partition), so a row's key is
 * hashed once. Storage can live in SharedArrayBuffers, so a finished table is read by every
 * worker without a copy. Memory: about (4·width + 12) bytes × capacity, capacity ≤ 4 × size.
 */

/** The raw storage of a table, postable to a worker (shared buffers are not copied). */
export interface CountTableHandle {
  width: number;
  capacity: number;
  size: number;
  keys: ArrayBufferLike;
  hashes: ArrayBufferLike;
  counts: ArrayBufferLike;
  used: ArrayBufferLike;
}

/** Compact entries of a table: `keys` has `width` words per entry. */
export interface CountEntries {
  width: number;
  keys: Uint32Array;
  hashes: Uint32Array;
  counts: Float64Array;
}

function slotOf(hash: number, shift: number): number {
  return Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d) >>> shift;
}

export class CountTable {
  readonly width: number;
  readonly #shared: boolean;
  readonly #maxLoad: number;
  #keys: Uint32Array;
  #hashes: Uint32Array;
  #counts: Float64Array;
  #used: Uint8Array;
  #capacity: number;
  #shift: number;
  #size = 0;

  /**
   * A table for keys of `width` words; `capacity` is rounded up to a power of two (default 1024);
   * it doubles when more than `maxLoad` of it is used (default 0.5).
   */
  constructor(width: number, capacity = 1024, shared = false, maxLoad = 0.5) {
    this.width = width;
    this.#shared = shared;
    this.#maxLoad = maxLoad;
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.#capacity = cap;
    this.#shift = 32 - Math.log2(cap);
    this.#keys = new Uint32Array(this.#alloc(cap * width * 4));
    this.#hashes = new Uint32Array(this.#alloc(cap * 4));
    this.#counts = new Float64Array(this.#alloc(cap * 8));
    this.#used = new Uint8Array(this.#alloc(cap));
  }

  /** Rebuilds a read-only view of a table from its handle (e.g. in another worker). */
  static fromHandle(handle: CountTableHandle): CountTable {
    return new CountTable(handle.width, 16).#adopt(handle);
  }

  #adopt(h: CountTableHandle): this {
    this.#capacity = h.capacity;
    this.#shift = 32 - Math.log2(h.capacity);
    this.#size = h.size;
    this.#keys = new Uint32Array(h.keys);
    this.#hashes = new Uint32Array(h.hashes);
    this.#counts = new Float64Array(h.counts);
    this.#used = new Uint8Array(h.used);
    return this;
  }

  #alloc(bytes: number): ArrayBufferLike {
    return this.#shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  }

  /** Number of distinct keys. */
  get size(): number {
    return this.#size;
  }

  /** The storage, for posting to another thread. */
  handle(): CountTableHandle {
    return {
      width: this.width,
      capacity: this.#capacity,
      size: this.#size,
      keys: this.#keys.buffer,
      hashes: this.#hashes.buffer,
      counts: this.#counts.buffer,
      used: this.#used.buffer,
    };
  }

  /**
   * Adds `delta` to the count of the key `words[offset … offset+width)` whose hash is `hash`;
   * returns the count before (0 for a new key).
   */
  add(words: Uint32Array, offset: number, hash: number, delta: number): number {
    hash = hash >>> 0;
    const w = this.width;
    const keys = this.#keys;
    const used = this.#used;
    let slot = slotOf(hash, this.#shift);
    const mask = this.#capacity - 1;
    for (;;) {
      if (used[slot] === 0) break;
      if (this.#hashes[slot] === hash) {
        let k = 0;
        const base = slot * w;
        while (k < w && keys[base + k] === words[offset + k]) k++;
        if (k === w) {
          const before = this.#counts[slot];
          this.#counts[slot] = before + delta;
          return before;
        }
      }
      slot = (slot + 1) & mask;
    }
    this.#insertAt(slot, words, offset, hash, delta);
    return 0;
  }

  // `get` repeats `add`'s probe loop on purpose: sharing it through a private method measured 9%
  // slower on the map stage (both are on every row's path).
  /** Count of a key, 0 when absent. */
  get(words: Uint32Array, offset: number, hash: number): number {
    hash = hash >>> 0;
    const w = this.width;
    const keys = this.#keys;
    const used = this.#used;
    let slot = slotOf(hash, this.#shift);
    const mask = this.#capacity - 1;
    for (;;) {
      if (used[slot] === 0) return 0;
      if (this.#hashes[slot] === hash) {
        let k = 0;
        const base = slot * w;
        while (k < w && keys[base + k] === words[offset + k]) k++;
        if (k === w) return this.#counts[slot];
      }
      slot = (slot + 1) & mask;
    }
  }

  #insertAt(slot: number, words: Uint32Array, offset: number, hash: number, delta: number): void {
    const w = this.width;
    const base = slot * w;
    for (let k = 0; k < w; k++) this.#keys[base + k] = words[offset + k];
    this.#hashes[slot] = hash;
    this.#counts[slot] = delta;
    this.#used[slot] = 1;
    this.#size++;
    if (this.#size > this.#capacity * this.#maxLoad) this.#grow();
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldHashes = this.#hashes;
    const oldCounts = this.#counts;
    const oldUsed = this.#used;
    const oldCap = this.#capacity;
    const w = this.width;
    const cap = oldCap * 2;
    this.#capacity = cap;
    this.#shift = 32 - Math.log2(cap);
    this.#keys = new Uint32Array(this.#alloc(cap * w * 4));
    this.#hashes = new Uint32Array(this.#alloc(cap * 4));
    this.#counts = new Float64Array(this.#alloc(cap * 8));
    this.#used = new Uint8Array(this.#alloc(cap));
    const mask = cap - 1;
    for (let s = 0; s < oldCap; s++) {
      if (oldUsed[s] === 0) continue;
      const h = oldHashes[s];
      let slot = slotOf(h, this.#shift);
      while (this.#used[slot] !== 0) slot = (slot + 1) & mask;
      this.#used[slot] = 1;
      for (let k = 0; k < w; k++) this.#keys[slot * w + k] = oldKeys[s * w + k];
      this.#hashes[slot] = h;
      this.#counts[slot] = oldCounts[s];
    }
  }

  /**
   * A copy holding the same counts at up to `maxLoad` (default 0.7) in a table sized for them: for
   * finished, read-only tables, which need no room to grow (linear probing averages under two
   * probes a hit there). Entries whose count is 0 are dropped.
   */
  compacted(shared = this.#shared, maxLoad = 0.7): CountTable {
    const e = this.entries();
    const table = new CountTable(this.width, Math.ceil(e.counts.length / maxLoad) + 1, shared, maxLoad);
    table.merge(e);
    return table;
  }

  /** Adds every entry of `entries` (a partial from another task): the monoid merge. */
  merge(entries: CountEntries, from = 0, to = entries.counts.length): void {
    const { keys, hashes, counts } = entries;
    for (let i = from; i < to; i++) this.add(keys, i * this.width, hashes[i], counts[i]);
  }

  /** Compact copy of the entries, in slot order. Entries whose count is 0 are dropped. */
  entries(): CountEntries {
    const w = this.width;
    let n = 0;
    for (let s = 0; s < this.#capacity; s++) if (this.#used[s] !== 0 && this.#counts[s] !== 0) n++;
    const keys = new Uint32Array(n * w);
    const hashes = new Uint32Array(n);
    const counts = new Float64Array(n);
    let i = 0;
    for (let s = 0; s < this.#capacity; s++) {
      if (this.#used[s] === 0 || this.#counts[s] === 0) continue;
      for (let k = 0; k < w; k++) keys[i * w + k] = this.#keys[s * w + k];
      hashes[i] = this.#hashes[s];
      counts[i] = this.#counts[s];
      i++;
    }
    return { width: w, keys, hashes, counts };
  }
}
