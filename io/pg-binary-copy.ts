/**
 * Rows in PostgreSQL's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html),
 * written straight into a buffer: no per-field strings, and the server parses no text. A stream is
 * {@link PG_BINARY_HEADER}, the rows, {@link PG_BINARY_TRAILER}; the loader adds header and trailer
 * to each COPY stream, so row chunks can be spread over several connections.
 */

/** Signature, flags (no OIDs) and an empty header extension. */
export const PG_BINARY_HEADER = Uint8Array.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
]);
/** The file trailer: a field count of -1. */
export const PG_BINARY_TRAILER = Uint8Array.from([0xff, 0xff]);

const TWO_32 = 4294967296;
/** Seconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_SECONDS = 946684800;

export class PgBinaryRowWriter {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;

  /** A writer whose buffer starts at `capacity` bytes (default 1 MiB) and doubles when full. */
  constructor(capacity = 1 << 20) {
    this.#buf = new Uint8Array(capacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.#pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** Starts a row of `fields` fields. */
  row(fields: number): void {
    this.#room(2);
    this.#view.setInt16(this.#pos, fields);
    this.#pos += 2;
  }

  /** An int8 given as its (lo, hi) words. */
  int8Words(lo: number, hi: number): void {
    this.#room(12);
    const v = this.#view;
    v.setInt32(this.#pos, 8);
    v.setUint32(this.#pos + 4, hi);
    v.setUint32(this.#pos + 8, lo);
    this.#pos += 12;
  }

  /** An int8 from an integer-valued number (|n| < 2^53). */
  int8(n: number): void {
    const hi = Math.floor(n / TWO_32);
    this.int8Words(n - hi * TWO_32, hi >>> 0);
  }

  /** A text or bytea value from its bytes. */
  bytes(value: Uint8Array): void {
    this.#room(4 + value.length);
    this.#view.setInt32(this.#pos, value.length);
    this.#buf.set(value, this.#pos + 4);
    this.#pos += 4 + value.length;
  }

  /** A `timestamp without time zone` from wall-clock seconds since 1970-01-01 00:00:00. */
  timestamp(seconds: number): void {
    const micros = (seconds - PG_EPOCH_SECONDS) * 1e6;
    if (Math.abs(micros) < 2 ** 53) {
      this.int8(micros);
      return;
    }
    const big = BigInt.asUintN(64, BigInt(seconds - PG_EPOCH_SECONDS) * 1_000_000n);
    this.int8Words(Number(big & 0xffffffffn), Number(big >> 32n));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#pos;
  }

  /** The rows written, as a right-sized copy; the writer starts over. */
  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#pos);
    this.#pos = 0;
    return out;
  }
}
