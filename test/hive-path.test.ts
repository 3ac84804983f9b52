/**
 * A key value that names a folder never leaves it: `..`, `/`, `\`, `%`, NUL and any non-ASCII byte
 * are escaped, the escape is injective and `decodeURIComponent` gives the value back.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHiveValue, hiveFolder } from '../io/hive-path.js';

test('hostile values stay one folder, distinct values stay distinct, and decode back', () => {
  const values = [
    '..',
    '.',
    '../etc',
    'a/b',
    'a\\b',
    '%2F',
    '%',
    'x y',
    'é',
    '😀',
    '\u0000',
    'plain-1.2_3',
    '',
    'A',
    'a',
  ];
  const escaped = values.map(escapeHiveValue);
  for (const [i, e] of escaped.entries()) {
    assert.ok(
      !e.includes('/') && !e.includes('\\') && e !== '.' && e !== '..',
      `${JSON.stringify(values[i])} → ${e}`,
    );
    assert.match(e, /^[A-Za-z0-9._%-]*$/);
    assert.equal(decodeURIComponent(e), values[i]);
  }
  assert.equal(new Set(escaped).size, values.length);
  assert.equal(hiveFolder('day', '2026-01-01'), 'day=2026-01-01');
  assert.equal(hiveFolder('user', 'a/b'), 'user=a%2Fb');
});
