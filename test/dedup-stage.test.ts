/** The dedup stage: the first row of each interaction_id by position stays, later ones are duplicates, by bitmap or by table. */

import assert from 'node:assert/strict';
import test from 'node:test';
import { runDedupStage } from '../jobs/interactions/dedup-stage.js';
import type { DedupBuckets } from '../jobs/interactions/tasks.js';

/** Buckets of one partition (0 of 1) holding `ids` in chunks of `perBucket`, positions ascending. */
function buckets(ids: readonly bigint[], perBucket: number): DedupBuckets[] {
  const out: DedupBuckets[] = [];
  for (let start = 0; start < ids.length; start += perBucket) {
    const chunk = ids.slice(start, start + perBucket);
    const keys = new Uint32Array(chunk.length * 2);
    const pos = new Float64Array(chunk.length);
    chunk.forEach((id, i) => {
      keys[2 * i] = Number(id & 0xffffffffn);
      keys[2 * i + 1] = Number(id >> 32n);
      pos[i] = (start + i) * 10;
    });
    out.push({ offsets: Uint32Array.from([0, chunk.length]), keys, pos });
  }
  return out;
}

function expectedDuplicates(ids: readonly bigint[]): number[] {
  const seen = new Set<bigint>();
  const dups: number[] = [];
  ids.forEach((id, i) => {
    if (seen.has(id)) dups.push(i * 10);
    else seen.add(id);
  });
  return dups;
}

test('dedup finds the same duplicates for dense, sparse and 64-bit ids', () => {
  let x = 12345;
  const random = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  const cases: Record<string, bigint[]> = {
    dense: Array.from({ length: 5000 }, () => BigInt(1 + random(4000))),
    'sparse (table)': Array.from({ length: 3000 }, () => BigInt(random(2000)) * 1_000_003n),
    '64-bit (table)': Array.from({ length: 3000 }, () => (1n << 40n) + BigInt(random(2500))),
    'max id': [2n ** 63n - 1n, 5n, 2n ** 63n - 1n, 5n],
    empty: [],
  };
  for (const [name, ids] of Object.entries(cases)) {
    const result = runDedupStage({ stage: 'dedup', partition: 0, buckets: buckets(ids, 700) });
    assert.deepEqual([...result.duplicates], expectedDuplicates(ids), name);
    if (ids.length > 100) assert.ok(result.duplicates.length > 0, `${name}: the case has duplicates`);
  }
});
