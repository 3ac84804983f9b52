/**
 * Keyed state of one stage in one task: for each reduce partition, each key's aggregates. A map
 * task folds updates into it and hands back one byte section per partition; a reduce task merges
 * the sections of its partition from every upstream task and finalizes each key.
 *
 * Section layout, per key: uint32 key length, the key's UTF-8 bytes, then per state field (in
 * declaration order) uint32 length and the aggregate's own encoding. Sections live in one shared
 * buffer with byte offsets per partition (the shuffle object's "partitioned" shape: a shard reads
 * only the partitions it reduces, and a reduce task is handed views, not copies).
 *
 * Memory: the distinct keys of the task and their states, never the rows.
 */

import { ShardflowError } from '../errors.js';
import { hashPartitionString } from '../partitioners/hash-partition.js';
import type { StateSpec } from './job-contract.js';

type Agg = StateSpec[string];

/** A stage's partials in byte form: partition p is `bytes[offsets[p], offsets[p + 1])`. */
export interface EncodedPartials {
  offsets: Uint32Array;
  bytes: Uint8Array;
}

export class KeyedState {
  readonly #fields: readonly [string, Agg][];
  readonly #partitions: Map<string, unknown[]>[];

  constructor(state: StateSpec, partitions: number) {
    this.#fields = Object.entries(state);
    this.#partitions = Array.from({ length: partitions }, () => new Map<string, unknown[]>());
  }

  /** Folds one update: `values[field]` into each field present (a field absent is left alone). */
  update(key: string, values: Readonly<Record<string, unknown>>, position: number): void {
    const map = this.#partitions[hashPartitionString(key, this.#partitions.length)];
    let states = map.get(key);
    if (states === undefined) {
      states = this.#fields.map(([, agg]) => agg.init());
      map.set(key, states);
    }
    for (let f = 0; f < this.#fields.length; f++) {
      const [name, agg] = this.#fields[f];
      if (name in values || agg.name === 'count') states[f] = agg.update(states[f], values[name], position);
    }
  }

  /** Merges an encoded section (of one partition) into the state. */
  mergeSection(partition: number, section: Uint8Array): void {
    const map = this.#partitions[partition];
    forEachEntry(section, this.#fields.length, (key, encoded) => {
      const decoded = encoded.map((bytes, f) => this.#fields[f][1].decode(bytes));
      const states = map.get(key);
      if (states === undefined) map.set(key, decoded);
      else
        for (let f = 0; f < decoded.length; f++) states[f] = this.#fields[f][1].merge(states[f], decoded[f]);
    });
  }

  /** Keys of a partition in sorted order with their finalized values. */
  *finalized(partition: number): Generator<[string, Record<string, unknown>]> {
    const map = this.#partitions[partition];
    const keys = [...map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const key of keys) {
      const states = map.get(key) as unknown[];
      const values: Record<string, unknown> = {};
      for (let f = 0; f < this.#fields.length; f++)
        values[this.#fields[f][0]] = this.#fields[f][1].finalize(states[f]);
      yield [key, values];
    }
  }

  /** Number of keys held. */
  get keys(): number {
    return this.#partitions.reduce((n, m) => n + m.size, 0);
  }

  /**
   * Every partition's section, in one shared buffer (posted to other threads without a copy). The
   * state is written straight into one growing buffer, then copied once into shared memory: no
   * object per key, so encoding a task's keys costs about their bytes twice.
   */
  encode(): EncodedPartials {
    const out = new ByteSink();
    const offsets = new Uint32Array(this.#partitions.length + 1);
    this.#partitions.forEach((map, p) => {
      offsets[p] = out.length;
      for (const [key, states] of map) {
        out.string(key);
        for (let f = 0; f < this.#fields.length; f++) out.bytes(this.#fields[f][1].encode(states[f]));
      }
    });
    offsets[this.#partitions.length] = out.length;
    // An empty view over shared memory cannot be serialized into a shuffle object: use a plain one.
    if (out.length === 0) return { offsets, bytes: new Uint8Array(0) };
    const bytes = new Uint8Array(new SharedArrayBuffer(out.length));
    bytes.set(out.view());
    return { offsets, bytes };
  }
}

/** Length-prefixed byte strings (uint32 LE) appended to one buffer that doubles as it fills. */
class ByteSink {
  #buf = Buffer.allocUnsafe(1 << 16);
  length = 0;

  #reserve(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.length + n));
    this.#buf.copy(grown, 0, 0, this.length);
    this.#buf = grown;
  }

  string(text: string): void {
    const n = Buffer.byteLength(text, 'utf8');
    this.#reserve(4 + n);
    this.#buf.writeUInt32LE(n, this.length);
    this.#buf.write(text, this.length + 4, n, 'utf8');
    this.length += 4 + n;
  }

  bytes(b: Uint8Array): void {
    this.#reserve(4 + b.length);
    this.#buf.writeUInt32LE(b.length, this.length);
    this.#buf.set(b, this.length + 4);
    this.length += 4 + b.length;
  }

  view(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }
}

/** Calls `fn` with each key and its fields' encodings in a section. */
function forEachEntry(
  section: Uint8Array,
  fields: number,
  fn: (key: string, encoded: Uint8Array[]) => void,
): void {
  const view = new DataView(section.buffer, section.byteOffset, section.byteLength);
  let at = 0;
  const take = (): Uint8Array => {
    if (at + 4 > section.length) throw corrupt();
    const n = view.getUint32(at, true);
    at += 4;
    if (at + n > section.length) throw corrupt();
    const out = section.subarray(at, at + n);
    at += n;
    return out;
  };
  const text = Buffer.from(section.buffer, section.byteOffset, section.byteLength);
  while (at < section.length) {
    const k = take();
    const key = text.toString(
      'utf8',
      k.byteOffset - section.byteOffset,
      k.byteOffset - section.byteOffset + k.length,
    );
    const encoded: Uint8Array[] = [];
    for (let f = 0; f < fields; f++) encoded.push(take());
    fn(key, encoded);
  }
}

function corrupt(): ShardflowError {
  return new ShardflowError(
    'E_SHUFFLE_CORRUPT',
    'a partial-aggregate section is truncated or corrupt; rerun the run',
  );
}

/** Section `p` of encoded partials (a view, no copy). */
export function sectionOf(partials: EncodedPartials, p: number): Uint8Array {
  return partials.bytes.subarray(partials.offsets[p], partials.offsets[p + 1]);
}
