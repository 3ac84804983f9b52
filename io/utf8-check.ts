/**
 * The one encoding rule of every job (issue #10, section 6): a record whose bytes hold a NUL
 * (0x00) or are not valid UTF-8 is rejected as `bad_encoding`, never decoded with U+FFFD in its
 * place (that merged two different callsign profile ids into one folder) and never loaded with its
 * NUL (PostgreSQL refuses NUL in text and the whole COPY failed).
 *
 * "Valid UTF-8" is exactly what `new TextDecoder('utf-8', { fatal: true })` accepts (the WHATWG
 * Encoding Standard, RFC 3629): no overlong forms, no surrogates U+D800–DFFF, nothing above
 * U+10FFFF, no truncated sequence, no stray continuation byte. `test/utf8-check.test.ts` checks
 * the two agree on every edge case and on random bytes.
 */

/**
 * True when bytes [start, end) are valid UTF-8 without a NUL. Allocates nothing; ASCII costs one
 * comparison a byte.
 */
export function isCleanText(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    // ASCII other than NUL: 0x01–0x7F, i.e. c - 1 in [0, 0x7F) as an unsigned number.
    if ((bytes[i] - 1) >>> 0 < 0x7f) i++;
    else if ((i = utf8SequenceEnd(bytes, i, end)) < 0) return false;
  }
  return true;
}

/**
 * For a byte at `i` that is NUL or 0x80 and above: the index after the valid multi-byte UTF-8
 * sequence it starts, ending at or before `end`, or -1 (NUL, a stray continuation byte, an
 * overlong, a surrogate, above U+10FFFF, cut short). A scanner that already looks at every byte
 * (the interactions map fast path) calls it on the bytes ASCII cannot explain.
 */
export function utf8SequenceEnd(bytes: Uint8Array, i: number, end: number): number {
  const c = bytes[i];
  if (c < 0xc2) return -1; // NUL, a stray continuation byte, or an overlong 2-byte lead (C0, C1)
  if (c < 0xe0) return i + 1 < end && (bytes[i + 1] & 0xc0) === 0x80 ? i + 2 : -1;
  // The second byte's range is what rules out overlongs (E0, F0), surrogates (ED) and code points
  // above U+10FFFF (F4); the later bytes are any continuation byte.
  let lo = 0x80;
  let hi = 0xbf;
  let length: number;
  if (c < 0xf0) {
    length = 3;
    if (c === 0xe0) lo = 0xa0;
    else if (c === 0xed) hi = 0x9f;
  } else if (c < 0xf5) {
    length = 4;
    if (c === 0xf0) lo = 0x90;
    else if (c === 0xf4) hi = 0x8f;
  } else return -1; // F5–FF never appear in UTF-8
  if (i + length > end) return -1;
  const c1 = bytes[i + 1];
  if (c1 < lo || c1 > hi || (bytes[i + 2] & 0xc0) !== 0x80) return -1;
  if (length === 4 && (bytes[i + 3] & 0xc0) !== 0x80) return -1;
  return i + length;
}

const lenient = new TextDecoder('utf-8');

/**
 * Bytes [start, end) as text a rejects output can always store: invalid UTF-8 decoded as U+FFFD
 * (as TextDecoder does) and each NUL written as the two characters `\0`. It describes a reject;
 * it is not data, so the replacement loses nothing a reader needs.
 */
export function storableText(bytes: Uint8Array, start: number, end: number): string {
  return escapeNul(lenient.decode(bytes.subarray(start, end)));
}

/** `text` with each NUL written as the two characters `\0` (PostgreSQL text cannot hold NUL). */
export function escapeNul(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '\\0') : text;
}
