/** Shuffle objects: a result round-trips whole, and a reader of some partitions gets exactly those rows. */

import assert from 'node:assert/strict';
import test from 'node:test';
import { decodeShuffleObject, encodeShuffleObject } from '../coordinator/shuffle-object.js';

/** A result shaped like a map task's: partitioned counts and buckets beside plain fields. */
function sampleResult() {
  const offsets = new Uint32Array(new SharedArrayBuffer(5 * 4));
  offsets.set([0, 2, 2, 5, 6]); // 4 partitions, partition 1 empty
  const keys = new Uint32Array(new SharedArrayBuffer(6 * 2 * 4));
  keys.forEach((_, i) => (keys[i] = 100 + i));
  const counts = Float64Array.from([1.5, 2, 3, 4, 5, 6]);
  return {
    taskId: 7,
    months: [24276, 24277],
    rejected: [1, 0, 2],
    dedup: { offsets, keys, pos: Float64Array.from([10, 20, 30, 40, 50, 60]) },
    counts: {
      users: { width: 2, offsets, keys, hashes: Uint32Array.from([9, 8, 7, 6, 5, 4]), counts },
      pairs: {
        width: 4,
        offsets: new Uint32Array(0),
        keys: new Uint32Array(0),
        hashes: new Uint32Array(0),
        counts: null,
      },
    },
    table: { capacity: 16, keys: new SharedArrayBuffer(8) },
  };
}

/** A readRange over the concatenated chunks that counts what it was asked for. */
function reader(chunks: Uint8Array[]) {
  const all = Buffer.concat(chunks);
  const asked: [number, number][] = [];
  return {
    asked,
    size: all.length,
    readRange: async (start: number, length: number) => {
      asked.push([start, length]);
      return all.subarray(start, Math.min(all.length, start + length));
    },
  };
}

test('a shuffle object read whole gives back the result, typed arrays in shared memory', async () => {
  const result = sampleResult();
  const r = reader(encodeShuffleObject(result));
  const { value } = await decodeShuffleObject(r.readRange, () => true);
  const v = value as ReturnType<typeof sampleResult>;
  assert.deepEqual([...v.dedup.keys], [...result.dedup.keys]);
  assert.deepEqual([...v.dedup.pos], [...result.dedup.pos]);
  assert.deepEqual([...v.counts.users.counts], [...result.counts.users.counts]);
  assert.deepEqual([...v.counts.users.hashes], [...result.counts.users.hashes]);
  assert.equal(v.counts.users.width, 2);
  assert.equal(v.counts.pairs.counts, null);
  assert.deepEqual([v.taskId, v.months, v.rejected], [7, [24276, 24277], [1, 0, 2]]);
  assert.ok(v.table.keys instanceof SharedArrayBuffer && v.table.keys.byteLength === 8);
  assert.ok(v.dedup.keys.buffer instanceof SharedArrayBuffer);
  assert.ok(v.counts.users.counts.buffer instanceof SharedArrayBuffer);
});

test('a reader of some partitions reads only their sections and gets their rows, zeros elsewhere', async () => {
  const result = sampleResult();
  const r = reader(encodeShuffleObject(result));
  const { value, bytes } = await decodeShuffleObject(r.readRange, (p) => p === 2);
  const v = value as typeof result;
  // Partition 2 is rows 2..5.
  assert.deepEqual([...v.dedup.pos], [0, 0, 30, 40, 50, 0]);
  assert.deepEqual([...v.counts.users.counts], [0, 0, 3, 4, 5, 0]);
  assert.deepEqual([...v.dedup.keys.subarray(4, 10)], [...result.dedup.keys.subarray(4, 10)]);
  assert.deepEqual([...v.dedup.keys.subarray(0, 4)], [0, 0, 0, 0]);
  assert.deepEqual([...v.dedup.offsets], [0, 2, 2, 5, 6], 'offsets are common: whole');
  assert.ok(bytes <= r.size, `read ${bytes} of ${r.size} bytes`);
});

test('large partitions: a reader of one of four reads about a quarter of the object', async () => {
  const rows = 40_000;
  const offsets = Uint32Array.from([0, rows, 2 * rows, 3 * rows, 4 * rows]);
  const keys = new Uint32Array(8 * rows).map((_, i) => i);
  const r = reader(
    encodeShuffleObject({ dedup: { offsets, keys, pos: new Float64Array(4 * rows).fill(1) } }),
  );
  const { value, bytes } = await decodeShuffleObject(r.readRange, (p) => p === 3);
  const v = value as { dedup: { keys: Uint32Array; pos: Float64Array } };
  assert.equal(v.dedup.keys[6 * rows], 6 * rows);
  assert.equal(v.dedup.keys[2 * rows], 0);
  assert.ok(bytes < r.size / 3, `read ${bytes} of ${r.size} bytes`);
  assert.ok(bytes >= r.size / 4);
});
