/**
 * Writes records as chunks (issue #11, X): chunk k of a run holds the next `rows` records, as the
 * object `txn_batch_<first index>.csv` under `--out` (the header, then the records' bytes), and
 * the pointer moves past them only once the object is committed. Paced: the j-th chunk of a run
 * is committed no earlier than j·every after the run's start. Chunks are committed one at a time,
 * in order: with the pointer read off the chunks present, a later chunk committed before an
 * earlier one would make a kill skip the earlier one.
 *
 * Records come in synchronously (`add`, from the CSV splitter's callback) as byte ranges of the
 * blocks read, and are kept as views: consecutive records of one block make one view, so a chunk
 * costs a few objects, not one per record. `drain` then commits the chunks that filled.
 *
 * Memory: the views of the blocks read since the last `drain` (the caller drains after each
 * block), and of a chunk larger than {@link FLUSH_BYTES} at most that much: it streams to its
 * object's writer as it grows (visible only at commit, like every object).
 */

import { performance } from 'node:perf_hooks';
import { joinUrl, sleep, storageFor, writeObject, type ObjectWriter } from 'shardflow/kernel';
import { chunkName, type ChunkPointer } from './pointer.js';

/** Bytes of a chunk held before they go to its writer. */
export const FLUSH_BYTES = 1024 * 1024;

export interface ChunkerOptions {
  readonly out: string;
  /** The input's header line, first in every chunk. */
  readonly header: Uint8Array;
  /** Records per chunk. */
  readonly rows: number;
  /** The least time between the commits of consecutive chunks, in ms; 0: no wait. */
  readonly everyMs: number;
  /** The run's start (performance.now()), which the pacing counts from. */
  readonly startedAt: number;
  /** The index of the first record this run chunks (the pointer when it started). */
  readonly first: number;
  readonly pointer: ChunkPointer;
  /** A stop (SIGTERM/SIGINT): no chunk is committed after it. */
  readonly signal: AbortSignal;
  /** Told after each chunk and its pointer are committed. */
  onChunk(records: number, pointer: number): void;
}

/** A chunk being filled or waiting for its commit. */
interface Chunk {
  readonly first: number;
  parts: Uint8Array[];
  /** Bytes of `parts` and of the open span. */
  bytes: number;
  records: number;
  /** Bytes already written to the chunk's writer. */
  written: number;
}

export class Chunker {
  /** Records chunked: the index of the next chunk's first record. */
  next: number;
  /** Chunks this run committed. */
  written = 0;
  readonly #o: ChunkerOptions;
  /** Filled chunks, oldest first, then the one being filled (always last). */
  readonly #chunks: Chunk[];
  /** The open span of the chunk being filled: `#buf[#spanStart, #spanEnd)`. */
  #buf: Uint8Array | null = null;
  #spanStart = 0;
  #spanEnd = 0;
  /** The writer of the oldest chunk, once it outgrew FLUSH_BYTES. */
  #writer: ObjectWriter | null = null;

  constructor(options: ChunkerOptions) {
    if (!Number.isSafeInteger(options.rows) || options.rows < 1) throw new RangeError('rows must be ≥ 1');
    this.#o = options;
    this.next = options.first;
    this.#chunks = [newChunk(options.first)];
  }

  /** Adds the record `buf[start, end)` (kept as a view until its chunk is committed). */
  add(buf: Uint8Array, start: number, end: number): void {
    let chunk = this.#chunks[this.#chunks.length - 1];
    if (buf !== this.#buf || start !== this.#spanEnd) {
      this.#closeSpan(chunk);
      this.#buf = buf;
      this.#spanStart = start;
    }
    this.#spanEnd = end;
    chunk.bytes += end - start;
    if (++chunk.records === this.#o.rows) {
      this.#closeSpan(chunk);
      chunk = newChunk(chunk.first + chunk.records);
      this.#chunks.push(chunk);
    }
  }

  #closeSpan(chunk: Chunk): void {
    if (this.#buf !== null && this.#spanEnd > this.#spanStart)
      chunk.parts.push(this.#buf.subarray(this.#spanStart, this.#spanEnd));
    this.#buf = null;
    this.#spanStart = this.#spanEnd = 0;
  }

  /**
   * Commits every chunk that filled, and streams a chunk past FLUSH_BYTES to its writer; false
   * when a stop came first (the rest is dropped).
   */
  async drain(): Promise<boolean> {
    while (this.#chunks.length > 1) if (!(await this.#commit(this.#chunks[0]))) return false;
    const filling = this.#chunks[0];
    if (filling.bytes - filling.written >= FLUSH_BYTES) {
      this.#closeSpan(filling);
      await this.#flush(filling);
    }
    return true;
  }

  /** The end of the input: commits what is left, the short last chunk too; false when stopped. */
  async finish(): Promise<boolean> {
    if (!(await this.drain())) return false;
    const last = this.#chunks[0];
    this.#closeSpan(last);
    return last.records === 0 || this.#commit(last);
  }

  /** Drops what is not committed (nothing of it becomes visible). */
  async abort(): Promise<void> {
    const writer = this.#writer;
    this.#writer = null;
    this.#chunks.splice(0, this.#chunks.length, newChunk(this.next));
    this.#buf = null;
    await writer?.abort();
  }

  #url(chunk: Chunk): string {
    return joinUrl(this.#o.out, chunkName(chunk.first));
  }

  /** The chunk's held parts to its writer (opened with the header first). */
  async #flush(chunk: Chunk): Promise<void> {
    if (this.#writer === null) {
      this.#writer = (await storageFor(this.#o.out)).create(this.#url(chunk));
      await this.#writer.write(this.#o.header);
    }
    const bytes = chunk.bytes - chunk.written;
    await this.#writer.write(Buffer.concat(chunk.parts, bytes));
    chunk.written += bytes;
    chunk.parts = [];
  }

  /** Waits for the chunk's turn, commits it, then advances the pointer. */
  async #commit(chunk: Chunk): Promise<boolean> {
    const o = this.#o;
    await sleep(o.startedAt + this.written * o.everyMs - performance.now(), o.signal);
    if (o.signal.aborted) {
      await this.abort();
      return false;
    }
    if (this.#writer === null) {
      await writeObject(this.#url(chunk), [Buffer.concat([o.header, ...chunk.parts])]);
    } else {
      if (chunk.written < chunk.bytes) await this.#flush(chunk);
      const writer = this.#writer;
      this.#writer = null;
      await writer.commit().catch(async (err: unknown) => {
        await writer.abort();
        throw err;
      });
    }
    this.#chunks.shift();
    if (this.#chunks.length === 0) this.#chunks.push(newChunk(chunk.first + chunk.records));
    this.next = chunk.first + chunk.records;
    this.written++;
    await o.pointer.advance(this.next);
    o.onChunk(chunk.records, this.next);
    return true;
  }
}

function newChunk(first: number): Chunk {
  return { first, parts: [], bytes: 0, records: 0, written: 0 };
}
