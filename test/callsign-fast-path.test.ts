/**
 * The callsign map stage's fast path (jobs/callsign/normal-line-scan.ts) against the slow path it
 * stands in for: whenever `scanNormalLine` accepts a line, `normalizeRecord` must accept it too,
 * with the same facts and a normal form of exactly the line's bytes. Checked on generated data
 * (where nearly every line must take the fast path), on every prefix of a normal line, and on
 * variants chosen to trip it: numbers JavaScript prints differently, escapes, whitespace,
 * duplicate and integer-like keys, id spellings, non-ASCII text, and a NUL or a high byte at every
 * position of a normal line.
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateCallsign } from '../jobs/callsign/generate.js';
import { scanNormalLine } from '../jobs/callsign/normal-line-scan.js';
import { normalizeRecord, type InputKind } from '../jobs/callsign/normalize-record.js';
import { tempDir } from './helpers/run-cli.js';

/** Checks one line; returns true when the fast path took it. */
function agree(kind: InputKind, line: string): boolean {
  const buf = Buffer.from(line, 'utf8');
  const fast = scanNormalLine(buf, 0, buf.length, kind);
  if (fast === null) return false;
  const slow = normalizeRecord(kind, line);
  assert.ok(slow.ok, `the fast path accepted a line the slow path rejects: ${line}`);
  assert.equal(slow.line, line, 'the fast path kept a line that is not in normal form');
  const facts = {
    profileId: slow.profileId,
    sessionId: slow.sessionId,
    collectionId: slow.collectionId,
    behaviourTypes: slow.behaviourTypes,
    modelName: slow.modelName,
    score: slow.score,
    confidence: slow.confidence,
  };
  assert.deepEqual({ ...fast }, facts, line);
  return true;
}

test('generated lines: nearly all take the fast path, and every one agrees with the slow path', async (t) => {
  const dir = await tempDir(t);
  await generateCallsign({ profiles: 40, sessionsPerProfile: 10, out: dir, seed: 7 });
  for (const kind of ['collections', 'predictions'] as const) {
    const lines = (await readFile(join(dir, `${kind}.jsonl`), 'utf8')).split('\n');
    let fast = 0;
    for (const line of lines) if (agree(kind, line)) fast++;
    assert.ok(fast > 0.9 * lines.length, `${kind}: ${fast} of ${lines.length} lines took the fast path`);
  }
});

const C = '{"metadata":{"profile_id":"p1","session_id":"s1","collection_id":"c1","timestamp":1700000000000}';
const P = '{"metadata":{"profile_id":"p1","session_id":"s1","collection_id":"c1"}';

test('every prefix of a normal line is left to the slow path', () => {
  const line = `${C},"behaviour":{"mobile":{"touch":[{"x":1,"y":0.5,"p":-0.25,"ok":true,"n":null}],"swipe":[]}}}`;
  assert.equal(agree('collections', line), true);
  for (let k = 0; k < line.length; k++) assert.equal(agree('collections', line.slice(0, k)), false);
});

test('variants that JSON.stringify would print differently are left to the slow path', () => {
  const fastOnes: [InputKind, string][] = [
    ['collections', `${C},"behaviour":{"mobile":{"touch":[{"v":0.000001},{"v":123456789012345}]}}}`],
    ['predictions', `${P},"prediction":{"model_name":"swipe_model","score":0.5,"confidence":-0.75}}`],
    ['predictions', `${P},"prediction":{"model_name":" ","score":"0.5","confidence":null}}`],
    ['predictions', `{"metadata":{"profile_id":"p","session_id":null,"collection_id":null}}`],
    ['collections', `${C},"behaviour":{"__proto__":{"a":1},"mobile":{}}}`],
  ];
  for (const [kind, line] of fastOnes) assert.equal(agree(kind, line), true, line);
  const slowOnes: [InputKind, string][] = [
    ['collections', `${C},"behaviour":{"v":1.0}}`],
    ['collections', `${C},"behaviour":{"v":1e5}}`],
    ['collections', `${C},"behaviour":{"v":1E5}}`],
    ['collections', `${C},"behaviour":{"v":-0}}`],
    ['collections', `${C},"behaviour":{"v":0.0000001}}`],
    ['collections', `${C},"behaviour":{"v":1234567890123456}}`],
    ['collections', `${C},"behaviour":{"v":12345678901234567890}}`],
    ['collections', `${C},"behaviour":{"v":01}}`],
    ['collections', `${C},"behaviour":{"v":"a\\/b"}}`],
    ['collections', `${C},"behaviour":{"v":"\\u0041"}}`],
    ['collections', `${C},"behaviour":{"v":"é"}}`],
    ['collections', `${C}, "behaviour":{}}`],
    ['collections', `${C},"behaviour":{}} `],
    ['collections', `${C},"behaviour":{"a":1,"a":2}}`],
    ['collections', `${C},"behaviour":{"b":1,"10":2}}`],
    ['collections', `${C},"behaviour":{}}x`],
    ['collections', `${C},"prediction":{}}`],
    ['collections', `${C},"behaviour":{},"extra":1}`],
    ['collections', `{"behaviour":{},${C.slice(1)}}`],
    ['collections', `{"metadata":{"session_id":"s","profile_id":"p","collection_id":"c"}}`],
    ['collections', `{"metadata":{"profile_id":"p","session_id":"s"}}`],
    ['collections', `{"metadata":{"profile_id":"p","session_id":"s","collection_id":"c","profileId":"q"}}`],
    ['collections', `{"metadata":{"profile_id":" ","session_id":"s","collection_id":"c"}}`],
    ['collections', `{"metadata":{"profile_id":"p","session_id":"","collection_id":"c"}}`],
    ['collections', `{"metadata":{"profile_id":7,"session_id":"s","collection_id":"c"}}`],
    ['collections', `{"metadata":{"profile_id":"p","session_id":"s","collection_id":"c","k":1,"k":1}}`],
    [
      'collections',
      `{"metadata":{"profile_id":"p","session_id":"s","collection_id":"c"},"behaviour":${'['.repeat(70)}${']'.repeat(70)}}`,
    ],
    ['predictions', `${P},"prediction":{"model_name":"swipe_model","score":0.5,"score":0.7}}`],
    ['predictions', `${P},"behaviour":{}}`],
    [
      'predictions',
      '{"metadata":{"profile_id":"p","session_id":"s","collection_id":"c"},"prediction":{"a":[1,]}}',
    ],
  ];
  for (const [kind, line] of slowOnes) assert.equal(agree(kind, line), false, line);
});

test('scores read by the fast path are the doubles JSON.parse gives', () => {
  let seed = 1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let fast = 0;
  for (let k = 0; k < 20_000; k++) {
    const digits = 1 + Math.floor(rnd() * 15);
    const mantissa = Math.floor(rnd() * 10 ** digits);
    const v = (mantissa / 10 ** Math.floor(rnd() * (digits + 3))) * (rnd() < 0.3 ? -1 : 1);
    const c = Math.round(rnd() * 1e6) / 1e6;
    const line = `${P},"prediction":{"model_name":"m","score":${JSON.stringify(v)},"confidence":${c}}}`;
    if (agree('predictions', line)) fast++;
  }
  assert.ok(fast > 5_000, `${fast} of 20,000 lines took the fast path`);
});

test('a NUL or a byte above 0x7E anywhere in a normal line is left to the slow path (bad_encoding)', () => {
  const line = Buffer.from(
    `${C},"behaviour":{"mobile":{"touch":[{"x":1,"y":0.5,"ok":true,"n":null,"t":"abc"}],"swipe":[]}}}`,
  );
  assert.notEqual(scanNormalLine(line, 0, line.length, 'collections'), null, 'the line itself is normal');
  for (const byte of [0x00, 0x7f, 0x80, 0xc3, 0xff]) {
    for (let k = 0; k < line.length; k++) {
      const changed = Buffer.from(line);
      changed[k] = byte;
      assert.equal(scanNormalLine(changed, 0, changed.length, 'collections'), null, `byte ${byte} at ${k}`);
    }
  }
});
