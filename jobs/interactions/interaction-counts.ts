/**
 * The job's four count aggregates (per user, product, (user, product) pair and day) for one task,
 * folded row by row and handed on grouped by reduce partition. The map stage adds every row that
 * passed rules 1–5; the correct stage subtracts the duplicates; merging both is the count monoid.
 */

import { CountTable } from '../../workers/count-table.js';
import { partitionCounts, type PartitionedCounts } from '../../workers/partitioned-counts.js';
import { murmur3Int64, murmur3Words } from '../../partitioners/murmur3.js';

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
    this.#users.add(users, at, murmur3Int64(ulo, uhi), delta);
    this.#products.add(products, at, murmur3Int64(plo, phi), delta);
    if (this.#countPairs) {
      const pair = this.#pair;
      pair[0] = ulo;
      pair[1] = uhi;
      pair[2] = plo;
      pair[3] = phi;
      this.#pairs.add(pair, 0, murmur3Words(pair, 0, 4), delta);
    }
    const day = this.#day;
    day[0] = Math.floor(seconds / 86400);
    this.#days.add(day, 0, murmur3Words(day, 0, 1), delta);
  }

  /** The partials grouped by `partitions`, in shared memory. */
  partitioned(partitions: number): CountPartials {
    return {
      users: partitionCounts(this.#users, partitions),
      products: partitionCounts(this.#products, partitions),
      pairs: partitionCounts(this.#pairs, partitions),
      days: partitionCounts(this.#days, partitions),
    };
  }
}
