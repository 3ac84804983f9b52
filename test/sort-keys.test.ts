/** sortedOrder: the radix sort (large inputs) and the comparator (small ones) give the reference order. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sortedOrder } from '../jobs/interactions/sort-keys.js';

function reference(keys: Uint32Array, width: number, n: number): number[] {
  const toBig = (i: number, k: number) =>
    width === 1
      ? BigInt(keys[i] | 0)
      : BigInt.asIntN(64, (BigInt(keys[i * width + k + 1]) << 32n) | BigInt(keys[i * width + k]));
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => {
    for (let k = 0; k < width; k += 2) {
      const d = toBig(a, k) - toBig(b, k);
      if (d !== 0n) return d < 0n ? -1 : 1;
    }
    return a - b;
  });
}

function random(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s);
}

test('sortedOrder agrees with a BigInt reference, radix and comparator paths, signed words too', () => {
  const next = random(9);
  const cases: [string, number, (i: number, k: number) => number][] = [
    ['small int64', 2, (_i, k) => (k === 0 ? next() % 100000 : 0)],
    ['int64 with high words', 2, (_i, k) => (k === 0 ? next() : next() % 3)],
    ['pairs', 4, (_i, k) => (k === 0 ? next() % 5000 : k === 2 ? next() : 0)],
    ['pairs with a large first id', 4, (_i, k) => (k === 0 ? next() : k === 2 ? next() % 7 : 0)],
    [
      'pairs with negative ids',
      4,
      (_i, k) => (k === 1 ? (next() % 2 ? 0xffffffff : 0) : k % 2 ? 0 : next() % 50),
    ],
    ['days (int32, negative too)', 1, () => (next() % 2000) - 1000],
  ];
  for (const [name, width, word] of cases)
    for (const n of [3000, 20000]) {
      const keys = new Uint32Array(n * width);
      for (let i = 0; i < n; i++) for (let k = 0; k < width; k++) keys[i * width + k] = word(i, k);
      const got = Array.from(sortedOrder(keys, width, n));
      const want = reference(keys, width, n);
      // Equal keys may come in any order: compare the keys in sorted order.
      const keyOf = (i: number) => Array.from(keys.subarray(i * width, i * width + width)).join(',');
      assert.deepEqual(got.map(keyOf), want.map(keyOf), `${name}, n ${n}`);
      assert.equal(new Set(got).size, n, `${name}: a permutation`);
    }
});
