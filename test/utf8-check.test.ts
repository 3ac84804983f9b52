/**
 * isCleanText against its definition: `new TextDecoder('utf-8', { fatal: true })` accepts the bytes
 * and none of them is NUL. Every 1- and 2-byte string, every lead byte of a 3- and 4-byte sequence
 * with every second byte (where overlongs, surrogates and code points above U+10FFFF are decided),
 * sequences cut at every length, and many random strings, each inside a larger buffer whose bytes
 * outside [start, end) would change the answer if they were read.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeNul, isCleanText, storableText } from '../io/utf8-check.js';

const fatal = new TextDecoder('utf-8', { fatal: true });

function expected(bytes: Uint8Array): boolean {
  if (bytes.includes(0)) return false;
  try {
    fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Checks `bytes` as they are and as the middle of a buffer with a stray byte on each side. */
function agree(bytes: number[] | Uint8Array, pads = [0x00, 0x80, 0xff]): void {
  const b = Uint8Array.from(bytes);
  const want = expected(b);
  const hex = () => Buffer.from(b).toString('hex');
  assert.equal(isCleanText(b, 0, b.length), want, hex());
  for (const pad of pads) {
    const framed = new Uint8Array(b.length + 2);
    framed[0] = pad;
    framed.set(b, 1);
    framed[b.length + 1] = pad;
    assert.equal(isCleanText(framed, 1, b.length + 1), want, `${hex()} between ${pad}s`);
  }
}

/** A xorshift32 generator: the same bytes on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

test('utf8-check: every 1- and 2-byte string agrees with TextDecoder (fatal) plus the NUL rule', () => {
  agree([]);
  for (let a = 0; a < 256; a++) {
    agree([a]);
    for (let b = 0; b < 256; b++) agree([a, b]);
  }
});

test('utf8-check: every 3- and 4-byte lead with every second byte, continuations at their edges', () => {
  const tails = [0x00, 0x7f, 0x80, 0xbf, 0xc0];
  for (let lead = 0xe0; lead <= 0xff; lead++) {
    for (let second = 0; second < 256; second++) {
      for (const third of tails) {
        agree([lead, second, third], [0x80]);
        agree([lead, second, third, 0x41], [0x80]);
        for (const fourth of tails) agree([lead, second, third, fourth], [0x80]);
      }
    }
  }
});

test('utf8-check: the named edge cases', () => {
  const cases: [string, number[], boolean][] = [
    ['U+0080, the first 2-byte', [0xc2, 0x80], true],
    ['U+07FF, the last 2-byte', [0xdf, 0xbf], true],
    ['U+0800, the first 3-byte', [0xe0, 0xa0, 0x80], true],
    ['U+D7FF, below the surrogates', [0xed, 0x9f, 0xbf], true],
    ['U+D800, a surrogate', [0xed, 0xa0, 0x80], false],
    ['U+DFFF, a surrogate', [0xed, 0xbf, 0xbf], false],
    ['U+E000, above the surrogates', [0xee, 0x80, 0x80], true],
    ['U+FFFF, the last 3-byte', [0xef, 0xbf, 0xbf], true],
    ['U+10000, the first 4-byte', [0xf0, 0x90, 0x80, 0x80], true],
    ['U+10FFFF, the last code point', [0xf4, 0x8f, 0xbf, 0xbf], true],
    ['U+110000 (F4 90)', [0xf4, 0x90, 0x80, 0x80], false],
    ['F5, never a lead', [0xf5, 0x80, 0x80, 0x80], false],
    ['overlong NUL (C0 80)', [0xc0, 0x80], false],
    ['overlong "/" (C1 AF)', [0xc1, 0xaf], false],
    ['overlong 3-byte (E0 80 80)', [0xe0, 0x80, 0x80], false],
    ['overlong 3-byte (E0 9F BF)', [0xe0, 0x9f, 0xbf], false],
    ['overlong 4-byte (F0 8F BF BF)', [0xf0, 0x8f, 0xbf, 0xbf], false],
    ['a stray continuation byte', [0x61, 0x80, 0x62], false],
    ['a 2-byte cut at the end', [0x61, 0xc3], false],
    ['a 3-byte cut at the end', [0x61, 0xe2, 0x82], false],
    ['a 4-byte cut at the end', [0x61, 0xf0, 0x9f, 0x98], false],
    ['NUL', [0x61, 0x00, 0x62], false],
    ['é 😀 中', [...Buffer.from('é 😀 中')], true],
  ];
  for (const [name, bytes, clean] of cases) {
    assert.equal(expected(Uint8Array.from(bytes)), clean, `the case itself: ${name}`);
    assert.equal(isCleanText(Uint8Array.from(bytes), 0, bytes.length), clean, name);
    agree(bytes);
  }
});

test('utf8-check: 50,000 random strings, mostly valid text with a few broken bytes', () => {
  const next = rng(0x5eed);
  const pieces = [
    ...['a', 'é', '€', '中', '😀', '\u{10ffff}', '\u07ff', '\ue000'].map((s) => [...Buffer.from(s)]),
  ];
  let clean = 0;
  for (let n = 0; n < 50_000; n++) {
    const bytes: number[] = [];
    const length = next() % 24;
    const mode = n % 3; // 0: random bytes, 1: valid pieces, 2: valid pieces with one byte changed
    for (let k = 0; k < length; k++) {
      if (mode === 0) bytes.push(next() & 0xff);
      else bytes.push(...pieces[next() % pieces.length]);
    }
    if (mode === 2 && bytes.length > 0) bytes[next() % bytes.length] = next() & 0xff;
    agree(bytes, [0x80]);
    if (expected(Uint8Array.from(bytes))) clean++;
  }
  assert.ok(clean > 15_000 && clean < 45_000, `both answers are well exercised: ${clean} clean`);
});

test('utf8-check: a reject raw text is storable: U+FFFD for invalid bytes, \\0 for NUL', () => {
  const bytes = Buffer.from([0x61, 0x00, 0x62, 0xff, 0x63, 0xc3, 0xa9]);
  assert.equal(storableText(bytes, 0, bytes.length), 'a\\0b\ufffdcé');
  assert.equal(storableText(bytes, 2, 5), 'b\ufffdc');
  assert.equal(escapeNul('no nul'), 'no nul');
});
