/**
 * The error catalogue stays true: every `'E_…'` code literal in the source tree (outside test/)
 * is listed in ERROR_CODES with a one-line meaning, and a ShardflowError carries `retryable`.
 */

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ERROR_CODES, InputError, ShardflowError, UsageError, errorForThread } from '../errors.js';

/** The repository root (this file runs from dist/test/). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SKIP = new Set(['node_modules', 'dist', 'test', '.git']);

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || SKIP.has(e.name)) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

test('every error code in the source tree is in ERROR_CODES, each with a one-line meaning', async () => {
  const files = await sourceFiles(ROOT);
  assert.ok(files.length > 20, `found ${files.length} source files under ${ROOT}`);
  const missing: string[] = [];
  let found = 0;
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/['"`](E_[A-Z0-9_]+)['"`]/g)) {
      found++;
      if (!Object.hasOwn(ERROR_CODES, m[1])) missing.push(`${m[1]} (${relative(ROOT, file)})`);
    }
  }
  assert.ok(found > 20, `${found} code literals found`);
  assert.deepEqual(missing, [], 'codes used but not in ERROR_CODES');
  for (const [code, meaning] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^E_[A-Z0-9_]+$/);
    assert.ok(meaning.length > 0 && !meaning.includes('\n'), `${code}: one line`);
  }
  assert.ok(Object.isFrozen(ERROR_CODES));
});

test('retryable is false unless set, and survives the trip a worker error makes', () => {
  assert.equal(new ShardflowError('E_S3', 'x').retryable, false);
  assert.equal(new UsageError('x').retryable, false);
  assert.equal(new InputError('E_INPUT_NOT_FOUND', 'x').retryable, false);
  const e = new ShardflowError('E_S3_UNAVAILABLE', 'slow down', { retryable: true, cause: new Error('503') });
  assert.equal(e.retryable, true);
  const crossed = structuredClone(errorForThread(e)) as Record<string, unknown>;
  assert.deepEqual(
    [crossed.code, crossed.exitCode, crossed.retryable, crossed.message],
    ['E_S3_UNAVAILABLE', 1, true, 'slow down'],
  );
  assert.equal(new UsageError('x', { code: 'E_OUT_NOT_DIR' }).code, 'E_OUT_NOT_DIR');
});
