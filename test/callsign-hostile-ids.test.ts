/**
 * Profile ids become folder names (issue #5): `../../etc`, `a/b`, `..`, `.`, `%41`, back-slashes,
 * spaces and non-ASCII text must each land in one folder directly under `labels/` and
 * `predictions/`, and percent-decoding the folder name must give the id back. A blank or missing
 * profile id is a `missing_profile_id` reject counted in the report; a line over 1 MiB is a
 * `line_too_long` reject whose raw text is cut.
 */

import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { tempDir } from './helpers/run-cli.js';
import { readTree, rejectRows, runCallsignCli } from './helpers/callsign.js';

const HOSTILE = [
  '../../etc',
  'a/b',
  '..',
  '.',
  '%41',
  'A',
  'a\\b',
  'x y',
  'Zürich-日本語',
  '/abs',
  'nul\u0000byte',
  '-',
];

test('hostile profile ids stay inside --out and decode back to themselves', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'out');
  const lines = (body: string) =>
    HOSTILE.map((id, i) => JSON.stringify({ metadata: { profile_id: id, session_id: `s${i}` }, [body]: {} }));
  const c = [...lines('behaviour'), '{"metadata":{"profile_id":"","session_id":"s"}}', '{"metadata":{}}'];
  const p = [...lines('prediction'), '{"metadata":{"profileId":"   "}}'];
  await writeFile(join(dir, 'c.jsonl'), `${c.join('\n')}\n`);
  await writeFile(join(dir, 'p.jsonl'), `${p.join('\n')}\n`);
  const summary = await runCallsignCli(join(dir, 'c.jsonl'), join(dir, 'p.jsonl'), out);

  for (const [top, file] of [
    ['labels', 'collections.jsonl'],
    ['predictions', 'predictions.jsonl'],
  ]) {
    const folders = await readdir(join(out, top));
    assert.equal(folders.length, HOSTILE.length, `${top}: one folder per id`);
    const decoded = folders.map((f) => {
      assert.match(f, /^profile-id=[A-Za-z0-9._%-]+$/, `${top}/${f}: only safe bytes`);
      assert.notEqual(f.slice('profile-id='.length), '..');
      assert.notEqual(f.slice('profile-id='.length), '.');
      return decodeURIComponent(f.slice('profile-id='.length));
    });
    assert.deepEqual(decoded.sort(), [...HOSTILE].sort(), `${top}: folder names decode to the ids`);
    for (const f of folders) {
      const path = resolve(out, top, f, file);
      assert.ok(path.startsWith(resolve(out, top) + '/'), `${path} is inside ${top}/`);
      const [line] = (await readFile(path, 'utf8')).trim().split('\n');
      const id = (JSON.parse(line) as { metadata: { profile_id: string } }).metadata.profile_id;
      assert.equal(
        id,
        decodeURIComponent(f.slice('profile-id='.length)),
        `${f} holds its own profile's lines`,
      );
    }
  }
  const tree = await readTree(out);
  for (const path of tree.keys()) {
    const segments = path.split('/');
    assert.ok(!segments.includes('..') && !segments.includes('.'), `${path} has no '.' or '..' segment`);
  }
  assert.equal(summary.rejected_by_reason.missing_profile_id, 3);
  const report = JSON.parse((tree.get('validation/report.json') as Buffer).toString()) as {
    missing_ids: Record<string, { profile_id: number }>;
  };
  assert.equal(report.missing_ids.collections.profile_id, 2);
  assert.equal(report.missing_ids.predictions.profile_id, 1);
  const rejects = await rejectRows(tree);
  assert.deepEqual(
    rejects.map((r) => [r.source, r.line, r.reason]),
    [
      ['c.jsonl', HOSTILE.length + 1, 'missing_profile_id'],
      ['c.jsonl', HOSTILE.length + 2, 'missing_profile_id'],
      ['p.jsonl', HOSTILE.length + 1, 'missing_profile_id'],
    ],
  );
});

test('a line over 1 MiB is a line_too_long reject with its raw text cut, and the next line is read', async (t) => {
  const dir = await tempDir(t);
  const long = JSON.stringify({ metadata: { profile_id: 'big' }, pad: 'x'.repeat(1024 * 1024) });
  const ok = '{"metadata":{"profile_id":"p","session_id":"s"},"behaviour":{"mobile":{"touch":[]}}}';
  await writeFile(join(dir, 'c.jsonl'), `${ok}\n${long}\n${ok}\n`);
  await writeFile(join(dir, 'p.jsonl'), `${long}`);
  // Small splits: the long line crosses several of them.
  const summary = await runCallsignCli(join(dir, 'c.jsonl'), join(dir, 'p.jsonl'), join(dir, 'out'), [
    '--split-size',
    '300KiB',
  ]);
  assert.equal(summary.rejected_by_reason.line_too_long, 2);
  assert.equal(summary.rows_valid, 2);
  const rejects = await rejectRows(await readTree(join(dir, 'out')));
  assert.deepEqual(
    rejects.map((r) => [r.source, r.line, r.reason]),
    [
      ['c.jsonl', 2, 'line_too_long'],
      ['p.jsonl', 1, 'line_too_long'],
    ],
  );
  for (const r of rejects) assert.ok(String(r.raw).length <= 4096 && String(r.raw).startsWith('{"metadata"'));
  const labels = await readFile(join(dir, 'out', 'labels', 'profile-id=p', 'collections.jsonl'), 'utf8');
  assert.equal(
    labels,
    `${ok}\n${ok}\n`.replace(/"session_id":"s"/g, '"session_id":"s","collection_id":null'),
  );
});
