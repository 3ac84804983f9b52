/**
 * MurmurHash3 x86_32 (Austin Appleby, public domain), seed 0 by default. This is the fixed,
 * documented partitioning hash: `partition = murmur3(keyBytes) mod P`. Key bytes are UTF-8 for
 * strings and 8-byte little-endian two's complement for int64 keys, so every pod and version
 * routes a key to the same partition. Vectors are pinned in test/hash-vectors.test.ts.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixH(h: number, k: number): number {
  h ^= mixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The murmur3 finaliser: avalanches all bits of `h`. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** murmur3_32 of `bytes[start, end)`; default seed 0. Returns an unsigned 32-bit integer. */
export function murmur3Bytes(bytes: Uint8Array, start = 0, end = bytes.length, seed = 0): number {
  let h = seed | 0;
  const len = end - start;
  const blocks = start + (len & ~3);
  let i = start;
  for (; i < blocks; i += 4) {
    h = mixH(h, bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
  }
  const tail = len & 3;
  if (tail > 0) {
    let k = bytes[i];
    if (tail > 1) k ^= bytes[i + 1] << 8;
    if (tail > 2) k ^= bytes[i + 2] << 16;
    h ^= mixK(k);
  }
  return fmix32(h ^ len);
}

/**
 * murmur3_32 of `count` little-endian 32-bit words `words[offset …]`, identical to
 * `murmur3Bytes` over the same bytes; the fast path for int64 keys held as (lo, hi) words.
 */
export function murmur3Words(
  words: Uint32Array | Int32Array,
  offset: number,
  count: number,
  seed = 0,
): number {
  let h = seed | 0;
  for (let i = 0; i < count; i++) h = mixH(h, words[offset + i]);
  return fmix32(h ^ (count * 4));
}

/** murmur3_32 of one int64 given as its low and high 32-bit words (8 bytes, little endian). */
export function murmur3Int64(lo: number, hi: number, seed = 0): number {
  return fmix32(mixH(mixH(seed | 0, lo), hi) ^ 8);
}

/** murmur3_32 of a UTF-8 string. */
export function murmur3String(text: string, seed = 0): number {
  return murmur3Bytes(Buffer.from(text, 'utf8'), 0, undefined, seed);
}
