import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  hashPartitionBigInt,
  hashPartitionInt64,
  hashPartitionString,
  partitionOf,
} from '../partitioners/hash-partition.js';
import { fmix32, murmur3Bytes, murmur3Int64, murmur3String, murmur3Words } from '../partitioners/murmur3.js';
import { readParquetRows, readParts, runInteractionsCli, tempDir } from './helpers/run-cli.js';
import { mulberry32 } from './helpers/mulberry32.js';

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const le64 = (key: bigint): Uint8Array => new Uint8Array(new BigInt64Array([key]).buffer);
const words64 = (key: bigint): [number, number] => {
  const u = BigInt.asUintN(64, key);
  return [Number(u & 0xffffffffn), Number(u >> 32n)];
};

/** Deterministic 32-bit generator (mulberry32), so failures reproduce. */
const random = mulberry32;

test('MurmurHash3_x86_32 seed 0: the vectors of the brief', () => {
  assert.equal(murmur3String(''), 0);
  assert.equal(murmur3String('hello'), 0x248bfa47);
  assert.equal(murmur3String('The quick brown fox jumps over the lazy dog'), 0x2e4ff723);
});

test('MurmurHash3_x86_32: published vectors for every tail length, seeds and high bytes', () => {
  const vectors: [string, number, number][] = [
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0', 0, 0x514e28b7],
    ['\0\0', 0, 0x30f4c306],
    ['\0\0\0', 0, 0x85f0b427],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['\xff\xff\xff\xff', 0, 0x76293b50],
    ['!Ce\x87', 0, 0xf55b516b],
    ['a', 0x9747b28c, 0x7fa09ea6],
    ['aa', 0x9747b28c, 0x5d211726],
    ['aaa', 0x9747b28c, 0x283e0130],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['ab', 0x9747b28c, 0x74875592],
    ['abc', 0x9747b28c, 0xc84a62dd],
    ['abcd', 0x9747b28c, 0xf0478627],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ];
  for (const [text, seed, expected] of vectors) {
    assert.equal(
      murmur3Bytes(latin1(text), 0, undefined, seed),
      expected,
      `${JSON.stringify(text)} seed ${seed}`,
    );
  }
});

test('murmur3Bytes hashes a sub-range like a copy of it; murmur3String hashes UTF-8', () => {
  const buf = latin1('xxhelloyy');
  assert.equal(murmur3Bytes(buf, 2, 7), 0x248bfa47);
  const text = 'é€😀 naïve';
  assert.equal(murmur3String(text), murmur3Bytes(Buffer.from(text, 'utf8')));
  assert.notEqual(murmur3String(text), murmur3Bytes(latin1(text)), 'not Latin-1 or UTF-16 bytes');
});

test('murmur3Int64(lo, hi) equals murmur3Bytes of the 8 little-endian bytes', () => {
  const keys = [
    0n,
    1n,
    -1n,
    1044n,
    255n,
    256n,
    2n ** 32n - 1n,
    2n ** 32n,
    2n ** 53n + 1n,
    2n ** 63n - 1n,
    -(2n ** 63n),
  ];
  const next = random(42);
  for (let i = 0; i < 2000; i++) keys.push(BigInt.asIntN(64, (BigInt(next()) << 32n) | BigInt(next())));
  for (const key of keys) {
    const [lo, hi] = words64(key);
    const expected = murmur3Bytes(le64(key));
    assert.equal(murmur3Int64(lo, hi), expected, `key ${key}`);
    assert.equal(murmur3Int64(lo | 0, hi | 0), expected, `key ${key}, words as signed int32`);
  }
});

test('murmur3Words equals murmur3Bytes over the same bytes, for Uint32Array and Int32Array', () => {
  const next = random(7);
  for (let count = 0; count <= 6; count++) {
    for (let trial = 0; trial < 200; trial++) {
      const words = new Uint32Array(count + 2);
      for (let i = 0; i < words.length; i++) words[i] = next();
      const bytes = new Uint8Array(words.buffer, 4, count * 4);
      const expected = murmur3Bytes(bytes);
      assert.equal(murmur3Words(words, 1, count), expected);
      assert.equal(murmur3Words(new Int32Array(words.buffer), 1, count), expected);
    }
  }
});

test('fmix32 is unsigned and maps 0 to 0', () => {
  assert.equal(fmix32(0), 0);
  for (const h of [1, -1, 0x80000000, 0x7fffffff]) {
    const v = fmix32(h);
    assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff, `fmix32(${h}) = ${v}`);
  }
});

test('pinned partitions of int64 keys: every version must route keys the same way', () => {
  // [key, murmur3 of its 8 LE bytes, partition of 64, of 7, of 1000]
  const pinned: [bigint, number, number, number, number][] = [
    [0n, 0x63852afc, 60, 1, 676],
    [1n, 0x53075d44, 4, 5, 556],
    [1044n, 0x344b43cb, 11, 1, 787],
    [1002n, 0xb9cdab8a, 10, 3, 754],
    [295n, 0x56e37a32, 50, 0, 530],
    [4294967296n, 0x3ad85688, 8, 4, 456],
    [9223372036854775807n, 0x827144bf, 63, 0, 247],
    [-1n, 0x627564e8, 40, 5, 712],
    [92612215n, 0, 0, 0, 0], // a key whose hash is 0
  ];
  for (const [key, hash, p64, p7, p1000] of pinned) {
    assert.equal(murmur3Bytes(le64(key)), hash, `hash of ${key}`);
    assert.deepEqual(
      [hashPartitionBigInt(key, 64), hashPartitionBigInt(key, 7), hashPartitionBigInt(key, 1000)],
      [p64, p7, p1000],
      `partitions of ${key}`,
    );
    const [lo, hi] = words64(key);
    assert.equal(hashPartitionInt64(lo, hi, 64), p64);
    assert.equal(partitionOf(hash, 1000), p1000);
  }
  assert.equal(hashPartitionString('hello', 7), 0x248bfa47 % 7);
  assert.equal(hashPartitionString('hello', 1), 0);
});

test('end to end: ids whose murmur3 is 0 get their counts joined into the clean rows', async (t) => {
  const dir = await tempDir(t, 'shardflow-hash0-');
  const input = join(dir, 'in.csv');
  // 92612215 hashes to 0: as a user (twice) and as a product (once).
  await writeFile(
    input,
    'interaction_id,user_id,product_id,action,timestamp\n' +
      '1,92612215,5,view,2024-01-01 00:00:00\n' +
      '2,92612215,5,view,2024-01-02 00:00:00\n' +
      '3,7,92612215,view,2024-01-02 00:00:00\n',
  );
  const out = join(dir, 'out');
  await runInteractionsCli([input], out, ['--workers', '1']);
  const clean = await readParts(join(out, 'clean'));
  assert.deepEqual(
    clean.map((r) => [
      r.interaction_id,
      r.user_interaction_count,
      r.product_interaction_count,
      r.interaction_count,
    ]),
    [
      [1n, 2n, 2n, 2n],
      [2n, 2n, 2n, 2n],
      [3n, 1n, 1n, 1n],
    ],
  );
  assert.deepEqual(await readParquetRows(join(out, 'users.parquet')), [
    { user_id: 7n, interaction_count: 1n },
    { user_id: 92612215n, interaction_count: 2n },
  ]);
});
