/**
 * A byte-level, incremental RFC 4180 CSV decoder. It never builds per-field strings: for each
 * record it reports field boundaries into the current buffer, and the caller parses the bytes it
 * needs. Quotes (`""` escapes), CRLF and LF line ends, and spaces around fields (trimmed) are
 * handled; a quoted field may span lines (then `sawQuotedNewline` is set so the planner can treat
 * the file as unsplittable, like Spark's multiLine mode).
 *
 * Peak memory: the caller's chunk plus one pending partial record (at most `maxRecordBytes`).
 */

import { InputError } from '../errors.js';

const QUOTE = 34;
const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;

/** Field flag: the field was quoted. */
export const FIELD_QUOTED = 1;
/** Field flag: the quoted field contains `""` escapes; unescape before use. */
export const FIELD_ESCAPED = 2;

/** One decoded record; the object is reused between callbacks, copy what you keep. */
export interface CsvRecord {
  /** The buffer the offsets below point into. */
  buf: Uint8Array;
  /** Number of fields. */
  fieldCount: number;
  /** Field content starts (after trimming and unquoting). */
  starts: Int32Array;
  /** Field content ends (exclusive). */
  ends: Int32Array;
  /** FIELD_QUOTED / FIELD_ESCAPED bits per field. */
  flags: Uint8Array;
  /** Raw record range in `buf`, without the line terminator. */
  rawStart: number;
  rawEnd: number;
  /** Absolute byte offset of the record's first byte in the source. */
  offset: number;
  /** Physical line index of the record's first line, counted from the reader's first record (0-based). */
  line: number;
  /** Unterminated quote, or text after a closing quote. */
  malformed: boolean;
}

/** Options of {@link CsvDecoder}. */
export interface CsvDecoderOptions {
  /** Called for each non-empty record. */
  onRecord: (record: CsvRecord) => void;
  /** Delimiter byte; default `,`. */
  delimiter?: number;
  /** Records starting at or after this absolute offset are not emitted; default Infinity. */
  endOffset?: number;
  /** A record longer than this stops the run with a clear error; default 64 MiB. */
  maxRecordBytes?: number;
  /** Names the source in errors. */
  source?: string;
  /**
   * A caller's fast path, tried at the start of each record before the decoder's own: given the
   * buffer, the record's first index, the buffer's length, its absolute offset and its line
   * index, it either consumes a whole record that ends with LF or CRLF inside the buffer (it has
   * used the record itself: the decoder counts it as a record and a line and emits nothing) and
   * returns the index after its line terminator, or returns 0 to leave the record to the decoder.
   * It must consume only records `onRecord` would accept: the decoder checks nothing in them, not
   * even their encoding (a NUL or invalid UTF-8 is the caller's rule: see io/utf8-check.ts).
   */
  fastRecord?: (buf: Uint8Array, pos: number, n: number, offset: number, line: number) => number;
}

export class CsvDecoder {
  readonly #onRecord: (record: CsvRecord) => void;
  readonly #fastRecord: CsvDecoderOptions['fastRecord'];
  readonly #delimiter: number;
  readonly #endOffset: number;
  readonly #maxRecordBytes: number;
  readonly #source: string;
  readonly #record: CsvRecord;
  /** Every byte above this is plain data in the fast path. */
  readonly #dataAbove: number;
  #pending: Uint8Array | null = null;
  #pendingOffset = 0;
  #line = 0;
  #done = false;
  /** Physical lines consumed by the emitted records and skipped empty lines. */
  linesConsumed = 0;
  /** Data records seen (empty lines excluded). */
  records = 0;
  /** True once a quoted field contained a line break. */
  sawQuotedNewline = false;
  /** Absolute offset of the first record, or -1 before one. */
  firstOffset = -1;

  constructor(options: CsvDecoderOptions) {
    this.#onRecord = options.onRecord;
    this.#fastRecord = options.fastRecord;
    this.#delimiter = options.delimiter ?? 44;
    this.#endOffset = options.endOffset ?? Infinity;
    this.#maxRecordBytes = options.maxRecordBytes ?? 64 * 1024 * 1024;
    this.#source = options.source ?? 'input';
    this.#dataAbove = Math.max(this.#delimiter, QUOTE, SPACE, TAB, CR, LF);
    const cap = 16;
    this.#record = {
      buf: new Uint8Array(0),
      fieldCount: 0,
      starts: new Int32Array(cap),
      ends: new Int32Array(cap),
      flags: new Uint8Array(cap),
      rawStart: 0,
      rawEnd: 0,
      offset: 0,
      line: 0,
      malformed: false,
    };
  }

  /** True once a record at or past `endOffset` was reached: the caller can stop reading. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Decodes `chunk`, whose first byte is at absolute offset `chunkOffset` (contiguous with the
   * previous chunk). The chunk may be reused by the caller after this returns.
   */
  push(chunk: Uint8Array, chunkOffset: number): void {
    if (this.#done) return;
    // Always a plain Uint8Array: a Buffer (a subclass with its own hidden class) beside the plain
    // arrays of joined records would make every byte load in the hot loops polymorphic.
    let buf =
      chunk.constructor === Uint8Array
        ? chunk
        : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let base = chunkOffset;
    if (this.#pending !== null) {
      const joined = new Uint8Array(this.#pending.length + chunk.length);
      joined.set(this.#pending, 0);
      joined.set(chunk, this.#pending.length);
      buf = joined;
      base = this.#pendingOffset;
      this.#pending = null;
    }
    const consumed = this.#parse(buf, base, false);
    if (consumed < buf.length && !this.#done) {
      if (buf.length - consumed > this.#maxRecordBytes) {
        throw new InputError(
          'E_RECORD_TOO_LONG',
          `${this.#source}: a record at byte ${base + consumed} is longer than ${this.#maxRecordBytes} bytes (unterminated quote?)`,
          { file: this.#source },
        );
      }
      this.#pending = new Uint8Array(buf.subarray(consumed)); // a copy: Buffer#slice is a view of the caller's reused chunk
      this.#pendingOffset = base + consumed;
    }
  }

  /** Flushes the last record (no trailing newline, or an unterminated quote). */
  end(): void {
    if (this.#done || this.#pending === null) return;
    let buf = this.#pending;
    this.#pending = null;
    // What is pending at the end is a record left open by an unterminated quote (a closed record
    // would have been consumed at its line break): the file's final line break ends that record
    // rather than being part of its open field.
    let len = buf.length;
    if (len > 0 && buf[len - 1] === LF) len--;
    if (len > 0 && len < buf.length && buf[len - 1] === CR) len--;
    if (len < buf.length) buf = buf.subarray(0, len);
    this.#parse(buf, this.#pendingOffset, true);
  }

  #ensureFieldCapacity(n: number): void {
    const r = this.#record;
    if (n < r.starts.length) return;
    const cap = r.starts.length * 2;
    const starts = new Int32Array(cap);
    starts.set(r.starts);
    const ends = new Int32Array(cap);
    ends.set(r.ends);
    const flags = new Uint8Array(cap);
    flags.set(r.flags);
    r.starts = starts;
    r.ends = ends;
    r.flags = flags;
  }

  /** Hands the record whose fields are already in place to the callback. */
  #emit(fieldCount: number, rawStart: number, rawEnd: number, base: number, malformed: boolean): void {
    const rec = this.#record;
    rec.fieldCount = fieldCount;
    rec.rawStart = rawStart;
    rec.rawEnd = rawEnd;
    rec.offset = base + rawStart;
    rec.line = this.#line;
    rec.malformed = malformed;
    if (this.records++ === 0) this.firstOffset = rec.offset;
    this.#onRecord(rec);
  }

  /**
   * The fast path for the common record: no quote, no lone CR, and no space or tab at either end
   * of a field, before its LF or CRLF. Such a record needs no trimming or unquoting, so each byte costs one comparison (every byte above the
   * highest special byte is data). Returns the index after the record, or 0 to let the general
   * path take it (a special byte, or no LF in the buffer yet).
   */
  #simpleRecord(buf: Uint8Array, pos: number, n: number, base: number): number {
    const delim = this.#delimiter;
    const top = this.#dataAbove;
    const rec = this.#record;
    let starts = rec.starts;
    let ends = rec.ends;
    let nf = 0;
    let fieldStart = pos;
    let i = pos;
    let lineEnd = 1; // bytes of the line terminator: 1 for LF, 2 for CRLF
    for (;;) {
      if (i >= n) return 0;
      const c = buf[i];
      if (c > top) {
        i++;
        continue;
      }
      let end = c === delim || c === LF;
      if (c === CR) {
        if (i + 1 >= n || buf[i + 1] !== LF) return 0; // a lone CR, or CRLF cut by the buffer end
        end = true;
        lineEnd = 2;
      }
      if (end) {
        const last = i > fieldStart ? buf[i - 1] : 0;
        if (last === SPACE || last === TAB) return 0; // trailing blank: the general path trims
        if (nf === starts.length) {
          this.#ensureFieldCapacity(nf);
          starts = rec.starts;
          ends = rec.ends;
        }
        starts[nf] = fieldStart;
        ends[nf] = i;
        nf++;
        if (c !== delim) break;
        i++;
        fieldStart = i;
        continue;
      }
      if (c === QUOTE || ((c === SPACE || c === TAB) && i === fieldStart)) return 0;
      i++;
    }
    if (nf === 1 && i === pos) {
      // An empty line: skipped, but it is a physical line.
      this.#line += 1;
      this.linesConsumed = this.#line;
      return i + lineEnd;
    }
    rec.flags.fill(0, 0, nf);
    this.#emit(nf, pos, i, base, false);
    this.#line += 1;
    this.linesConsumed = this.#line;
    return i + lineEnd;
  }

  /** Parses complete records; returns the index of the first byte not consumed. */
  #parse(buf: Uint8Array, base: number, final: boolean): number {
    const n = buf.length;
    const delim = this.#delimiter;
    const rec = this.#record;
    const fastRecord = this.#fastRecord;
    rec.buf = buf;
    let pos = 0;
    while (pos < n) {
      if (base + pos >= this.#endOffset) {
        this.#done = true;
        return pos;
      }
      if (fastRecord !== undefined) {
        const next = fastRecord(buf, pos, n, base + pos, this.#line);
        if (next > 0) {
          if (this.records++ === 0) this.firstOffset = base + pos;
          this.#line += 1;
          this.linesConsumed = this.#line;
          pos = next;
          continue;
        }
      }
      const fast = this.#simpleRecord(buf, pos, n, base);
      if (fast > 0) {
        pos = fast;
        continue;
      }
      let i = pos;
      let nf = 0;
      let malformed = false;
      let newlines = 0;
      let rawEnd: number;
      let next: number;
      for (;;) {
        while (i < n && (buf[i] === SPACE || buf[i] === TAB)) i++;
        let s: number;
        let e: number;
        let flag = 0;
        if (i < n && buf[i] === QUOTE) {
          flag = FIELD_QUOTED;
          s = i + 1;
          let j = s;
          let close = -1;
          while (j < n) {
            const c = buf[j];
            if (c === QUOTE) {
              if (j + 1 < n && buf[j + 1] === QUOTE) {
                flag |= FIELD_ESCAPED;
                j += 2;
                continue;
              }
              if (j + 1 >= n && !final) break; // cannot tell `"` from `""` yet
              close = j;
              break;
            }
            if (c === LF) newlines++;
            j++;
          }
          if (close < 0) {
            if (!final) return pos; // incomplete record
            malformed = true; // unterminated quote: the record runs to the end
            e = n;
            i = n;
          } else {
            e = close;
            i = close + 1;
            while (i < n && (buf[i] === SPACE || buf[i] === TAB)) i++;
            if (i < n && buf[i] === CR && i + 1 >= n && !final) return pos; // CRLF or lone CR: not known yet
            const loneCr = i < n && buf[i] === CR && i + 1 < n && buf[i + 1] !== LF;
            if (i < n && (loneCr || (buf[i] !== delim && buf[i] !== LF && buf[i] !== CR))) {
              malformed = true; // text after the closing quote (a lone CR is text, not a line end)
              while (i < n && buf[i] !== delim && buf[i] !== LF && !(buf[i] === CR && buf[i + 1] === LF)) i++;
            }
          }
          while (s < e && (buf[s] === SPACE || buf[s] === TAB)) s++;
          while (e > s && (buf[e - 1] === SPACE || buf[e - 1] === TAB)) e--;
        } else {
          s = i;
          for (;;) {
            while (i < n) {
              const c = buf[i];
              if (c === delim || c === LF || c === CR) break;
              i++;
            }
            if (i < n && buf[i] === CR && i + 1 < n && buf[i + 1] !== LF) {
              i++; // a lone CR is data
              continue;
            }
            break;
          }
          e = i;
          while (e > s && (buf[e - 1] === SPACE || buf[e - 1] === TAB)) e--;
        }
        this.#ensureFieldCapacity(nf + 1);
        rec.starts[nf] = s;
        rec.ends[nf] = e;
        rec.flags[nf] = flag;
        nf++;
        if (i >= n) {
          if (!final) return pos;
          rawEnd = n;
          next = n;
          break;
        }
        const c = buf[i];
        if (c === delim) {
          i++;
          continue;
        }
        if (c === LF) {
          rawEnd = i;
          next = i + 1;
          break;
        }
        // CR
        if (i + 1 >= n) {
          if (!final) return pos;
          rawEnd = i;
          next = n;
          break;
        }
        rawEnd = i;
        next = i + 2; // CRLF (a lone CR was consumed as data above)
        break;
      }
      if (newlines > 0) this.sawQuotedNewline = true;
      const empty = nf === 1 && rec.flags[0] === 0 && rec.starts[0] === rec.ends[0];
      if (!empty) this.#emit(nf, pos, rawEnd, base, malformed);
      this.#line += 1 + newlines;
      this.linesConsumed = this.#line;
      pos = next;
    }
    return pos;
  }
}

/** The content of field `i` as a string, unescaping `""` when needed. */
export function fieldText(record: CsvRecord, i: number): string {
  const text = Buffer.from(record.buf.buffer, record.buf.byteOffset, record.buf.byteLength).toString(
    'utf8',
    record.starts[i],
    record.ends[i],
  );
  return record.flags[i] & FIELD_ESCAPED ? text.replaceAll('""', '"') : text;
}

/** The raw record text (without its line terminator). */
export function rawRecordText(record: CsvRecord, maxBytes = 1024 * 1024): string {
  const end = Math.min(record.rawEnd, record.rawStart + maxBytes);
  return Buffer.from(record.buf.buffer, record.buf.byteOffset, record.buf.byteLength).toString(
    'utf8',
    record.rawStart,
    end,
  );
}
