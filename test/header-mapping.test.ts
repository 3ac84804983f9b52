import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readCsvHeader } from '../io/csv-header.js';
import { INTERACTION_COLUMNS } from '../jobs/interactions/rules.js';
import {
  readParquetRows,
  readParts,
  runCli,
  runInteractionsCli,
  sortedRowKeys,
  tempDir,
  type Row,
} from './helpers/run-cli.js';

type Column = 'interaction_id' | 'user_id' | 'product_id' | 'action' | 'timestamp' | 'extra';
type Record_ = Record<Column, string>;

const ROWS: Record_[] = [
  {
    interaction_id: '1',
    user_id: '10',
    product_id: '100',
    action: 'view',
    timestamp: '2024-01-01 10:00:00',
    extra: 'a',
  },
  {
    interaction_id: '2',
    user_id: '10',
    product_id: '101',
    action: 'add, then buy',
    timestamp: '2024-01-02 10:00:00',
    extra: 'b,c',
  },
  {
    interaction_id: '3',
    user_id: '11',
    product_id: '100',
    action: 'view',
    timestamp: '2024-01-02 11:00:00',
    extra: '',
  },
  {
    interaction_id: '1',
    user_id: '12',
    product_id: '100',
    action: 'view',
    timestamp: '2024-01-03 10:00:00',
    extra: 'dup',
  },
  {
    interaction_id: '4',
    user_id: '12',
    product_id: '102',
    action: 'click',
    timestamp: '2024-02-30 10:00:00',
    extra: 'bad',
  },
  {
    interaction_id: '5',
    user_id: '0',
    product_id: '102',
    action: 'click',
    timestamp: '2024-01-03 10:00:00',
    extra: 'zero',
  },
  {
    interaction_id: '6',
    user_id: '12',
    product_id: '102',
    action: 'say "hi"',
    timestamp: '2024-01-04 10:00:00',
    extra: '"q"',
  },
];

const CANONICAL: Column[] = ['interaction_id', 'user_id', 'product_id', 'action', 'timestamp'];

const cell = (v: string): string => (/[",]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

/** The rows as CSV text with `columns` in that order, under `names`, with line ends `eol`. */
function csv(columns: readonly Column[], names: readonly string[], eol: string, bom = false): string {
  const lines = [names.join(','), ...ROWS.map((r) => columns.map((c) => cell(r[c])).join(','))];
  return (bom ? '\ufeff' : '') + lines.join(eol) + eol;
}

interface Outcome {
  clean: string[];
  users: Row[];
  products: Row[];
  pairs: string[];
  daily: Row[];
  rejects: unknown[];
  reasons: Record<string, number>;
}

async function outcome(input: string, out: string): Promise<Outcome> {
  const summary = await runInteractionsCli([input], out, ['--workers', '1']);
  return {
    clean: sortedRowKeys(await readParts(join(out, 'clean'))),
    users: await readParquetRows(join(out, 'users.parquet')),
    products: await readParquetRows(join(out, 'products.parquet')),
    pairs: sortedRowKeys(await readParts(join(out, 'pairs'))),
    daily: await readParquetRows(join(out, 'daily.parquet')),
    // Raw text differs with the layout; line and reason must not.
    rejects: (await readParts(join(out, 'rejects'))).map((r) => [r.line, r.reason]),
    reasons: summary.rejected_by_reason,
  };
}

test('reordered columns with an extra one, CRLF with a BOM, and names in other case with spaces: same result', async (t) => {
  const dir = await tempDir(t, 'shardflow-header-');
  const layouts: Record<string, string> = {
    canonical: csv(CANONICAL, CANONICAL, '\n'),
    reordered: csv(
      ['timestamp', 'extra', 'product_id', 'action', 'interaction_id', 'user_id'],
      ['timestamp', 'extra', 'product_id', 'action', 'interaction_id', 'user_id'],
      '\n',
    ),
    // Quoted names right after the BOM: only a skipped BOM lets the first quote open the field.
    crlfBom: csv(
      CANONICAL,
      CANONICAL.map((c) => `"${c}"`),
      '\r\n',
      true,
    ),
    caseAndSpaces: csv(
      CANONICAL,
      [' Interaction_ID ', 'USER_ID', 'Product_Id  ', 'ACTION', '  TimeStamp'],
      '\n',
    ),
  };
  const results: Record<string, Outcome> = {};
  await Promise.all(
    Object.entries(layouts).map(async ([name, text]) => {
      const input = join(dir, `${name}.csv`);
      await writeFile(input, text);
      results[name] = await outcome(input, join(dir, name));
    }),
  );

  const canonical = results.canonical;
  assert.equal(canonical.clean.length, 4, 'ids 1, 2, 3 and 6 are valid');
  assert.ok(
    canonical.clean.some((k) => k.includes('"action":"add, then buy"')),
    'a quoted comma stays in the field',
  );
  assert.ok(canonical.clean.some((k) => k.includes('"action":"say \\"hi\\""')));
  assert.deepEqual(canonical.rejects, [
    [5n, 'duplicate_id'],
    [6n, 'bad_timestamp'],
    [7n, 'zero_id'],
  ]);
  assert.deepEqual(canonical.users, [
    { user_id: 10n, interaction_count: 2n },
    { user_id: 11n, interaction_count: 1n },
    { user_id: 12n, interaction_count: 1n },
  ]);
  for (const name of ['reordered', 'crlfBom', 'caseAndSpaces']) {
    assert.deepEqual(results[name], canonical, name);
  }
});

test('a header-only file is a valid run of zero rows', async (t) => {
  const dir = await tempDir(t, 'shardflow-header-');
  const input = join(dir, 'header-only.csv');
  await writeFile(input, `${CANONICAL.join(',')}\r\n`);
  const summary = await runInteractionsCli([input], join(dir, 'out'), ['--workers', '1']);
  assert.equal(summary.rows_read, 0);
  assert.equal(summary.rows_valid, 0);
  assert.deepEqual(await readParquetRows(join(dir, 'out', 'users.parquet')), []);
});

/** Runs the CLI on `input` and returns its stderr lines, asserting exit code 2 and no summary. */
async function failing(input: string, out: string): Promise<string[]> {
  const result = await runCli([
    'run',
    'interactions',
    '--input',
    input,
    '--out',
    out,
    '--json',
    '--no-progress',
    '--workers',
    '1',
  ]);
  assert.equal(result.code, 2, `exit code 2 expected; stderr: ${result.stderr}`);
  assert.equal(result.stdout, '', 'no summary on stdout');
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one stderr line, got: ${result.stderr}`);
  return lines;
}

test('a missing required column: exit 2 and one stderr line naming the column and the file', async (t) => {
  const dir = await tempDir(t, 'shardflow-header-');
  const input = join(dir, 'no-product.csv');
  await writeFile(
    input,
    'interaction_id,user_id,action,timestamp,product\n1,10,view,2024-01-01 10:00:00,100\n',
  );
  const [line] = await failing(input, join(dir, 'out'));
  assert.ok(line.includes('product_id'), line);
  assert.ok(line.includes(input), line);
  assert.match(line, /missing/i);
});

test('an empty file: exit 2 and one stderr line naming it', async (t) => {
  const dir = await tempDir(t, 'shardflow-header-');
  for (const [name, text] of [
    ['empty.csv', ''],
    ['blank-lines.csv', '\n\r\n\n'],
  ]) {
    const input = join(dir, name);
    await writeFile(input, text);
    const [line] = await failing(input, join(dir, 'out'));
    assert.ok(line.includes(input), line);
    assert.match(line, /empty/);
  }
});

test('a nonexistent input: exit 2 and one stderr line naming it', async (t) => {
  const dir = await tempDir(t, 'shardflow-header-');
  const input = join(dir, 'does-not-exist.csv');
  const [line] = await failing(input, join(dir, 'out'));
  assert.ok(line.includes(input), line);
  assert.match(line, /no such file/);
});

test('--input takes several paths in a row, as a shell glob expands, in command-line order', async (t) => {
  const dir = await tempDir(t, 'shardflow-inputs-');
  const header = 'interaction_id,user_id,product_id,action,timestamp\n';
  // The same id in both files: which row is the duplicate shows the order the files were read in.
  await writeFile(join(dir, 'a.csv'), `${header}1,10,100,view,2024-01-01 00:00:00\n`);
  await writeFile(
    join(dir, 'b.csv'),
    `${header}1,20,200,click,2024-01-02 00:00:00\n2,20,200,view,2024-01-02 00:00:00\n`,
  );
  for (const [args, firstUser] of [
    [['--input', join(dir, 'a.csv'), join(dir, 'b.csv')], 10n],
    [['--input', join(dir, 'b.csv'), join(dir, 'a.csv')], 20n],
    [['--input', join(dir, 'b.csv'), '--input', join(dir, 'a.csv')], 20n],
  ] as const) {
    const out = join(dir, `out-${firstUser}-${args.length}`);
    const run = await runCli(['run', 'interactions', ...args, '--out', out, '--outputs', 'clean', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    assert.equal(summary.rows_read, 3);
    assert.equal(summary.rejected_by_reason.duplicate_id, 1);
    const clean = await readParts(join(out, 'clean'));
    assert.equal(clean.find((r) => r.interaction_id === 1n)?.user_id, firstUser, args.join(' '));
  }
  const stray = await runCli([
    'run',
    'interactions',
    '--input',
    join(dir, 'a.csv'),
    '--json',
    join(dir, 'b.csv'),
    '--out',
    join(dir, 'x'),
  ]);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /unexpected argument/);
});

test('a header naming a required column twice (after trimming and case): exit 2, one line with both positions', async (t) => {
  const dir = await tempDir(t, 'shardflow-header-');
  const input = join(dir, 'twice.csv');
  await writeFile(
    input,
    'interaction_id,user_id,product_id,action,timestamp, User_ID \n1,10,100,view,2024-01-01 10:00:00,11\n',
  );
  const [line] = await failing(input, join(dir, 'out'));
  assert.ok(line.includes(input), line);
  assert.ok(line.includes('user_id'), line);
  assert.match(line, /column 2\b.*column 6\b/);
  await assert.rejects(readCsvHeader(input, INTERACTION_COLUMNS), {
    code: 'E_AMBIGUOUS_HEADER',
    exitCode: 2,
  });
  // A repeated column the job does not read is still ignored.
  await writeFile(
    input,
    'note,interaction_id,user_id,product_id,action,timestamp,NOTE\nx,1,10,100,view,2024-01-01 10:00:00,y\n',
  );
  assert.deepEqual((await readCsvHeader(input, INTERACTION_COLUMNS)).indices, [1, 2, 3, 4, 5]);
});
