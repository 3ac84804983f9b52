/**
 * Counts of non-negative integer keys in a dense window of an array, in front of a hash table:
 * ids and day numbers usually sit in a narrow range, and there an add is one array increment
 * instead of a hash and a probe (together about a quarter of the map stage's time). The window
 * grows to cover new keys up to `maxSpan` entries; a key it cannot cover is the caller's to hash.
 * Memory: 8 bytes × window length (at most 8 MiB at the default span).
 */

/** Window length at the first key; it then doubles as needed. */
const FIRST_LENGTH = 4096;

export class WindowCounts {
  readonly #maxSpan: number;
  #base = 0;
  #counts = new Float64Array(0);

  /** A window of at most `maxSpan` consecutive keys (default 2^20). */
  constructor(maxSpan = 1 << 20) {
    this.#maxSpan = maxSpan;
  }

  /**
   * Adds `delta` to the count of `key` (an integer ≥ 0); returns false, counting nothing, when the
   * window cannot cover the key.
   */
  add(key: number, delta: number): boolean {
    let i = key - this.#base;
    if (i < 0 || i >= this.#counts.length) {
      if (!this.#cover(key)) return false;
      i = key - this.#base;
    }
    this.#counts[i] += delta;
    return true;
  }

  /** The keys whose count is not 0, in key order, and their counts. */
  entries(): { keys: Float64Array; counts: Float64Array } {
    const all = this.#counts;
    let n = 0;
    for (let i = 0; i < all.length; i++) if (all[i] !== 0) n++;
    const keys = new Float64Array(n);
    const counts = new Float64Array(n);
    for (let i = 0, j = 0; i < all.length; i++) {
      if (all[i] === 0) continue;
      keys[j] = this.#base + i;
      counts[j++] = all[i];
    }
    return { keys, counts };
  }

  #cover(key: number): boolean {
    const len = this.#counts.length;
    if (len === 0) {
      const first = Math.min(FIRST_LENGTH, this.#maxSpan);
      this.#base = Math.max(0, key - first / 2);
      this.#counts = new Float64Array(first);
      return true;
    }
    const end = this.#base + len;
    const lo = Math.min(this.#base, key);
    const hi = Math.max(end, key + 1);
    if (hi - lo > this.#maxSpan) return false;
    const next = Math.min(this.#maxSpan, Math.max(hi - lo, 2 * len));
    // Grow towards the new key: downwards as far as the keys allow, else upwards.
    const base = key < this.#base ? Math.max(0, end - next) : this.#base;
    const counts = new Float64Array(next);
    counts.set(this.#counts, this.#base - base);
    this.#base = base;
    this.#counts = counts;
    return true;
  }
}
