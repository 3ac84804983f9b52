/**
 * InteractionCounts: whether a key is counted in its dense window or its hash table (ids of 2^32 or
 * more, ids far apart, days centuries apart), the partitioned partials add up to the exact counts.
 */

import assert from 'node:assert/strict';
import test from 'node:test';
import { InteractionCounts } from '../jobs/interactions/interaction-counts.js';
import { CountTable } from '../jobs/interactions/count-table.js';
import { mergePartition, type PartitionedCounts } from '../jobs/interactions/partitioned-counts.js';

/** Every partition of `partials` merged: key words joined by ',' → count (zero counts dropped). */
function merged(partials: PartitionedCounts[], partitions: number): Map<string, number> {
  const width = partials[0].width;
  const out = new Map<string, number>();
  for (let p = 0; p < partitions; p++) {
    const table = new CountTable(width);
    mergePartition(table, partials, p);
    const e = table.entries();
    for (let i = 0; i < e.counts.length; i++) {
      // Every entry sits in the partition of its hash.
      assert.equal(e.hashes[i] % partitions, p);
      out.set(Array.from(e.keys.subarray(i * width, (i + 1) * width)).join(','), e.counts[i]);
    }
  }
  return out;
}

test('window and table counts merge to the exact per-user, per-product and per-day counts', () => {
  let x = 99;
  const random = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  const partitions = 8;
  const users = new Uint32Array(2);
  const products = new Uint32Array(2);
  const expected = {
    users: new Map<string, number>(),
    products: new Map<string, number>(),
    days: new Map<string, number>(),
  };
  const bump = (m: Map<string, number>, k: string, d: number) => {
    const v = (m.get(k) ?? 0) + d;
    if (v === 0) m.delete(k);
    else m.set(k, v);
  };
  const tasks: InteractionCounts[] = [new InteractionCounts(false), new InteractionCounts(false)];
  for (let i = 0; i < 20000; i++) {
    const c = tasks[i % 2];
    const kind = random(4);
    // Small dense ids, ids far apart (beyond a window's span), ids of 2^32 and more.
    const [ulo, uhi] =
      kind === 0 ? [random(3) * 2_000_000_000, 0] : kind === 1 ? [random(50), 7] : [1000 + random(500), 0];
    const [plo, phi] = kind === 3 ? [random(20), 1] : [200 + random(300), 0];
    users[0] = ulo;
    users[1] = uhi;
    products[0] = plo;
    products[1] = phi;
    // Days from year 1 to 9999, and days of 2023.
    const day = random(2) === 0 ? -719162 + random(3652059) : 19358 + random(365);
    const delta = random(10) === 0 ? -1 : 1;
    c.add(users, products, 0, day * 86400 + random(86400), delta);
    bump(expected.users, `${ulo},${uhi}`, delta);
    bump(expected.products, `${plo},${phi}`, delta);
    bump(expected.days, String(day >>> 0), delta);
  }
  const partials = tasks.map((t) => t.partitioned(partitions));
  assert.deepEqual(
    merged(
      partials.map((p) => p.users),
      partitions,
    ),
    expected.users,
  );
  assert.deepEqual(
    merged(
      partials.map((p) => p.products),
      partitions,
    ),
    expected.products,
  );
  assert.deepEqual(
    merged(
      partials.map((p) => p.days),
      partitions,
    ),
    expected.days,
  );
});
