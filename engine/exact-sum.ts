/**
 * An exactly rounded float64 sum that does not depend on the order of its terms (Shewchuk's
 * non-overlapping partials, as Python's `math.fsum`). The session scores of the callsign job are
 * summed with it so that the same input gives the same bits whatever the split size, the worker
 * count or the merge order (ARCHITECTURE: determinism). A state is a short array of partials
 * (rarely more than 3), merged by adding the other state's partials.
 */

/** Adds `x` to the partials `p` in place (finite values only). */
export function exactAdd(p: number[], x: number): void {
  let i = 0;
  for (let j = 0; j < p.length; j++) {
    let y = p[j];
    if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
    const hi = x + y;
    const lo = y - (hi - x);
    if (lo !== 0) p[i++] = lo;
    x = hi;
  }
  p.length = i;
  p.push(x);
}

/** Adds every partial of `other` to `into`. */
export function exactMerge(into: number[], other: readonly number[]): void {
  for (const x of other) exactAdd(into, x);
}

/** The correctly rounded value of the sum held by the partials `p`. */
export function exactValue(p: readonly number[]): number {
  let n = p.length;
  if (n === 0) return 0;
  let hi = p[--n];
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = p[--n];
    hi = x + y;
    const yr = hi - x;
    lo = y - yr;
    if (lo !== 0) break;
  }
  // Round half-even correction, as in CPython's math.fsum.
  if (n > 0 && ((lo < 0 && p[n - 1] < 0) || (lo > 0 && p[n - 1] > 0))) {
    const y = lo * 2;
    const x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}
