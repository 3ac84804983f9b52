/**
 * The callsign map stage's fast path (issue #5: JSON.parse + JSON.stringify were ~45% of the map
 * time). Most lines of a feed are already in the normal form of normalize-record.ts:
 *
 *   {"metadata":{"profile_id":"…","session_id":"…"|null,"collection_id":"…"|null,…},"<body>":…}
 *
 * {@link scanNormalLine} reads such a line's bytes once, without building objects, checking that it
 * is valid JSON and that `JSON.stringify(normal form)` would give back exactly its bytes; it then
 * returns the few facts the aggregates and the report need, and the line's bytes are kept as they
 * are. Any doubt returns null and the caller takes the slow path (`normalizeRecord`), so the rules
 * live in one place. "Exactly its bytes" means: no whitespace outside strings; strings of printable
 * ASCII without escapes; numbers in the form JavaScript prints them back (no exponent, no trailing
 * fraction zero, at most 15 digits, not `-0`, not below 1e-6); no duplicate key in any object (at
 * most 64 keys an object) and no key starting with a digit (JavaScript moves integer-like keys to
 * the front); nesting at most 64 deep; top-level keys `metadata` then the body only;
 * the three ids first in metadata, as non-blank strings (or null for the session and collection
 * ids), and no other spelling of an id. So a line with a NUL byte or any byte above 0x7E is never
 * accepted here: the map stage's encoding check (`bad_encoding`) sees every such line.
 */

import type { InputKind } from './normalize-record.js';

/** What an accepted line contributes besides its bytes (see AcceptedRecord). */
export interface LineFacts {
  profileId: string;
  sessionId: string | null;
  collectionId: string | null;
  behaviourTypes: number;
  modelName: string | null;
  score: number | null;
  confidence: number | null;
}

const Q = 0x22; // "
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MAX_DEPTH = 64;
const MAX_KEYS = 64;

const enum Role {
  Plain,
  Top,
  Metadata,
  Behaviour,
  Device,
  Prediction,
}

// Scanner state, module-level: one scan at a time per thread, no allocation per line.
let b: Buffer = Buffer.alloc(0);
let i = 0;
let end = 0;
let bodyKey = 0; // 'b' (behaviour) or 'p' (prediction): the first byte of the body's key
let depth = 0;
/** Key ranges of the open objects, for the duplicate check: [start, length] pairs. */
const keys = new Int32Array(2 * MAX_KEYS * (MAX_DEPTH + 1));
let keyTop = 0;
// Facts collected while scanning.
let profile = '';
let session: string | null = null;
let collection: string | null = null;
let behaviourTypes = 0;
let modelName: string | null = null;
let score: number | null = null;
let confidence: number | null = null;
/** Start and end of the last string read (its content, without quotes). */
let strStart = 0;
let strEnd = 0;
/** The value of the last number read. */
let numValue = 0;
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`)); // exact up to 1e22

/** The kind of the last value read. */
const enum Kind {
  Fail,
  Str,
  Num,
  Null,
  Bool,
  Obj,
  Arr,
}

function isKey(start: number, length: number, text: string): boolean {
  if (length !== text.length) return false;
  for (let k = 0; k < length; k++) if (b[start + k] !== text.charCodeAt(k)) return false;
  return true;
}

/** True for `profile_id`, `profileId`, `session_id`, … (the six spellings of the three ids). */
function isIdName(start: number, length: number): boolean {
  return (
    isKey(start, length, 'profile_id') ||
    isKey(start, length, 'profileId') ||
    isKey(start, length, 'session_id') ||
    isKey(start, length, 'sessionId') ||
    isKey(start, length, 'collection_id') ||
    isKey(start, length, 'collectionId')
  );
}

/** Reads a string at i (b[i] is `"`): printable ASCII, no escapes. */
function scanString(): boolean {
  let j = i + 1;
  while (j < end) {
    const c = b[j];
    if (c === Q) {
      strStart = i + 1;
      strEnd = j;
      i = j + 1;
      return true;
    }
    // Escapes, control characters and non-ASCII: leave them to JSON.parse and JSON.stringify.
    if (c === 0x5c || c < 0x20 || c > 0x7e) return false;
    j++;
  }
  return false;
}

/** Reads a number at i in the form JavaScript prints it (see the file comment). */
function scanNumber(): boolean {
  let j = i;
  const negative = b[j] === 0x2d;
  if (negative) j++;
  let digits = 0;
  let zeroInt = false;
  let mantissa = 0;
  if (b[j] === 0x30) {
    zeroInt = true;
    j++;
  } else if (b[j] >= 0x31 && b[j] <= 0x39) {
    while (j < end && b[j] >= 0x30 && b[j] <= 0x39) {
      mantissa = mantissa * 10 + (b[j] - 0x30);
      j++;
      digits++;
    }
  } else return false;
  let fraction = 0;
  if (j < end && b[j] === 0x2e) {
    j++;
    const from = j;
    let leadingZeros = 0;
    let counting = zeroInt;
    while (j < end && b[j] >= 0x30 && b[j] <= 0x39) {
      if (counting && b[j] === 0x30) leadingZeros++;
      else counting = false;
      mantissa = mantissa * 10 + (b[j] - 0x30);
      j++;
      digits++;
    }
    fraction = j - from;
    if (fraction === 0 || b[j - 1] === 0x30 || leadingZeros >= 6) return false;
  } else if (zeroInt && negative) return false; // -0 prints as 0
  if (j < end && (b[j] === 0x65 || b[j] === 0x45 || (b[j] >= 0x30 && b[j] <= 0x39))) return false;
  if (digits > 15) return false;
  // At most 15 digits: the mantissa and 10^fraction are exact doubles, so one division rounds
  // correctly and gives the double JSON.parse gives (Clinger's fast path).
  numValue = (negative ? -mantissa : mantissa) / POW10[fraction];
  i = j;
  return true;
}

function scanLiteral(text: string): boolean {
  if (end - i < text.length) return false;
  for (let k = 0; k < text.length; k++) if (b[i + k] !== text.charCodeAt(k)) return false;
  i += text.length;
  return true;
}

function scanValue(role: Role): Kind {
  if (i >= end) return Kind.Fail;
  const c = b[i];
  if (c === Q) return scanString() ? Kind.Str : Kind.Fail;
  if (c === LBRACE) return scanObject(role) ? Kind.Obj : Kind.Fail;
  if (c === LBRACKET) return scanArray() ? Kind.Arr : Kind.Fail;
  if (c === 0x6e) return scanLiteral('null') ? Kind.Null : Kind.Fail;
  if (c === 0x74) return scanLiteral('true') ? Kind.Bool : Kind.Fail;
  if (c === 0x66) return scanLiteral('false') ? Kind.Bool : Kind.Fail;
  return scanNumber() ? Kind.Num : Kind.Fail;
}

function scanArray(): boolean {
  if (++depth > MAX_DEPTH) return false;
  i++;
  if (i < end && b[i] === RBRACKET) {
    i++;
    depth--;
    return true;
  }
  for (;;) {
    if (scanValue(Role.Plain) === Kind.Fail) return false;
    if (i >= end) return false;
    if (b[i] === COMMA) {
      i++;
      continue;
    }
    if (b[i] !== RBRACKET) return false;
    i++;
    depth--;
    return true;
  }
}

/** The value's text when it is a string not blank (spaces only) under JavaScript's trim. */
function nonBlankString(): string | null {
  for (let k = strStart; k < strEnd; k++) if (b[k] !== 0x20) return b.toString('latin1', strStart, strEnd);
  return null;
}

/**
 * The last string of each id slot and where its bytes were: a session's lines come together, so
 * the same id is usually seen again on the next line, and reusing its string (hash included) saves
 * a decode and a hash per map lookup.
 */
const last = Array.from({ length: 3 }, () => ({ text: null as string | null, buf: b, start: 0, length: -1 }));

/** {@link nonBlankString} for id slot `slot`, reusing the previous line's string when equal. */
function idString(slot: number): string | null {
  const prev = last[slot];
  const length = strEnd - strStart;
  if (length === prev.length) {
    let same = true;
    for (let k = 0; k < length && same; k++) same = b[strStart + k] === prev.buf[prev.start + k];
    if (same) return prev.text;
  }
  const text = nonBlankString();
  prev.text = text;
  prev.buf = b;
  prev.start = strStart;
  prev.length = length;
  return text;
}

function scanObject(role: Role): boolean {
  if (++depth > MAX_DEPTH) return false;
  i++;
  const base = keyTop;
  let n = 0;
  if (i < end && b[i] === RBRACE) {
    i++;
    depth--;
    return role !== Role.Top && role !== Role.Metadata;
  }
  for (;;) {
    if (i >= end || b[i] !== Q || !scanString()) return false;
    const ks = strStart;
    const kl = strEnd - strStart;
    if (n === MAX_KEYS) return false;
    for (let k = base; k < keyTop; k += 2) {
      if (keys[k + 1] !== kl) continue;
      let same = true;
      for (let m = 0; m < kl && same; m++) same = b[keys[k] + m] === b[ks + m];
      if (same) return false; // JSON.parse would keep one of them
    }
    // An integer-like key ("7", "10") moves to the front of a parsed object: not kept as it is.
    if (b[ks] >= 0x30 && b[ks] <= 0x39) return false;
    keys[keyTop++] = ks;
    keys[keyTop++] = kl;
    if (i >= end || b[i] !== COLON) return false;
    i++;
    // What the key means for the facts, and which values the normal form allows.
    let child = Role.Plain;
    switch (role) {
      case Role.Top:
        if (n === 0 && isKey(ks, kl, 'metadata')) child = Role.Metadata;
        else if (n === 1 && bodyKey === 0x62 && isKey(ks, kl, 'behaviour')) child = Role.Behaviour;
        else if (n === 1 && bodyKey === 0x70 && isKey(ks, kl, 'prediction')) child = Role.Prediction;
        else return false;
        break;
      case Role.Behaviour:
        child = Role.Device;
        break;
      case Role.Device:
        behaviourTypes++;
        break;
      case Role.Metadata:
        if (
          n === 0
            ? !isKey(ks, kl, 'profile_id')
            : n === 1
              ? !isKey(ks, kl, 'session_id')
              : n === 2
                ? !isKey(ks, kl, 'collection_id')
                : isIdName(ks, kl)
        )
          return false;
        break;
      default:
        break;
    }
    const kind = scanValue(child);
    if (kind === Kind.Fail) return false;
    if (role === Role.Metadata && n < 3) {
      // The ids: non-blank strings; null only for the session and collection ids.
      const id = kind === Kind.Str ? idString(n) : null;
      if (id === null && (n === 0 || kind !== Kind.Null)) return false;
      if (n === 0) profile = id as string;
      else if (n === 1) session = id;
      else collection = id;
    } else if (role === Role.Top && n === 0 && kind !== Kind.Obj) return false;
    else if (role === Role.Prediction) {
      if (isKey(ks, kl, 'model_name')) modelName = kind === Kind.Str ? nonBlankString() : null;
      else if (isKey(ks, kl, 'score')) score = kind === Kind.Num ? numValue : null;
      else if (isKey(ks, kl, 'confidence')) confidence = kind === Kind.Num ? numValue : null;
    }
    n++;
    if (i >= end) return false;
    if (b[i] === COMMA) {
      i++;
      continue;
    }
    if (b[i] !== RBRACE) return false;
    i++;
    keyTop = base;
    depth--;
    // Metadata needs its three ids; a missing one would be added by the normal form.
    return role !== Role.Metadata || n >= 3;
  }
}

/**
 * Facts of the line `buf[start, end)` when it is valid JSON already in normal form for `kind`, or
 * null (take the slow path). The returned object is reused by the next call.
 */
export function scanNormalLine(buf: Buffer, start: number, stop: number, kind: InputKind): LineFacts | null {
  b = buf;
  i = start;
  end = stop;
  depth = 0;
  keyTop = 0;
  bodyKey = kind === 'collections' ? 0x62 : 0x70;
  profile = '';
  session = null;
  collection = null;
  behaviourTypes = 0;
  modelName = null;
  score = null;
  confidence = null;
  if (i >= end || b[i] !== LBRACE || !scanObject(Role.Top) || i !== end || profile === '') return null;
  facts.profileId = profile;
  facts.sessionId = session;
  facts.collectionId = collection;
  facts.behaviourTypes = behaviourTypes;
  facts.modelName = modelName;
  facts.score = score;
  facts.confidence = confidence;
  return facts;
}

const facts: LineFacts = {
  profileId: '',
  sessionId: null,
  collectionId: null,
  behaviourTypes: 0,
  modelName: null,
  score: null,
  confidence: null,
};
