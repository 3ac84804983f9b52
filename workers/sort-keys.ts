/**
 * Ordering of fixed-width keys made of int64 (lo, hi) word pairs, compared as signed 64-bit
 * integers field by field; a width-1 key is one signed int32 (a day number).
 */

/** The permutation that sorts `n` keys of `width` words ascending. */
export function sortedOrder(keys: Uint32Array, width: number, n: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (width === 1) {
    const signed = new Int32Array(keys.buffer, keys.byteOffset, n);
    return order.sort((a, b) => signed[a] - signed[b]);
  }
  return order.sort((a, b) => {
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
  });
}
