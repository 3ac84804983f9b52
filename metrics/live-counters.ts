// Slot indexes are 64 bytes apart so the two counters sit on different cache lines: workers adding
// bytes and rows at the same moment then do not contend for one line.
const BYTES = 0;
const ROWS = 8;
const SLOTS = 16;
const BYTE_LENGTH = SLOTS * BigInt64Array.BYTES_PER_ELEMENT;

/**
 * Progress counters in a SharedArrayBuffer, added to by worker threads and read by the main thread
 * without messages. Add once per block (e.g. per 64 KiB), not per row. 64-bit, so totals may pass 2^31.
 */
export class LiveCounters {
  readonly #buffer: SharedArrayBuffer;
  readonly #cells: BigInt64Array;

  private constructor(buffer: SharedArrayBuffer) {
    this.#buffer = buffer;
    this.#cells = new BigInt64Array(buffer);
  }

  /** New counters at zero, on a fresh SharedArrayBuffer. */
  static create(): LiveCounters {
    return new LiveCounters(new SharedArrayBuffer(BYTE_LENGTH));
  }

  /** Counters over a buffer from {@link LiveCounters.buffer}, e.g. received in a worker's task. */
  static from(buffer: SharedArrayBuffer): LiveCounters {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== BYTE_LENGTH) {
      throw new TypeError(`LiveCounters.from: expected a SharedArrayBuffer of ${BYTE_LENGTH} bytes`);
    }
    return new LiveCounters(buffer);
  }

  /** The shared memory; post it to workers (it is shared, not copied or transferred). */
  get buffer(): SharedArrayBuffer {
    return this.#buffer;
  }

  /** Adds `n` (a non-negative integer) input bytes. */
  addBytes(n: number): void {
    Atomics.add(this.#cells, BYTES, BigInt(n));
  }

  /** Adds `n` (a non-negative integer) data rows. */
  addRows(n: number): void {
    Atomics.add(this.#cells, ROWS, BigInt(n));
  }

  /** Current totals; exact up to 2^53. */
  read(): { bytes: number; rows: number } {
    return {
      bytes: Number(Atomics.load(this.#cells, BYTES)),
      rows: Number(Atomics.load(this.#cells, ROWS)),
    };
  }
}
