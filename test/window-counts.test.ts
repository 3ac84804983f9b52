/** WindowCounts: dense counts of keys in a growing window; keys it cannot cover are refused, not lost. */

import assert from 'node:assert/strict';
import test from 'node:test';
import { WindowCounts } from '../jobs/interactions/window-counts.js';

/** A deterministic xorshift generator, so a failure replays. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

test('WindowCounts counts near keys exactly and refuses keys beyond its span', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const random = rng(seed);
    const window = new WindowCounts(1 << 16);
    const expected = new Map<number, number>();
    for (let i = 0; i < 20000; i++) {
      const delta = random() < 0.1 ? -1 : 1;
      if (i > 0 && random() < 0.05) {
        // Far keys (after the first key placed the window): more than the span from every near key.
        assert.equal(window.add(2 ** 31 + Math.floor(random() * 2 ** 31), delta), false);
        continue;
      }
      // Near keys: a 20,000-wide band that drifts down by 5,000.
      const key = Math.floor(50000 + random() * 20000 - i / 4);
      assert.ok(window.add(key, delta), `near key ${key} refused`);
      expected.set(key, (expected.get(key) ?? 0) + delta);
    }
    const { keys, counts } = window.entries();
    assert.ok(
      keys.every((key, i) => i === 0 || key > keys[i - 1]),
      'keys in ascending order',
    );
    const seen = new Map(Array.from(keys, (key, i) => [key, counts[i]]));
    assert.deepEqual(seen, new Map([...expected].filter(([, n]) => n !== 0)));
  }
});

test('WindowCounts grows downwards to key 0 and never below it', () => {
  const window = new WindowCounts(1 << 16);
  for (const key of [40000, 3, 0, 65535]) assert.ok(window.add(key, 1), `key ${key}`);
  assert.equal(window.add(65536, 1), false, 'span 0 … 65536 is one key too many');
  assert.deepEqual([...window.entries().keys], [0, 3, 40000, 65535]);
});
