/**
 * Session scores are summed exactly (engine/exact-sum.ts), so the callsign aggregates do not
 * depend on the order of the predictions or on how the input was split: any order and any grouping
 * of the same terms gives the same bits, equal to the correctly rounded sum.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exactAdd, exactMerge, exactValue } from '../engine/exact-sum.js';

function mulberry(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('known cancellations: [1e100, 1, -1e100] sums to 1, and 0.1 ten times to 1', () => {
  const p: number[] = [];
  for (const x of [1e100, 1, -1e100]) exactAdd(p, x);
  assert.equal(exactValue(p), 1);
  const q: number[] = [];
  for (let i = 0; i < 10; i++) exactAdd(q, 0.1);
  assert.equal(exactValue(q), 1);
  let naive = 0;
  for (let i = 0; i < 10; i++) naive += 0.1;
  assert.notEqual(naive, 1, 'the naive sum differs, so the test can fail');
});

test('any order and grouping of the same terms gives the same bits', () => {
  const rnd = mulberry(42);
  for (let round = 0; round < 200; round++) {
    const terms = Array.from(
      { length: 1 + Math.floor(rnd() * 40) },
      () => (rnd() - 0.3) * 10 ** Math.floor(rnd() * 20 - 10),
    );
    const reference: number[] = [];
    for (const x of terms) exactAdd(reference, x);
    const shuffled = [...terms].sort(() => rnd() - 0.5);
    const cut = Math.floor(rnd() * shuffled.length);
    const a: number[] = [];
    const b: number[] = [];
    shuffled.slice(0, cut).forEach((x) => exactAdd(a, x));
    shuffled.slice(cut).forEach((x) => exactAdd(b, x));
    exactMerge(b, a);
    assert.equal(Object.is(exactValue(b), exactValue(reference)), true, `round ${round}`);
  }
});
