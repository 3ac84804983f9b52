/** denseCounts: an id-indexed array only when the ids are small and dense enough. */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { denseCounts } from '../jobs/interactions/dense-counts.js';

test('denseCounts indexes small ids and declines high words and sparse ids', () => {
  const keys = Uint32Array.from([5, 0, 1000, 0, 42, 0]);
  const dense = denseCounts(keys, Float64Array.from([3, 7, 1]));
  assert.ok(dense);
  assert.deepEqual([dense[5], dense[1000], dense[42], dense[6]], [3, 7, 1, 0]);
  assert.ok(dense.buffer instanceof SharedArrayBuffer);
  assert.equal(denseCounts(Uint32Array.from([5, 1]), Float64Array.from([1])), null, 'an id of 2^32 or more');
  assert.equal(denseCounts(Uint32Array.from([2 ** 31, 0]), Float64Array.from([1])), null, 'one huge id');
  assert.ok(denseCounts(new Uint32Array(0), new Float64Array(0)), 'no ids');
});
