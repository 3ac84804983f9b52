import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  readParquetRows,
  readParts,
  runInteractionsCli,
  sortedRowKeys,
  tempDir,
  type Row,
  type RunSummary,
} from './helpers/run-cli.js';

type Reason =
  | 'malformed_row'
  | 'bad_encoding'
  | 'missing_field'
  | 'bad_integer'
  | 'zero_id'
  | 'bad_timestamp'
  | 'duplicate_id';
/** A physical line of a hand-written input and what the rules make of it ('' = an empty line). */
type Line = [raw: string, verdict: Reason | 'valid' | ''];

const HEADER = 'interaction_id,user_id,product_id,action,timestamp';

// File A: LF line ends, a final line break. Line numbers are array index + 2 (the header is line 1).
const FILE_A: Line[] = [
  ['1,10,100,view,2024-01-01 10:00:00', 'valid'],
  ['2,10,100', 'malformed_row'], // too few fields
  ['3,10,100,view,2024-01-01 10:00:00,extra', 'malformed_row'], // too many fields
  ['', ''],
  ['4,,100,view,2024-01-01 10:00:00', 'missing_field'],
  ['5,10,100,null,2024-01-01 10:00:00', 'missing_field'],
  ['6,10,NULL,view,2024-01-01 10:00:00', 'missing_field'],
  ['7,10,100,view,', 'missing_field'],
  ['8,10,100, "" ,2024-01-01 10:00:00', 'missing_field'], // a quoted empty field is empty
  ['12a,10,100,view,2024-01-01 10:00:00', 'bad_integer'],
  ['9,-5,100,view,2024-01-01 10:00:00', 'bad_integer'],
  ['10,10,99999999999999999999,view,2024-01-01 10:00:00', 'bad_integer'],
  ['0,10,100,view,2024-01-01 10:00:00', 'zero_id'],
  ['11,0,100,view,2024-01-01 10:00:00', 'zero_id'],
  ['000,10,100,view,2024-01-01 10:00:00', 'zero_id'],
  ['12,10,0,view,2024-01-01 10:00:00', 'valid'], // a product id may be 0
  ['13,10,100,view,2023-02-29 10:00:00', 'bad_timestamp'],
  ['14,10,100,view,2024-01-01', 'bad_timestamp'],
  ['15,10,100,view,2024-01-01T10:00:00', 'bad_timestamp'],
  ['16,10,100,view,2024-01-01 24:00:00', 'bad_timestamp'],
  ['1,11,101,click,2024-01-02 10:00:00', 'duplicate_id'], // later in the same file
  ['', ''],
  // The first reason that applies wins:
  ['17,10,100,view,null', 'missing_field'], // not bad_timestamp
  ['0,10,100,view,not-a-date', 'zero_id'], // not bad_timestamp
  ['abc,0,100,view,x', 'bad_integer'], // not zero_id
  [',0,100,view,x', 'missing_field'], // not bad_integer
  ['18,,', 'malformed_row'], // not missing_field
  ['0,10,100,vi\0ew,not-a-date', 'bad_encoding'], // a NUL: not zero_id
  ['24,\0', 'malformed_row'], // not bad_encoding
  ['13,10,100,view,2024-01-01 10:00:00', 'valid'], // id 13 was seen only on a rejected row
  ['19,20,200,"add_to_cart",2024-02-29 23:59:59', 'valid'],
  [' 20 , 21 , 201 , view , 2024-03-01 00:00:00 ', 'valid'],
  ['1,12,102,view,2024-01-03 10:00:00', 'duplicate_id'],
  ['21,10,100,"say ""hi"", twice",2024-01-01 10:00:00', 'valid'],
];

// File B, given second: CRLF line ends, no final line break, an unterminated quote on the last line.
const FILE_B: Line[] = [
  ['1,30,300,view,2024-04-01 10:00:00', 'duplicate_id'], // id 1 is valid in file A
  ['100,30,300,view,2024-04-01 10:00:00', 'valid'],
  ['', ''],
  ['19,30,300,view,2024-04-01 10:00:00', 'duplicate_id'],
  ['100,31,300,view,2024-04-01 10:00:00', 'duplicate_id'],
  ['0000000000000000022,30,301,view,2024-04-01 10:00:00', 'valid'],
  ['22,30,301,view,2024-04-01 10:00:00', 'duplicate_id'], // the same value as 0000000000000000022
  ['9223372036854775807,30,300,view,2024-04-01 10:00:00', 'valid'],
  ['9223372036854775808,30,300,view,2024-04-01 10:00:00', 'bad_integer'],
  ['25,30,300,view\0,2024-04-01 10:00:00', 'bad_encoding'],
  ['23,30,300,"view,2024-04-01 10:00:00', 'malformed_row'],
];

// The valid rows, as the clean output must hold them.
const VALID: [id: bigint, user: bigint, product: bigint, action: string, ts: string][] = [
  [1n, 10n, 100n, 'view', '2024-01-01 10:00:00'],
  [12n, 10n, 0n, 'view', '2024-01-01 10:00:00'],
  [13n, 10n, 100n, 'view', '2024-01-01 10:00:00'],
  [19n, 20n, 200n, 'add_to_cart', '2024-02-29 23:59:59'],
  [20n, 21n, 201n, 'view', '2024-03-01 00:00:00'],
  [21n, 10n, 100n, 'say "hi", twice', '2024-01-01 10:00:00'],
  [100n, 30n, 300n, 'view', '2024-04-01 10:00:00'],
  [22n, 30n, 301n, 'view', '2024-04-01 10:00:00'],
  [2n ** 63n - 1n, 30n, 300n, 'view', '2024-04-01 10:00:00'],
];

const EXPECTED_REASONS = {
  malformed_row: 5,
  bad_encoding: 2,
  missing_field: 7,
  bad_integer: 5,
  zero_id: 4,
  bad_timestamp: 4,
  duplicate_id: 6,
};

function countBy<T>(items: readonly T[], key: (x: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of items) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return m;
}

const wallClock = (ts: string): string => `${ts.replace(' ', 'T')}.000Z`;

async function writeInputs(dir: string): Promise<{ a: string; b: string }> {
  const a = join(dir, 'a.csv');
  const b = join(dir, 'b.csv');
  await writeFile(a, [HEADER, ...FILE_A.map((l) => l[0])].join('\n') + '\n');
  await writeFile(b, [HEADER, ...FILE_B.map((l) => l[0])].join('\r\n'));
  return { a, b };
}

function expectedRejects(a: string, b: string): Row[] {
  const rows: Row[] = [];
  for (const [source, lines] of [
    [a, FILE_A],
    [b, FILE_B],
  ] as const) {
    lines.forEach(([raw, verdict], i) => {
      if (verdict !== '' && verdict !== 'valid')
        rows.push({ source, line: BigInt(i + 2), reason: verdict, raw: raw.replaceAll('\0', '\\0') }); // a NUL is stored as `\0`
    });
  }
  return rows;
}

async function checkRun(summary: RunSummary, out: string, a: string, b: string): Promise<void> {
  // The tables above agree with the counts written by hand.
  const verdicts = [...FILE_A, ...FILE_B].map((l) => l[1]).filter((v) => v !== '');
  assert.deepEqual(
    Object.fromEntries(
      countBy(
        verdicts.filter((v) => v !== 'valid'),
        (v) => v,
      ),
    ),
    EXPECTED_REASONS,
  );
  assert.equal(VALID.length, verdicts.filter((v) => v === 'valid').length);

  assert.equal(summary.rows_read, 42, 'empty lines are not rows');
  assert.equal(summary.rows_valid, 9);
  assert.equal(summary.rows_rejected, 33);
  assert.equal(summary.rows_read, summary.rows_valid + summary.rows_rejected);
  assert.deepEqual(summary.rejected_by_reason, EXPECTED_REASONS);

  const rejects = await readParts(join(out, 'rejects'));
  assert.deepEqual(rejects, expectedRejects(a, b), 'rejects in input order with their physical line numbers');

  const clean = await readParts(join(out, 'clean'));
  const users = countBy(VALID, (v) => String(v[1]));
  const products = countBy(VALID, (v) => String(v[2]));
  const pairs = countBy(VALID, (v) => `${v[1]}/${v[2]}`);
  assert.deepEqual(
    sortedRowKeys(clean),
    sortedRowKeys(
      VALID.map(([id, user, product, action, ts]) => ({
        interaction_id: id,
        user_id: user,
        product_id: product,
        action,
        timestamp: new Date(wallClock(ts)),
        user_interaction_count: BigInt(users.get(String(user))!),
        product_interaction_count: BigInt(products.get(String(product))!),
        interaction_count: BigInt(pairs.get(`${user}/${product}`)!),
      })),
    ),
    'the first occurrence of each id stays, with its own fields',
  );

  const byKey = <K extends string>(m: Map<string, number>, name: K) =>
    [...m]
      .map(([k, n]) => ({ [name]: BigInt(k), interaction_count: BigInt(n) }))
      .sort((x, y) => (x[name] < y[name] ? -1 : 1));
  assert.deepEqual(await readParquetRows(join(out, 'users.parquet')), byKey(users, 'user_id'));
  assert.deepEqual(await readParquetRows(join(out, 'products.parquet')), byKey(products, 'product_id'));
  assert.deepEqual(
    sortedRowKeys(await readParts(join(out, 'pairs'))),
    sortedRowKeys(
      [...pairs].map(([k, n]) => {
        const [u, p] = k.split('/');
        return { user_id: BigInt(u), product_id: BigInt(p), interaction_count: BigInt(n) };
      }),
    ),
  );
  const days = countBy(VALID, (v) => v[4].slice(0, 10));
  assert.deepEqual(
    (await readParquetRows(join(out, 'daily.parquet'))).map((r) => [
      (r.day as Date).toISOString().slice(0, 10),
      r.interactions,
    ]),
    [...days].sort().map(([d, n]) => [d, BigInt(n)]),
  );
}

test('one row per reason and variants, over two files: exact counts, lines, raw text and outputs', async (t) => {
  const dir = await tempDir(t, 'shardflow-rejects-');
  const { a, b } = await writeInputs(dir);
  const out = join(dir, 'out');
  const summary = await runInteractionsCli([a, b], out);
  assert.equal(summary.splits, 2);
  await checkRun(summary, out, a, b);
});

test('the same with splits of 40 bytes and 8 partitions: line numbers carry across splits', async (t) => {
  const dir = await tempDir(t, 'shardflow-rejects-');
  const { a, b } = await writeInputs(dir);
  const out = join(dir, 'out');
  const summary = await runInteractionsCli([a, b], out, ['--split-size', '40', '--partitions', '8']);
  assert.ok(summary.splits > 20, `${summary.splits} splits`);
  await checkRun(summary, out, a, b);
});

test('an unterminated quote on the last line, before the final line break: raw is the line itself', async (t) => {
  const dir = await tempDir(t, 'shardflow-rejects-');
  const input = join(dir, 'open-quote.csv');
  await writeFile(
    input,
    `${HEADER}\n1,10,100,view,2024-01-01 10:00:00\n2,10,100,"view,2024-01-01 10:00:00\n`,
  );
  const out = join(dir, 'out');
  const summary = await runInteractionsCli([input], out, ['--split-size', '30']);
  assert.equal(summary.rejected_by_reason.malformed_row, 1);
  assert.deepEqual(await readParts(join(out, 'rejects')), [
    { source: input, line: 3n, reason: 'malformed_row', raw: '2,10,100,"view,2024-01-01 10:00:00' },
  ]);
  assert.ok(summary.splits > 1, 'no quoted field holds a line break, so the file stays split');
});
