/**
 * Ordering of fixed-width keys made of int64 (lo, hi) word pairs, compared as signed 64-bit
 * integers field by field; a width-1 key is one signed int32 (a day number).
 *
 * Large inputs use an LSD radix sort on 16-bit digits, least significant word first (a high word's
 * sign bit flipped, so negative ids order first); a pass whose digit is the same for every key
 * (the zero high words of ordinary ids) is skipped. Linear time: on the 2.64M pairs of 10M rows it
 * replaced a comparator sort that took ~0.8 s of CPU. Small inputs use the comparator.
 */

const RADIX_MIN = 4096;

/** The permutation that sorts `n` keys of `width` words ascending. */
export function sortedOrder(keys: Uint32Array, width: number, n: number): Uint32Array {
  if (n >= RADIX_MIN) return radixOrder(keys, width, n);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order.sort(comparator(keys, width));
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

function radixOrder(keys: Uint32Array, width: number, n: number): Uint32Array {
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let next = new Uint32Array(n);
  const counts = new Uint32Array(65537);
  for (const [word, signed] of significance(width)) {
    const flip = signed ? 0x80000000 : 0;
    for (const shift of [0, 16]) {
      counts.fill(0);
      for (let i = 0; i < n; i++) counts[(((keys[order[i] * width + word] ^ flip) >>> shift) & 0xffff) + 1]++;
      let single = false;
      for (let d = 1; d <= 65536; d++) if (counts[d] === n) single = true;
      if (single) continue; // every key has this digit: the pass would change nothing
      for (let d = 0; d < 65536; d++) counts[d + 1] += counts[d];
      for (let i = 0; i < n; i++) {
        const o = order[i];
        next[counts[((keys[o * width + word] ^ flip) >>> shift) & 0xffff]++] = o;
      }
      const t = order;
      order = next;
      next = t;
    }
  }
  return order;
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
