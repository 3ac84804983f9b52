/**
 * A growable byte buffer for the Parquet writer (io/parquet-columns.ts): pages, levels and the
 * Thrift metadata are written into one of these, then copied into the file's.
 */

const TWO_32 = 4294967296;

/** A growable byte buffer. */
export class ByteWriter {
  #buf: Uint8Array;
  length = 0;

  constructor(capacity: number) {
    this.#buf = new Uint8Array(Math.max(64, capacity));
  }

  #room(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.length + n, this.#buf.length * 2));
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
  }

  reset(): void {
    this.length = 0;
  }

  /** Makes room for `n` more bytes; returns the buffer to write them at `length` on. */
  reserve(n: number): Uint8Array {
    this.#room(n);
    return this.#buf;
  }

  byte(b: number): void {
    if (this.length === this.#buf.length) this.#room(1);
    this.#buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
  }

  u32(v: number): void {
    this.#room(4);
    const b = this.#buf;
    b[this.length++] = v & 255;
    b[this.length++] = (v >>> 8) & 255;
    b[this.length++] = (v >>> 16) & 255;
    b[this.length++] = v >>> 24;
  }

  /** Overwrites 4 bytes at `at` (already written) with `v`, little-endian: a length prefix. */
  u32At(at: number, v: number): void {
    const b = this.#buf;
    b[at] = v & 255;
    b[at + 1] = (v >>> 8) & 255;
    b[at + 2] = (v >>> 16) & 255;
    b[at + 3] = v >>> 24;
  }

  /** A non-negative integer below 2^53 as 8 bytes little-endian. */
  u64(v: number): void {
    const hi = Math.floor(v / TWO_32);
    this.u32(v - hi * TWO_32);
    this.u32(hi);
  }

  /** An unsigned LEB128 varint of a non-negative integer below 2^53. */
  varint(v: number): void {
    while (v >= 128) {
      this.byte((v % 128) + 128);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }

  finish(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }
}
