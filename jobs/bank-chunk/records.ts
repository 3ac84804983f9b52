/**
 * A CSV file as the chunker sees it: a sequence of records, each kept as the bytes it had in the
 * file (issue #11, X). A record ends at a line break outside double quotes (RFC 4180 quoting, as
 * the engine's decoder reads it, so the detector that reads the chunks splits them the same way);
 * its bytes include its terminator (`\n` or `\r\n`), and a last record without one gets `\n`.
 * Empty lines (and lines of only spaces or tabs, which the engine reads as empty) are not records:
 * they are counted. The first record is the header.
 */

import { CsvDecoder, FIELD_ESCAPED, type CsvRecord } from 'shardflow';

const LF = 10;
const CR = 13;
const QUOTE = 34;
const LF_BYTES = new Uint8Array([LF]);
const CRLF_BYTES = new Uint8Array([CR, LF]);

/**
 * Receives each data record (after the header): its bytes `buf[start, end)`, and the decoded
 * record. `buf` is the block pushed (or the decoder's own copy of a record split across blocks):
 * keep views of it only if the blocks pushed are never reused, as storage reads hand out fresh ones.
 */
export type RecordHandler = (buf: Uint8Array, start: number, end: number, record: CsvRecord) => void;

/**
 * Splits pushed bytes into records. Push contiguous blocks, each a buffer of its own that nobody
 * writes to again (the records handed out are views of it); call {@link RecordSplitter.end} at the
 * end of the input (not while following a file that may still grow: only terminated records come
 * out until then). Memory: the decoder's pending partial record.
 */
export class RecordSplitter {
  /** The header's bytes with its terminator; null until the first record. */
  header: Uint8Array | null = null;
  /** The header's field names (decoded, trimmed, a leading BOM removed). */
  headerNames: string[] = [];
  /** Data records seen (the header excluded). */
  records = 0;
  /** Bytes pushed so far. */
  bytes = 0;
  readonly #decoder: CsvDecoder;
  readonly #onRecord: RecordHandler;
  /** Physical lines of the records seen (a quoted line break makes a record two lines). */
  #recordLines = 0;
  #last = -1;
  #beforeLast = -1;
  #ended = false;

  constructor(source: string, onRecord: RecordHandler) {
    this.#onRecord = onRecord;
    this.#decoder = new CsvDecoder({ source, onRecord: (r) => this.#record(r) });
  }

  /** Empty (or blank) lines skipped so far. */
  get blankLines(): number {
    return this.#decoder.linesConsumed - this.#recordLines;
  }

  /** Splits `block`, the next bytes of the input. */
  push(block: Uint8Array): void {
    if (block.length === 0) return;
    if (block.length >= 2) this.#beforeLast = block[block.length - 2];
    else this.#beforeLast = this.#last;
    this.#last = block[block.length - 1];
    const offset = this.bytes;
    this.bytes += block.length;
    this.#decoder.push(block, offset);
  }

  /** The end of the input: the last record, terminated or not, comes out. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    // A last line without a line break gets one, so it ends as every record does; an open quote
    // still runs to the end, and the decoder's end() hands that record out.
    if (this.bytes > 0 && this.#last !== LF) this.#decoder.push(LF_BYTES, this.bytes);
    this.#decoder.end();
  }

  #record(r: CsvRecord): void {
    const buf = r.buf;
    let end = r.rawEnd;
    if (end < buf.length && buf[end] === LF) end += 1;
    else if (end + 1 < buf.length && buf[end] === CR && buf[end + 1] === LF) end += 2;
    this.#recordLines += 1 + (hasQuote(r) ? countLf(buf, r.rawStart, r.rawEnd) : 0);
    if (end > r.rawEnd) return this.#emit(buf, r.rawStart, end, r);
    // Only the record left open by an unterminated quote at the end: the decoder dropped the
    // input's last line break (which end() made sure of) from it, CR and all; put it back.
    const crlf = this.#last === CR || (this.#beforeLast === CR && this.#last === LF);
    const term = crlf ? CRLF_BYTES : LF_BYTES;
    const bytes = new Uint8Array(end - r.rawStart + term.length);
    bytes.set(buf.subarray(r.rawStart, end), 0);
    bytes.set(term, end - r.rawStart);
    this.#emit(bytes, 0, bytes.length, r);
  }

  #emit(buf: Uint8Array, start: number, end: number, r: CsvRecord): void {
    if (this.header === null) {
      this.header = buf.slice(start, end);
      this.headerNames = headerNames(r);
      return;
    }
    this.records++;
    this.#onRecord(buf, start, end, r);
  }
}

function hasQuote(r: CsvRecord): boolean {
  for (let i = 0; i < r.fieldCount; i++) if (r.flags[i] !== 0) return true;
  return false;
}

function countLf(buf: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(LF, start); i >= 0 && i < end; i = buf.indexOf(LF, i + 1)) n++;
  return n;
}

function headerNames(r: CsvRecord): string[] {
  const names: string[] = [];
  for (let i = 0; i < r.fieldCount; i++) names.push(new TextDecoder().decode(fieldBytes(r, i)));
  if (names.length > 0 && names[0].startsWith('\uFEFF')) names[0] = names[0].slice(1).trimStart();
  return names;
}

/**
 * Field `i` of `r` as the engine decodes it (unquoted, `""` as `"`, trimmed), as bytes; empty
 * when the record has fewer fields. A view of the record's buffer unless it had to unescape.
 */
export function fieldBytes(r: CsvRecord, i: number): Uint8Array {
  if (i >= r.fieldCount) return new Uint8Array(0);
  const view = r.buf.subarray(r.starts[i], r.ends[i]);
  if ((r.flags[i] & FIELD_ESCAPED) === 0) return view;
  const out = new Uint8Array(view.length);
  let n = 0;
  for (let j = 0; j < view.length; j++) {
    out[n++] = view[j];
    if (view[j] === QUOTE && view[j + 1] === QUOTE) j++;
  }
  return out.subarray(0, n);
}
