/**
 * Ordering of fixed-width keys made of int64 (lo, hi) word pairs, compared as signed 64-bit
 * integers field by field; a width-1 key is one signed int32 (a day number).
 *
 * Large inputs use an LSD radix sort on 11-bit digits, least significant word first (a high
 * word's sign bit flipped, so negative ids order first); one sweep counts every digit, and a pass
 * whose digit is the same for every key (the zero high words of ordinary ids) is skipped. The
 * words sorted on travel with the indices, so a pass reads sequentially. Linear time: on the 2.64M pairs
 * of 10M rows it replaced a comparator sort that took ~0.8 s of CPU. Small inputs use the
 * comparator.
 */

const RADIX_MIN = 4096;

/** The permutation that sorts `n` keys of `width` words ascending. */
export function sortedOrder(keys: Uint32Array, width: number, n: number): Uint32Array {
  if (n >= RADIX_MIN) return radixSort(keys, width, n).order;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order.sort(comparator(keys, width));
}

/**
 * The permutation that sorts `n` keys ascending, and key words in that order that tell equal keys
 * apart: two keys are equal exactly when all of `words` are (see RadixSorted).
 */
export function sortKeys(keys: Uint32Array, width: number, n: number): RadixSorted {
  if (n >= RADIX_MIN) return radixSort(keys, width, n);
  const order = sortedOrder(keys, width, n);
  const words: Uint32Array[] = [];
  for (let k = 0; k < width; k++) words.push(Uint32Array.from(order, (i) => keys[i * width + k]));
  return { order, words };
}

/** Word indices from least to most significant, and whether each is a signed high word. */
function significance(width: number): [number, boolean][] {
  if (width === 1) return [[0, true]];
  const out: [number, boolean][] = [];
  for (let field = width / 2 - 1; field >= 0; field--) {
    out.push([2 * field, false], [2 * field + 1, true]);
  }
  return out;
}

/** Digits of 11, 11 and 10 bits per word: 3 passes a word at most, 2048 buckets each. */
const DIGIT_SHIFTS = [0, 11, 22];
const BUCKETS = 2048;

/** A radix sort's result: the order, and the words that differ between keys, in sorted order. */
export interface RadixSorted {
  order: Uint32Array;
  /**
   * The key words that are not the same in every key, each in sorted order (a high word's sign
   * bit flipped); two keys are equal exactly when these words are. Least significant first.
   */
  words: Uint32Array[];
}

/**
 * LSD radix sort of `n` keys of `width` words (see sortedOrder for the ordering). One sweep counts
 * every digit of every word; a digit the same for every key (the zero high words of ordinary ids)
 * needs no pass, and a word the same for every key is not carried. The carried words travel with
 * the indices, so every pass reads sequentially.
 */
function radixSort(keys: Uint32Array, width: number, n: number): RadixSorted {
  const sig = significance(width);
  const words = sig.length;
  const flips = sig.map(([, signed]) => (signed ? 0x80000000 : 0));
  const at = sig.map(([word]) => word);
  const hist = new Uint32Array(words * 3 * BUCKETS);
  for (let i = 0; i < n; i++) {
    const base = i * width;
    for (let w = 0; w < words; w++) {
      const v = (keys[base + at[w]] ^ flips[w]) >>> 0;
      const h = w * 3 * BUCKETS;
      hist[h + (v & 2047)]++;
      hist[h + BUCKETS + ((v >>> 11) & 2047)]++;
      hist[h + 2 * BUCKETS + (v >>> 22)]++;
    }
  }
  const passes: number[] = []; // w * 3 + digit, least significant first
  for (let w = 0; w < words; w++) {
    for (let d = 0; d < 3; d++) {
      const h = (w * 3 + d) * BUCKETS;
      let uniform = false;
      for (let b = 0; b < BUCKETS; b++) if (hist[h + b] === n) uniform = true;
      if (!uniform) passes.push(w * 3 + d);
    }
  }
  const carried = [...new Set(passes.map((x) => Math.floor(x / 3)))];
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let next = new Uint32Array(n);
  let values = carried.map((w) => {
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = (keys[i * width + at[w]] ^ flips[w]) >>> 0;
    return out;
  });
  let spare = carried.map(() => new Uint32Array(n));
  const offsets = new Uint32Array(BUCKETS);
  for (const pass of passes) {
    const w = Math.floor(pass / 3);
    const shift = DIGIT_SHIFTS[pass % 3];
    const h = pass * BUCKETS;
    let sum = 0;
    for (let b = 0; b < BUCKETS; b++) {
      offsets[b] = sum;
      sum += hist[h + b];
    }
    const digits = values[carried.indexOf(w)];
    if (values.length === 1) {
      const [v0] = values;
      const [s0] = spare;
      for (let i = 0; i < n; i++) {
        const slot = offsets[(v0[i] >>> shift) & 2047]++;
        next[slot] = order[i];
        s0[slot] = v0[i];
      }
    } else if (values.length === 2) {
      const [v0, v1] = values;
      const [s0, s1] = spare;
      for (let i = 0; i < n; i++) {
        const slot = offsets[(digits[i] >>> shift) & 2047]++;
        next[slot] = order[i];
        s0[slot] = v0[i];
        s1[slot] = v1[i];
      }
    } else {
      for (let i = 0; i < n; i++) {
        const slot = offsets[(digits[i] >>> shift) & 2047]++;
        next[slot] = order[i];
        for (let c = 0; c < values.length; c++) spare[c][slot] = values[c][i];
      }
    }
    [order, next] = [next, order];
    [values, spare] = [spare, values];
  }
  return { order, words: values };
}

function comparator(keys: Uint32Array, width: number): (a: number, b: number) => number {
  if (width === 1) {
    const signed = new Int32Array(keys.buffer, keys.byteOffset, keys.length);
    return (a, b) => signed[a] - signed[b];
  }
  return (a, b) => {
    const ba = a * width;
    const bb = b * width;
    for (let k = 0; k < width; k += 2) {
      const ha = keys[ba + k + 1] | 0;
      const hb = keys[bb + k + 1] | 0;
      if (ha !== hb) return ha - hb;
      const la = keys[ba + k];
      const lb = keys[bb + k];
      if (la !== lb) return la - lb;
    }
    return 0;
  };
}
