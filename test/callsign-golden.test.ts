/**
 * Golden fixtures of the callsign job (issue #5): each folder of test/fixtures/callsign/ holds a
 * hand-written `input/` pair and the `expected/` outputs beside it — every profile file, the
 * aggregated rows as JSON Lines, the report, and the rejects as JSON Lines — compared byte for byte.
 * The Parquet outputs must hold the same rows as their JSON Lines twins. Each fixture also runs with
 * tiny splits and odd partition counts: the outputs may not depend on how the input is cut.
 */

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, tempDir } from './helpers/run-cli.js';
import { parquetRows, readTree, rejectRows, runCallsignCli } from './helpers/callsign.js';

const ROOT = join(FIXTURES, 'callsign');
const LAYOUTS: [string, string[]][] = [
  ['default splits and partitions', []],
  ['64-byte splits, 3 partitions, 1 worker', ['--split-size', '64', '--partitions', '3', '--workers', '1']],
];

for (const name of readdirSync(ROOT)) {
  for (const [layout, flags] of LAYOUTS) {
    test(`golden ${name}: ${layout}`, async (t) => {
      const out = await tempDir(t);
      const input = join(ROOT, name, 'input');
      await runCallsignCli(join(input, 'collections.jsonl'), join(input, 'predictions.jsonl'), out, [
        '--workers',
        '2',
        ...flags,
      ]);
      const expected = await readTree(join(ROOT, name, 'expected'));
      const actual = await readTree(out);
      const expectedRejects = (expected.get('rejects.jsonl') ?? Buffer.alloc(0))
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expected.delete('rejects.jsonl');
      const textFiles = [...actual.keys()].filter((p) => !p.endsWith('.parquet'));
      assert.deepEqual(textFiles, [...expected.keys()], 'the same files');
      for (const [path, bytes] of expected)
        assert.equal(actual.get(path)?.toString(), bytes.toString(), path);
      assert.deepEqual(await rejectRows(actual), expectedRejects, 'rejects');
      const jsonRows = (expected.get('aggregated-result/data.jsonl') as Buffer)
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const parquet = (await parquetRows(actual.get('aggregated-result/data.parquet') as Buffer)).map(
        (r) => ({
          ...r,
          collections: Number(r.collections),
          failed_keystroke_predictions: Number(r.failed_keystroke_predictions),
        }),
      );
      assert.deepEqual(parquet, jsonRows, 'data.parquet holds the rows of data.jsonl');
    });
  }
}
