import { murmur3Int64, murmur3String } from './murmur3.js';

/** `hash mod partitions`, for an unsigned 32-bit hash. */
export function partitionOf(hash: number, partitions: number): number {
  return hash % partitions;
}

/** Partition of an int64 key held as (lo, hi) words: murmur3 of its 8 little-endian bytes mod P. */
export function hashPartitionInt64(lo: number, hi: number, partitions: number): number {
  return murmur3Int64(lo, hi) % partitions;
}

/** Partition of a string key: murmur3 of its UTF-8 bytes mod P. */
export function hashPartitionString(key: string, partitions: number): number {
  return murmur3String(key) % partitions;
}

/** Partition of an int64 key given as a bigint (two's complement, little endian). */
export function hashPartitionBigInt(key: bigint, partitions: number): number {
  const u = BigInt.asUintN(64, key);
  return hashPartitionInt64(Number(u & 0xffffffffn), Number(u >> 32n), partitions);
}
