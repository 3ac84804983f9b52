/**
 * The job's four count aggregates (per user, product, (user, product) pair and day) for one task,
 * folded row by row and handed on grouped by reduce partition. The map stage adds every row that
 * passed rules 1–5; the correct stage subtracts the duplicates; merging both is the count monoid.
 */

import { CountTable, type CountEntries } from './count-table.js';
import { WindowCounts } from './window-counts.js';
import { partitionCounts, partitionEntries, type PartitionedCounts } from './partitioned-counts.js';
import { murmur3Int64, murmur3Words } from 'shardflow/kernel';
import { DAY_BIAS } from './rules.js';

/** A task's partial counts, grouped by partition. */
export interface CountPartials {
  users: PartitionedCounts;
  products: PartitionedCounts;
  pairs: PartitionedCounts;
  days: PartitionedCounts;
}

export class InteractionCounts {
  readonly #users = new CountTable(2, 4096);
  readonly #products = new CountTable(2, 1024);
  readonly #pairs = new CountTable(4, 16384);
  readonly #days = new CountTable(1, 512);
  // Users, products and days in front of their tables: see WindowCounts (days biased to be ≥ 0).
  readonly #userWindow = new WindowCounts();
  readonly #productWindow = new WindowCounts();
  readonly #dayWindow = new WindowCounts();
  readonly #pair = new Uint32Array(4);
  readonly #day = new Uint32Array(1);
  readonly #countPairs: boolean;

  /** Pairs are counted only when `countPairs` (they are the costly table). */
  constructor(countPairs: boolean) {
    this.#countPairs = countPairs;
  }

  /** Adds `delta` for the row whose user and product ids are words `at, at+1` of the arrays. */
  add(users: Uint32Array, products: Uint32Array, at: number, seconds: number, delta: number): void {
    const ulo = users[at];
    const uhi = users[at + 1];
    const plo = products[at];
    const phi = products[at + 1];
    if (uhi !== 0 || !this.#userWindow.add(ulo, delta)) {
      this.#users.add(users, at, murmur3Int64(ulo, uhi), delta);
    }
    if (phi !== 0 || !this.#productWindow.add(plo, delta)) {
      this.#products.add(products, at, murmur3Int64(plo, phi), delta);
    }
    if (this.#countPairs) {
      const pair = this.#pair;
      pair[0] = ulo;
      pair[1] = uhi;
      pair[2] = plo;
      pair[3] = phi;
      this.#pairs.add(pair, 0, murmur3Words(pair, 0, 4), delta);
    }
    const day = Math.floor(seconds / 86400);
    if (!this.#dayWindow.add(day + DAY_BIAS, delta)) this.#addDay(day, delta);
  }

  #addDay(day: number, delta: number): void {
    const words = this.#day;
    words[0] = day; // as a uint32: days before 1970 wrap, the tables' key for them
    this.#days.add(words, 0, murmur3Words(words, 0, 1), delta);
  }

  /** The partials grouped by `partitions`, in shared memory. */
  partitioned(partitions: number): CountPartials {
    return {
      users: partitionEntries([this.#users.entries(), idEntries(this.#userWindow)], partitions),
      products: partitionEntries([this.#products.entries(), idEntries(this.#productWindow)], partitions),
      pairs: partitionCounts(this.#pairs, partitions),
      days: partitionEntries([this.#days.entries(), dayEntries(this.#dayWindow)], partitions),
    };
  }
}

/** A window's int64 ids (high word 0) as table entries. */
function idEntries(window: WindowCounts): CountEntries {
  const { keys: ids, counts } = window.entries();
  const keys = new Uint32Array(2 * ids.length);
  const hashes = new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    keys[2 * i] = ids[i];
    hashes[i] = murmur3Int64(ids[i], 0);
  }
  return { width: 2, keys, hashes, counts };
}

/** A window's biased day numbers as table entries (the day as a uint32 word, as #addDay keys it). */
function dayEntries(window: WindowCounts): CountEntries {
  const { keys: biased, counts } = window.entries();
  const keys = new Uint32Array(biased.length);
  const hashes = new Uint32Array(biased.length);
  for (let i = 0; i < biased.length; i++) {
    keys[i] = biased[i] - DAY_BIAS;
    hashes[i] = murmur3Words(keys, i, 1);
  }
  return { width: 1, keys, hashes, counts };
}
