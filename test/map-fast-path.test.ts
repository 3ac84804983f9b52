/**
 * The interactions map stage's fast path (one pass over a common row's bytes) against the path it
 * stands in for (the CSV decoder, then the rules): on inputs built to trip it — every reject
 * reason, blanks at field edges, quotes, lone CRs, CRLF, ids of 15, 16 and 19 digits, zeros,
 * null spellings, odd timestamps, NUL bytes and invalid UTF-8 beside valid multi-byte text,
 * columns reordered with extra ones — both must give exactly the
 * same map result and the same spill bytes, for the whole file and for every split of it. On
 * generated data nearly every valid row must take the fast path, so the comparison is not vacuous.
 */

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readCsvHeader } from '../io/csv-header.js';
import { planSplitRanges } from '../partitioners/plan-splits.js';
import { generateInteractions } from '../jobs/interactions/generate.js';
import { runMapStage } from '../jobs/interactions/map-stage.js';
import { BAD_ENCODING, INTERACTION_COLUMNS } from '../jobs/interactions/rules.js';
import type { MapResult, MapTask } from '../jobs/interactions/tasks.js';
import { tempDir } from './helpers/run-cli.js';

type Fields = [id: string, user: string, product: string, action: string, ts: string];

// Bytes a JavaScript string cannot hold, written in by withBytes (noncharacters stand in for them).
const CUT = '\ufdd0'; // C3: a 2-byte sequence cut short
const OVERLONG = '\ufdd1'; // C0 AF: an overlong "/"
const SURROGATE = '\ufdd2'; // ED A0 80: U+D800
const STRAY = '\ufdd3'; // 80: a continuation byte alone
const STAND_INS: Record<string, number[]> = {
  [CUT]: [0xc3],
  [OVERLONG]: [0xc0, 0xaf],
  [SURROGATE]: [0xed, 0xa0, 0x80],
  [STRAY]: [0x80],
};

/** The UTF-8 of `text` with each stand-in replaced by its bytes. */
function withBytes(text: string): Buffer {
  const parts = text.split(/([\ufdd0-\ufdd3])/u);
  return Buffer.concat(
    parts.map((p) => (p in STAND_INS ? Buffer.from(STAND_INS[p]) : Buffer.from(p, 'utf8'))),
  );
}

const TS = '2023-01-26 23:40:12';
/** Rows as their five fields (in INTERACTION_COLUMNS order); each trips something or nothing. */
const ROWS: Fields[] = [
  ['1', '2', '3', 'click', TS],
  ['007', '08', '0009', 'view', '2024-02-29 00:00:00'],
  ['123456789012345', '1', '1', 'view', '2023-01-01 00:00:00'],
  ['1234567890123456', '1', '1', 'view', '2023-01-01 00:00:00'],
  ['9223372036854775807', '9007199254740993', '1', 'view', '2023-01-01 00:00:00'],
  ['9223372036854775808', '1', '1', 'view', TS],
  ['000000000000000000000000000042', '5', '6', 'view', TS],
  ['0', '1', '1', 'view', TS],
  ['00', '1', '1', 'view', TS],
  ['11', '0', '1', 'view', TS],
  ['12', '1', '0', 'view', TS],
  [' 13', '1', '1', 'view', TS],
  ['14 ', '1', '1', 'view', TS],
  ['15', '1', '1', ' click ', TS],
  ['16', '1', '1', 'cl ick', TS],
  ['17', '1', '1', '\tclick', TS],
  ['18', '1', '1', 'null', TS],
  ['19', '1', '1', 'NULL', TS],
  ['20', '1', '1', 'Null', TS],
  ['21', '1', '1', '', TS],
  ['22', 'null', '1', 'view', TS],
  ['23', '1', '', 'view', TS],
  ['"24"', '1', '1', 'view', TS],
  ['25', '1', '1', '"cli,ck"', TS],
  ['26', '1', '1', '"a""b"', TS],
  ['27', '1', '1', 'a"b', TS],
  ['28', '1', '1', 'cl\rick', TS],
  ['29', '1', '1', 'café', TS],
  ['-30', '1', '1', 'view', TS],
  ['+31', '1', '1', 'view', TS],
  ['1e3', '1', '1', 'view', TS],
  ['33.0', '1', '1', 'view', TS],
  ['34', '1', '1', 'view', '2023-02-29 00:00:00'],
  ['35', '1', '1', 'view', '2023-1-01 00:00:00'],
  ['36', '1', '1', 'view', '2023-01-01T00:00:00'],
  ['37', '1', '1', 'view', '2023-01-01 24:00:00'],
  ['38', '1', '1', 'view', '0000-01-01 00:00:00'],
  ['39', '1', '1', 'view', '0001-01-01 00:00:00'],
  ['40', '1', '1', 'view', '9999-12-31 23:59:59'],
  ['41', '1', '1', 'view', '1969-12-31 23:59:59'],
  ['42', '1', '1', 'view', ` ${TS}`],
  ['43', '1', '1', 'view', `${TS} `],
  ['1', '7', '8', 'click', TS], // a duplicate id (the map stage keeps both)
  ['44', '4294967296', '4294967295', 'purchase', TS],
  ['45', '9007199254740993', '9999999999999999', 'view', TS], // 16 digits above 2^53
  ['46', '1', '1', 'vi\0ew', TS], // bad_encoding: a NUL
  ['47', '1', '1', `caf${CUT}`, TS],
  ['48', '1', '1', `${OVERLONG}x`, TS],
  ['49', '1', '1', `v${SURROGATE}`, TS],
  ['50', '1', '1', `"a${STRAY}"`, TS],
  ['5\x001', '1', '1', 'view', TS], // the encoding before the id's digits
  ['52', '1', '1', 'view', '2023-01-26 23:40:1\0'], // and before the timestamp
  ['53', '1', '1', '中文 😀 é', TS], // valid multi-byte text: the fast path keeps it
  ['54', '1', '1', '\u07ff\u0800\uffff\u{10000}\u{10ffff}', TS],
];

/** One line per row in `order` (indices into the five fields, or extra values), with `eol`. */
function lines(order: (number | string)[], eol: string): string {
  const out: string[] = [];
  for (const row of ROWS) out.push(order.map((o) => (typeof o === 'number' ? row[o] : o)).join(','));
  // Whole-line oddities: too few and too many fields, empty and blank lines, a lone CR line end.
  out.push(order.map((o) => (typeof o === 'number' ? ROWS[0][o] : o)).join(',') + ',x');
  out.push(
    order
      .slice(1)
      .map((o) => (typeof o === 'number' ? ROWS[0][o] : o))
      .join(','),
  );
  out.push('', '   ', '\t');
  out.push(order.map((o) => (typeof o === 'number' ? ROWS[0][o] : o)).join(',') + '\r');
  return out.join(eol) + eol;
}

interface Layout {
  name: string;
  header: string;
  order: (number | string)[];
}

const LAYOUTS: Layout[] = [
  { name: 'canonical', header: INTERACTION_COLUMNS.join(','), order: [0, 1, 2, 3, 4] },
  {
    name: 'reordered with extra columns',
    header: 'note,TIMESTAMP,Action,product_id,user_id,extra,interaction_id',
    order: [' a note ', 4, 3, 2, 1, '', 0],
  },
];

async function mapBoth(path: string, splitBytes: number): Promise<{ fast: MapResult[]; slow: MapResult[] }> {
  const header = await readCsvHeader(path, INTERACTION_COLUMNS);
  const size = (await readFile(path)).length;
  const results = { fast: [] as MapResult[], slow: [] as MapResult[] };
  for (const mode of ['fast', 'slow'] as const) {
    let k = 0;
    for (const r of planSplitRanges(size, splitBytes, header.dataStart)) {
      const task: MapTask = {
        stage: 'map',
        taskId: k,
        split: {
          path,
          fileIndex: 0,
          start: r.start,
          end: r.end,
          aligned: r.start === header.dataStart,
          gzip: false,
        },
        columns: header.indices,
        fieldCount: header.names.length,
        partitions: 8,
        countPairs: true,
        chunkRows: 7,
        spillRows: true,
        spillRejects: true,
        spillPath: `${path}.${mode}-${k}`,
        fastRecords: mode === 'fast',
      };
      results[mode].push(await runMapStage(task));
      k++;
    }
  }
  return results;
}

/**
 * Asserts both paths agree on every split's result and spill bytes; returns fast rows, valid rows
 * and bad_encoding rejects.
 */
async function assertAgree(
  path: string,
  splitBytes: number,
  label: string,
): Promise<[number, number, number]> {
  const { fast, slow } = await mapBoth(path, splitBytes);
  assert.equal(fast.length, slow.length);
  let fastRows = 0;
  let valid = 0;
  let badEncoding = 0;
  for (let k = 0; k < fast.length; k++) {
    assert.equal(slow[k].fastRows, 0, 'the slow run took no fast path');
    fastRows += fast[k].fastRows;
    valid += fast[k].valid;
    badEncoding += fast[k].rejected[BAD_ENCODING];
    const strip = (r: MapResult) => ({ ...r, fastRows: 0 });
    assert.deepEqual(strip(fast[k]), strip(slow[k]), `${label}: split ${k} result`);
    for (const ext of ['rows', 'rejects']) {
      const a = await readFile(`${path}.fast-${k}.${ext}`);
      const b = await readFile(`${path}.slow-${k}.${ext}`);
      assert.ok(a.equals(b), `${label}: split ${k} .${ext} spill`);
    }
  }
  return [fastRows, valid, badEncoding];
}

for (const layout of LAYOUTS) {
  for (const eol of ['\n', '\r\n']) {
    test(`edge rows, ${layout.name}, ${eol === '\n' ? 'LF' : 'CRLF'}: both paths give the same results and spills`, async (t) => {
      const dir = await tempDir(t);
      const path = join(dir, 'edge.csv');
      // Enough copies that a split boundary falls inside rows of every kind.
      const body = lines(layout.order, eol);
      await writeFile(path, withBytes(layout.header + eol + body.repeat(20) + body.trimEnd()));
      const size = (await readFile(path)).length;
      for (const splitBytes of [size, 997, 211]) {
        const [fastRows, valid, badEncoding] = await assertAgree(
          path,
          splitBytes,
          `${layout.name} / ${splitBytes}`,
        );
        assert.equal(badEncoding, 7 * 21, 'rows 46 to 52 of each of the 21 copies are bad_encoding');
        assert.ok(
          fastRows > 0 && fastRows < valid,
          `some valid rows take each path (${fastRows} of ${valid})`,
        );
      }
    });
  }
}

test('generated data: nearly every valid row takes the fast path, with the same results', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'generated.csv');
  await generateInteractions({ rows: 30_000, out: path, seed: 11, badFraction: 0.2 });
  const [fastRows, valid] = await assertAgree(path, 256 * 1024, 'generated');
  // The generator's valid-but-quirky rows (blanks, quotes) take the decoder; the rest are plain.
  assert.ok(fastRows > 0.85 * valid, `${fastRows} of ${valid} valid rows took the fast path`);
});
