/**
 * The JSON Lines split reader (io/jsonl-split-reader.ts) cut at every byte: two splits [0, k) and
 * [k, n) together read exactly the lines of the whole file, in order, whatever k — with CRLF,
 * blank lines, multi-byte UTF-8 and a too-long line among them, and a missing final line feed.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readJsonlSplit } from '../io/jsonl-split-reader.js';
import { tempDir } from './helpers/run-cli.js';

async function read(url: string, start: number, end: number): Promise<[string, boolean][]> {
  const lines: [string, boolean][] = [];
  const { lines: n } = await readJsonlSplit({
    url,
    start,
    end,
    maxLineBytes: 24,
    keepBytes: 5,
    onLine: (text, tooLong) => lines.push([text, tooLong]),
  });
  assert.equal(n, lines.length);
  return lines;
}

for (const [name, text] of [
  ['LF, CRLF, blank and UTF-8 lines', '{"a":1}\r\n\n{"ü":"日本"}\nxx\r\n\r\n{"b":2}\n'],
  ['no final line feed and a too-long line', '{"a":1}\n' + 'y'.repeat(40) + '\n{"c":"é"}'],
  ['a BOM at the start', '\ufeff{"a":1}\n{"b":2}\n'],
]) {
  test(`every cut of "${name}" reads the whole file's lines once`, async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'in.jsonl');
    const bytes = Buffer.from(text, 'utf8');
    await writeFile(file, bytes);
    const whole = await read(file, 0, bytes.length);
    assert.ok(whole.length >= 2);
    assert.ok(!whole.some(([l]) => l.includes('\r') || l.includes('\n') || l.startsWith('\ufeff')));
    for (let k = 0; k <= bytes.length; k++) {
      const parts = [...(await read(file, 0, k)), ...(await read(file, k, bytes.length))];
      assert.deepEqual(parts, whole, `cut at byte ${k}`);
    }
  });
}

test('a line longer than maxLineBytes is reported cut, with tooLong set', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'in.jsonl');
  await writeFile(file, `ok\n${'z'.repeat(100)}\nfine\n`);
  assert.deepEqual(await read(file, 0, Infinity), [
    ['ok', false],
    ['zzzzz', true],
    ['fine', false],
  ]);
});
