import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fieldText, type CsvRecord } from '../io/csv-decoder.js';
import { readCsvHeader } from '../io/csv-header.js';
import { readCsvSplit, type SplitReadResult } from '../io/split-reader.js';
import { planSplitRanges } from '../partitioners/plan-splits.js';
import { readParts, runInteractionsCli, tempDir, type Row, type RunSummary } from './helpers/run-cli.js';

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

async function readSplit(
  path: string,
  start: number,
  end: number,
  aligned: boolean,
  blockBytes?: number,
): Promise<SplitRead> {
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

async function fixture(
  t: Parameters<typeof tempDir>[0],
  text: string,
): Promise<{ path: string; dataStart: number; size: number }> {
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
    for (let i = 1; i < ranges.length; i++)
      assert.equal(ranges[i].start, ranges[i - 1].end, 'no gap, no overlap');
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

// ---- End to end: records that cross the reader's 4 MiB blocks ----

const BLOCK = 4 * 1024 * 1024; // readCsvSplit's default block size
const HEADER = 'interaction_id,user_id,product_id,action,timestamp\n';
const userOf = (id: number): number => (id % 1000) + 1;
const productOf = (id: number): number => (id % 97) + 1;
const row = (id: number, action: string, pad = ''): string =>
  `${id},${userOf(id)},${productOf(id)},${pad}${action},2024-01-01 00:00:00\n`;

/**
 * More than two full blocks of rows with action `aaaa`, except one `bbbb` placed exactly one block
 * after the first row's action: a reader that kept views of its reused block would see `bbbb`
 * where it once saw `aaaa`. Returns the text, the row count and the id of the `bbbb` row.
 */
function blockCrossingCsv(): { text: string; rows: number; bbbbId: number } {
  const parts = [HEADER];
  let length = HEADER.length;
  let id = 1;
  const target = HEADER.length + row(1, 'aaaa').indexOf('aaaa') + BLOCK;
  while (length + row(id, 'aaaa').length + 200 <= target) {
    parts.push(row(id, 'aaaa'));
    length += parts[parts.length - 1].length;
    id++;
  }
  // Pad one row with spaces (trimmed away) so that the next row's action starts at `target`.
  const nextPrefix = `${id + 1},${userOf(id + 1)},${productOf(id + 1)},`;
  const pad = target - length - row(id, 'aaaa').length - nextPrefix.length;
  parts.push(row(id, 'aaaa', ' '.repeat(pad)));
  length += parts[parts.length - 1].length;
  id++;
  assert.equal(length + nextPrefix.length, target);
  const bbbbId = id;
  parts.push(row(id++, 'bbbb'));
  while (length < 2 * BLOCK + 400_000) {
    parts.push(row(id, 'aaaa'));
    length += parts[parts.length - 1].length;
    id++;
  }
  return { text: parts.join(''), rows: id - 1, bbbbId };
}

interface BlockRun {
  rows: number;
  bbbbId: number;
  summary: RunSummary;
  clean: Row[];
}
let blockRun: Promise<BlockRun> | undefined;

/** One CLI run over the block-crossing file, one split, shared by the tests below. */
function runBlockCrossing(t: Parameters<typeof tempDir>[0]): Promise<BlockRun> {
  blockRun ??= (async () => {
    const dir = await tempDir(t, 'shardflow-blocks-');
    const { text, rows, bbbbId } = blockCrossingCsv();
    const input = join(dir, 'blocks.csv');
    await writeFile(input, text);
    const out = join(dir, 'out');
    const summary = await runInteractionsCli([input], out, [
      '--split-size',
      '64MiB',
      '--outputs',
      'clean,rejects',
    ]);
    return { rows, bbbbId, summary, clean: await readParts(join(out, 'clean')) };
  })();
  return blockRun;
}

test('end to end: rows that cross the 4 MiB read blocks of one split keep their bytes', async (t) => {
  const { rows, summary, clean } = await runBlockCrossing(t);
  assert.equal(summary.splits, 1);
  assert.ok(rows > 200_000);
  assert.equal(summary.rows_read, rows);
  assert.deepEqual(summary.rejected_by_reason, {
    malformed_row: 0,
    bad_encoding: 0,
    missing_field: 0,
    bad_integer: 0,
    zero_id: 0,
    bad_timestamp: 0,
    duplicate_id: 0,
  });
  assert.equal(clean.length, rows);
  clean.forEach((r, i) => {
    const id = i + 1;
    if (
      r.interaction_id !== BigInt(id) ||
      r.user_id !== BigInt(userOf(id)) ||
      r.product_id !== BigInt(productOf(id))
    ) {
      assert.fail(
        `clean row ${i}: ${r.interaction_id}/${r.user_id}/${r.product_id}, expected ${id}/${userOf(id)}/${productOf(id)}`,
      );
    }
  });
});

test('end to end: an action is not mistaken for one seen in an earlier block', async (t) => {
  const { bbbbId, clean } = await runBlockCrossing(t);
  const actions = new Map<string, number>();
  for (const r of clean) actions.set(r.action as string, (actions.get(r.action as string) ?? 0) + 1);
  assert.equal(actions.get('bbbb'), 1);
  assert.equal(clean[bbbbId - 1].action, 'bbbb');
});

test('end to end: a quoted line break in a many-split file gives the one-split result', async (t) => {
  const dir = await tempDir(t, 'shardflow-multiline-');
  const input = join(dir, 'multiline.csv');
  await writeFile(
    input,
    HEADER +
      '1,10,100,"a note whose first line is long, so splits start in it\nsecond line",2024-01-01 00:00:00\n' + // lines 2–3
      '2,10,100,view,2024-01-01\n' + // line 4: bad_timestamp
      '3,11,100,view,2024-01-02 00:00:00\n' +
      '\n' +
      'x,10,100,view,2024-01-01 00:00:00\n' + // line 7: bad_integer
      '4,11,101,"a, b",2024-01-03 00:00:00\n',
  );
  const results = [];
  for (const flags of [[], ['--split-size', '16']]) {
    const out = join(dir, `out-${results.length}`);
    const summary = await runInteractionsCli([input], out, flags);
    const rejects = (await readParts(join(out, 'rejects'))).map((r) => [r.line, r.reason]);
    const clean = (await readParts(join(out, 'clean'))).map((r) => [
      r.interaction_id,
      r.action,
      r.user_interaction_count,
    ]);
    results.push({ counts: [summary.rows_read, summary.rows_valid], rejects, clean });
  }
  assert.deepEqual(results[0], {
    counts: [5, 3],
    rejects: [
      [4n, 'bad_timestamp'],
      [7n, 'bad_integer'],
    ],
    clean: [
      [1n, 'a note whose first line is long, so splits start in it\nsecond line', 1n],
      [3n, 'view', 2n],
      [4n, 'a, b', 2n],
    ],
  });
  assert.deepEqual(results[1], results[0], 'the split plan does not change the result');
});
