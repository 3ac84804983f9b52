/**
 * The README's "Write your own job" shows examples/customer-revenue.ts; the docs stay true only
 * if the code shown is the code that is tested (test/examples.test.ts).
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

const ROOT = new URL('../../', import.meta.url);

test('the README shows examples/customer-revenue.ts as it is, but for its header comment', async () => {
  const readme = await readFile(new URL('README.md', ROOT), 'utf8');
  const example = await readFile(new URL('examples/customer-revenue.ts', ROOT), 'utf8');
  const section = readme.slice(readme.indexOf('## Write your own job'));
  const shown = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(shown !== undefined, 'the section has a ts code block');
  assert.equal(shown, example.slice(example.indexOf('import ')));
});
