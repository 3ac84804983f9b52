/**
 * A stable external merge sort of byte records by a byte key, for inputs that do not fit in
 * memory. Records are added in input order; while their bytes stay under the budget they are held
 * in memory, and each time the budget is reached they are sorted and spilled to disk as one sorted
 * run. `sorted()` then merges the runs (k-way, a binary heap) and yields the records in key order.
 *
 * Order: keys compare as unsigned bytes (memcmp order, which for UTF-8 text is code point order);
 * equal keys keep their input order (a run is sorted stably, and a tie between runs goes to the
 * earlier run, which holds the earlier records).
 *
 * Memory: at most `budgetBytes` of buffered records (plus the one record that crosses it, and the
 * records a caller adds before it answers `add() === false` with `spill()`), and while merging one
 * read block per run of `budgetBytes / runs`, at least {@link MIN_MERGE_BLOCK} and at most
 * {@link MAX_MERGE_BLOCK}. Everything fits: no file is written at all.
 */

import { mkdir, mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ShardflowError } from '../errors.js';

const MiB = 1024 * 1024;

/** A merge's read block per run: the floor (many runs) and the ceiling (few runs). */
export const MIN_MERGE_BLOCK = 64 * 1024;
export const MAX_MERGE_BLOCK = 1 * MiB;

/**
 * What one held record costs besides its key and record bytes: its key string's header and slot,
 * its place (three int32), and its slot in the index array the sort orders (and the sort's scratch).
 */
const RECORD_OVERHEAD = 64;
/** Records per batch that `sorted()` yields. */
const BATCH = 4096;
/** A run file record's frame: key length and record length, u32 LE each. */
const FRAME = 8;

/** Options of {@link ExternalSort}. */
export interface ExternalSortOptions {
  /** A directory for the runs (created when missing); the sort uses a fresh folder inside it. */
  readonly dir: string;
  /** Memory for the records held before a run is spilled; default 64 MiB. */
  readonly budgetBytes?: number;
}

export const EXTERNAL_SORT_DEFAULTS = Object.freeze({ budgetBytes: 64 * MiB });

/** What a sort did, for metrics and tests. */
export interface ExternalSortStats {
  readonly records: number;
  /** Sorted runs written to disk (0 when everything fit in the budget). */
  readonly runs: number;
  /** Bytes of the run files. */
  readonly spilledBytes: number;
  /** The most bytes held at once: buffered records (as counted against the budget) or merge blocks. */
  readonly peakBytes: number;
}

/** The records held in memory: their bytes packed in blocks, their keys as latin1 strings. */
class HeldRecords {
  /** One char per key byte: JS string order is then byte order, and comparing is cheap. */
  keys: string[] = [];
  blocks: Buffer[] = [];
  /** Per record: its block, start and length. */
  #where = new Int32Array(3 * 1024);
  bytes = 0;
  #block: Buffer = Buffer.alloc(0);
  #used = 0;

  constructor(private readonly blockBytes: number) {}

  add(key: Uint8Array, record: Uint8Array): void {
    if (this.#used + record.length > this.#block.length) {
      this.#block = Buffer.allocUnsafe(Math.max(this.blockBytes, record.length));
      this.blocks.push(this.#block);
      this.#used = 0;
    }
    this.#block.set(record, this.#used);
    const i = 3 * this.keys.length;
    if (i + 3 > this.#where.length) {
      const grown = new Int32Array(this.#where.length * 2);
      grown.set(this.#where);
      this.#where = grown;
    }
    this.#where[i] = this.blocks.length - 1;
    this.#where[i + 1] = this.#used;
    this.#where[i + 2] = record.length;
    this.keys.push(latin1(key));
    this.#used += record.length;
    this.bytes += key.length + record.length + RECORD_OVERHEAD;
  }

  /** Record indexes in key order, ties in input order. */
  order(): number[] {
    const keys = this.keys;
    const idx = Array.from({ length: keys.length }, (_, i) => i);
    return idx.sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : a - b));
  }

  record(i: number): Buffer {
    const w = this.#where;
    const start = w[3 * i + 1];
    return this.blocks[w[3 * i]].subarray(start, start + w[3 * i + 2]);
  }
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export class ExternalSort {
  readonly #budget: number;
  readonly #dir: string;
  #folder: string | null = null;
  #held: HeldRecords;
  #runs: string[] = [];
  #records = 0;
  #spilled = 0;
  #peak = 0;
  #sorting = false;

  constructor(options: ExternalSortOptions) {
    const budget = options.budgetBytes ?? EXTERNAL_SORT_DEFAULTS.budgetBytes;
    if (!Number.isSafeInteger(budget) || budget < 1024)
      throw new RangeError(`budgetBytes must be a whole number of at least 1024, got ${budget}`);
    this.#budget = budget;
    this.#dir = options.dir;
    this.#held = this.#newHeld();
  }

  #newHeld(): HeldRecords {
    return new HeldRecords(Math.min(MiB, Math.max(4096, this.#budget >> 4)));
  }

  /**
   * Adds a record (its bytes are copied; `key` is read now). Returns false once the held records
   * reach the budget: call {@link spill} before adding more, as a stream's `write()` asks for
   * `drain`.
   */
  add(key: Uint8Array, record: Uint8Array): boolean {
    if (this.#sorting) throw new Error('ExternalSort: add after sorted()');
    this.#held.add(key, record);
    this.#records++;
    if (this.#held.bytes > this.#peak) this.#peak = this.#held.bytes;
    return this.#held.bytes < this.#budget;
  }

  /** Writes the held records as one sorted run and frees them; nothing when none are held. */
  async spill(): Promise<void> {
    const held = this.#held;
    if (held.keys.length === 0) return;
    this.#held = this.#newHeld();
    if (this.#folder === null) {
      await mkdir(this.#dir, { recursive: true });
      this.#folder = await mkdtemp(join(this.#dir, 'sort-'));
    }
    const folder = this.#folder;
    const path = join(folder, `run-${String(this.#runs.length).padStart(5, '0')}`);
    const file = await open(path, 'w');
    try {
      const out = new BlockWriter(file, Math.min(MiB, Math.max(4096, this.#budget >> 4)));
      for (const i of held.order()) await out.put(held.keys[i], held.record(i));
      this.#spilled += await out.end();
    } finally {
      await file.close();
    }
    this.#runs.push(path);
  }

  /**
   * Every record in key order, in batches of views into the sort's blocks (a block is never
   * reused, so a view stays valid while it is referenced). Call once, after the last `add`.
   */
  async *sorted(): AsyncGenerator<Uint8Array[]> {
    if (this.#sorting) throw new Error('ExternalSort: sorted() called twice');
    this.#sorting = true;
    if (this.#runs.length === 0) {
      const held = this.#held;
      const order = held.order();
      for (let i = 0; i < order.length; i += BATCH)
        yield order.slice(i, i + BATCH).map((k) => held.record(k));
      return;
    }
    await this.spill(); // the rest too: the merge reads every run from disk, within the budget
    const block = Math.min(
      MAX_MERGE_BLOCK,
      Math.max(MIN_MERGE_BLOCK, Math.floor(this.#budget / this.#runs.length)),
    );
    this.#peak = Math.max(this.#peak, block * this.#runs.length);
    const readers = await Promise.all(this.#runs.map((path, run) => RunReader.open(path, run, block)));
    try {
      yield* mergeRuns(readers);
    } finally {
      await Promise.all(readers.map((r) => r.close()));
    }
  }

  get stats(): ExternalSortStats {
    return {
      records: this.#records,
      runs: this.#runs.length,
      spilledBytes: this.#spilled,
      peakBytes: this.#peak,
    };
  }

  /** Removes the run files (also safe after a failure, and more than once). */
  async close(): Promise<void> {
    this.#held = this.#newHeld();
    if (this.#folder !== null) await rm(this.#folder, { recursive: true, force: true });
    this.#folder = null;
  }
}

/** The k-way merge: a binary heap of readers, ordered by their current key, then run number. */
async function* mergeRuns(readers: RunReader[]): AsyncGenerator<Uint8Array[]> {
  const heap: RunReader[] = [];
  for (const r of readers) if (await r.next()) heap.push(r);
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i);
  let batch: Uint8Array[] = [];
  while (heap.length > 0) {
    const top = heap[0];
    batch.push(top.record);
    let more = top.next();
    if (typeof more !== 'boolean') more = await more;
    if (more) siftDown(heap, 0);
    else {
      const last = heap.pop() as RunReader;
      if (heap.length > 0) {
        heap[0] = last;
        siftDown(heap, 0);
      }
    }
    if (batch.length === BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

function before(a: RunReader, b: RunReader): boolean {
  return a.key < b.key || (a.key === b.key && a.run < b.run);
}

function siftDown(heap: RunReader[], i: number): void {
  const n = heap.length;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) return;
    const r = l + 1;
    const c = r < n && before(heap[r], heap[l]) ? r : l;
    if (!before(heap[c], heap[i])) return;
    [heap[c], heap[i]] = [heap[i], heap[c]];
    i = c;
  }
}

function truncated(run: number): ShardflowError {
  return new ShardflowError(
    'E_SPILL_CORRUPT',
    `sort run ${run}: the file is truncated (the disk filled up?)`,
  );
}

/** Framed records into a file through one block buffer; a record larger than it goes on its own. */
class BlockWriter {
  #buf: Buffer;
  #used = 0;
  #total = 0;

  constructor(
    private readonly file: FileHandle,
    size: number,
  ) {
    this.#buf = Buffer.allocUnsafe(size);
  }

  async put(key: string, record: Uint8Array): Promise<void> {
    const need = FRAME + key.length + record.length;
    if (this.#used + need > this.#buf.length) await this.#flush();
    if (need > this.#buf.length) this.#buf = Buffer.allocUnsafe(need);
    const b = this.#buf;
    b.writeUInt32LE(key.length, this.#used);
    b.writeUInt32LE(record.length, this.#used + 4);
    b.write(key, this.#used + FRAME, 'latin1');
    b.set(record, this.#used + FRAME + key.length);
    this.#used += need;
  }

  async #flush(): Promise<void> {
    let off = 0;
    while (off < this.#used) off += (await this.file.write(this.#buf, off, this.#used - off)).bytesWritten;
    this.#total += this.#used;
    this.#used = 0;
  }

  /** Flushes the rest; resolves to the bytes written. */
  async end(): Promise<number> {
    await this.#flush();
    return this.#total;
  }
}

/** Reads one run's framed records back, a block at a time. */
class RunReader {
  key = '';
  record: Uint8Array = new Uint8Array(0);
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  #filePos = 0;
  #eof = false;

  private constructor(
    private readonly file: FileHandle,
    readonly run: number,
    private readonly block: number,
  ) {}

  static async open(path: string, run: number, block: number): Promise<RunReader> {
    return new RunReader(await open(path, 'r'), run, block);
  }

  /**
   * Moves to the next record; false at the end of the run. Synchronous while the block holds the
   * record (nearly always): an await per record would cost more than the comparison.
   */
  next(): boolean | Promise<boolean> {
    const buf = this.#buf;
    const avail = buf.length - this.#pos;
    if (avail >= FRAME) {
      const total = FRAME + buf.readUInt32LE(this.#pos) + buf.readUInt32LE(this.#pos + 4);
      if (avail >= total) return this.#take();
    }
    return this.#nextAfterRead();
  }

  async #nextAfterRead(): Promise<boolean> {
    if (!(await this.#ensure(FRAME))) return false;
    const total = FRAME + this.#buf.readUInt32LE(this.#pos) + this.#buf.readUInt32LE(this.#pos + 4);
    if (!(await this.#ensure(total))) throw truncated(this.run);
    return this.#take();
  }

  #take(): true {
    const buf = this.#buf;
    const keyLength = buf.readUInt32LE(this.#pos);
    const recordLength = buf.readUInt32LE(this.#pos + 4);
    const k = this.#pos + FRAME;
    this.key = buf.toString('latin1', k, k + keyLength);
    this.record = buf.subarray(k + keyLength, k + keyLength + recordLength);
    this.#pos = k + keyLength + recordLength;
    return true;
  }

  /**
   * Makes `n` bytes from the current position available in one buffer. The unread rest moves to a
   * new buffer (never over the old one: the records already handed out are views of it).
   */
  async #ensure(n: number): Promise<boolean> {
    if (this.#buf.length - this.#pos >= n) return true;
    while (this.#buf.length - this.#pos < n && !this.#eof) {
      const rest = this.#buf.length - this.#pos;
      const next = Buffer.allocUnsafe(Math.max(this.block, n));
      this.#buf.copy(next, 0, this.#pos);
      const { bytesRead } = await this.file.read(next, rest, next.length - rest, this.#filePos);
      this.#filePos += bytesRead;
      if (bytesRead === 0) this.#eof = true;
      this.#buf = next.subarray(0, rest + bytesRead);
      this.#pos = 0;
    }
    if (this.#buf.length - this.#pos >= n) return true;
    if (this.#buf.length > this.#pos) throw truncated(this.run);
    return false;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
