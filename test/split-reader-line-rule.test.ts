import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fieldText, type CsvRecord } from '../io/csv-decoder.js';
import { readCsvHeader } from '../io/csv-header.js';
import { readCsvSplit, type SplitReadResult } from '../io/split-reader.js';
import { planSplitRanges } from '../partitioners/plan-splits.js';
import { tempDir } from './helpers/run-cli.js';

/** A record as the reader owns it: global line = first line of its split + its line in the split. */
interface Owned {
  offset: number;
  line: number;
  fields: string[];
  malformed: boolean;
}

interface SplitRead {
  records: Owned[];
  result: SplitReadResult;
}

async function readSplit(path: string, start: number, end: number, aligned: boolean, blockBytes?: number): Promise<SplitRead> {
  const records: Owned[] = [];
  const result = await readCsvSplit({
    path,
    start,
    end,
    alignedStart: aligned,
    blockBytes,
    onRecord: (rec: CsvRecord) => {
      const fields: string[] = [];
      for (let i = 0; i < rec.fieldCount; i++) fields.push(fieldText(rec, i));
      records.push({ offset: rec.offset, line: rec.line, fields, malformed: rec.malformed });
    },
  });
  return { records, result };
}

/**
 * Reads `[dataStart, size)` cut at `cuts` as consecutive splits and returns the union of the
 * records, with global line numbers computed the way the job does (each split starts after the
 * lines the splits before it consumed).
 */
async function readAsSplits(
  path: string,
  dataStart: number,
  size: number,
  cuts: readonly number[],
  blockBytes?: number,
): Promise<{ records: Owned[]; splits: SplitRead[] }> {
  const bounds = [dataStart, ...cuts, size];
  const splits: SplitRead[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    splits.push(await readSplit(path, bounds[i], bounds[i + 1], i === 0, blockBytes));
  }
  const records: Owned[] = [];
  let line = 0;
  for (const s of splits) {
    for (const r of s.records) records.push({ ...r, line: line + r.line });
    line += s.result.lines;
  }
  return { records, splits };
}

// No quoted line breaks (those make a file unsplittable); everything else that is tricky.
const TEXT =
  'interaction_id,user_id,note\r\n' +
  '1,10,"quoted, with comma"\r\n' +
  '2, 20 ,plain\n' +
  '\n' +
  '3,30,"say ""hi"""\n' +
  '\r\n' +
  '\n' +
  '4,40,é€😀\r\n' +
  '5,50,"a,b,c"   \n' +
  '6,60\n' +
  '7,70,x,extra\n' +
  '8,80,"last, no newline"';

async function fixture(t: Parameters<typeof tempDir>[0], text: string): Promise<{ path: string; dataStart: number; size: number }> {
  const dir = await tempDir(t, 'shardflow-split-');
  const path = join(dir, 'in.csv');
  await writeFile(path, text);
  const header = await readCsvHeader(path, ['interaction_id', 'user_id']);
  return { path, dataStart: header.dataStart, size: Buffer.byteLength(text) };
}

test('one whole split reads every data record with physical line indices', async (t) => {
  const { path, dataStart, size } = await fixture(t, TEXT);
  assert.equal(dataStart, Buffer.byteLength('interaction_id,user_id,note\r\n'));
  const { records, splits } = await readAsSplits(path, dataStart, size, []);
  assert.deepEqual(
    records.map((r) => [r.line, r.fields[0]]),
    [
      [0, '1'],
      [1, '2'],
      [3, '3'],
      [6, '4'],
      [7, '5'],
      [8, '6'],
      [9, '7'],
      [10, '8'],
    ],
  );
  assert.deepEqual(records[0].fields, ['1', '10', 'quoted, with comma']);
  assert.deepEqual(records[6].fields, ['7', '70', 'x', 'extra']);
  assert.equal(splits[0].result.lines, 11);
  assert.equal(splits[0].result.records, 8);
  assert.equal(splits[0].result.firstOffset, dataStart);
  assert.equal(splits[0].result.sawQuotedNewline, false);
});

test('two splits cut at every boundary own every record exactly once', async (t) => {
  const { path, dataStart, size } = await fixture(t, TEXT);
  const whole = (await readAsSplits(path, dataStart, size, [])).records;
  for (const blockBytes of [undefined, 3]) {
    for (let cut = dataStart; cut <= size; cut++) {
      const { records, splits } = await readAsSplits(path, dataStart, size, [cut], blockBytes);
      const label = `cut at ${cut}, block ${blockBytes ?? 'default'}`;
      assert.deepEqual(records, whole, label);
      assert.equal(splits[0].result.records + splits[1].result.records, whole.length, label);
      for (const s of splits) {
        assert.equal(s.result.firstOffset, s.records.length > 0 ? s.records[0].offset : -1, label);
      }
      // Each split owns exactly the records that start inside it.
      assert.ok(
        splits[0].records.every((r) => r.offset < cut),
        label,
      );
      assert.ok(
        splits[1].records.every((r) => r.offset >= cut),
        label,
      );
    }
  }
});

test('planSplitRanges at every small size: contiguous ranges whose splits own every record once', async (t) => {
  const { path, dataStart, size } = await fixture(t, TEXT);
  const whole = (await readAsSplits(path, dataStart, size, [])).records;
  for (let splitBytes = 1; splitBytes <= size - dataStart + 1; splitBytes++) {
    const ranges = planSplitRanges(size, splitBytes, dataStart);
    assert.equal(ranges[0].start, dataStart);
    assert.equal(ranges.at(-1)!.end, size);
    for (let i = 1; i < ranges.length; i++) assert.equal(ranges[i].start, ranges[i - 1].end, 'no gap, no overlap');
    assert.ok(
      ranges.every((r) => r.end > r.start),
      'no empty range',
    );
    const cuts = ranges.slice(1).map((r) => r.start);
    const { records } = await readAsSplits(path, dataStart, size, cuts, 4);
    assert.deepEqual(records, whole, `splitBytes ${splitBytes} (${ranges.length} splits)`);
  }
});

test('planSplitRanges: an empty data section is one empty range; bad sizes are refused', () => {
  assert.deepEqual(planSplitRanges(30, 8, 30), [{ start: 30, end: 30 }]);
  assert.deepEqual(planSplitRanges(100, 1000, 10), [{ start: 10, end: 100 }]);
  assert.throws(() => planSplitRanges(100, 0), RangeError);
  assert.throws(() => planSplitRanges(100, 1.5), RangeError);
});

test('a quoted line break is reported by some split at every cut, so the job can re-read the file whole', async (t) => {
  const text = 'interaction_id,user_id,note\n1,10,a\n2,20,"two\nlines"\n3,30,c\n';
  const { path, dataStart, size } = await fixture(t, text);
  const whole = await readAsSplits(path, dataStart, size, []);
  assert.equal(whole.splits[0].result.sawQuotedNewline, true);
  assert.deepEqual(
    whole.records.map((r) => [r.line, r.fields[2]]),
    [
      [0, 'a'],
      [1, 'two\nlines'],
      [3, 'c'],
    ],
  );
  for (let cut = dataStart; cut <= size; cut++) {
    const { splits } = await readAsSplits(path, dataStart, size, [cut]);
    assert.ok(
      splits.some((s) => s.result.sawQuotedNewline),
      `cut at ${cut}: no split saw the quoted line break`,
    );
  }
});
