/**
 * The Parquet writer's later kinds and shapes (io/parquet-columns.ts): DOUBLE and BOOLEAN columns,
 * nullable (OPTIONAL) columns of every kind, and several row groups. Every case is read back by
 * two independent readers, hyparquet and DuckDB: values, nulls, types and statistics. The calls
 * that existed before these features write the same bytes as before (pinned sha256).
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Utf8Bytes, encodeParquetColumns, type ParquetColumn } from '../io/parquet-columns.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 4294967296);
}

const words = (v: bigint[]) => new Uint32Array(BigInt64Array.from(v).buffer);

/**
 * Calls of the kinds that existed before nullable columns, doubles, booleans and row groups, with
 * no `nulls` and no options, reaching every encoding path: delta widths of 0 to 53 bits, PLAIN
 * int64 (negative, ≥ 2^52), count dictionaries and their fall back to delta, string dictionaries,
 * PLAIN strings (multibyte, empty, repaired UTF-8), dates, 0 and 1 rows, 16 columns (a long list
 * header), with and without statistics.
 */
function legacyCalls(): { label: string; rows: number; columns: ParquetColumn[]; createdBy: string }[] {
  const calls: { label: string; rows: number; columns: ParquetColumn[]; createdBy: string }[] = [];
  const shapes = ['sequential', 'wide', 'negative', 'huge'] as const;
  let seed = 0;
  for (const shape of shapes)
    for (const rows of [0, 1, 2, 33, 129, 3000]) {
      const r = rng(++seed);
      const ids: bigint[] = [];
      const micros: bigint[] = [];
      const counts: number[] = [];
      const actions: number[] = [];
      const days: number[] = [];
      const text = new Utf8Bytes(4, 4);
      let id = 1000n;
      for (let i = 0; i < rows; i++) {
        if (shape === 'sequential') id += BigInt(Math.floor(r() * 3));
        else if (shape === 'wide') id = BigInt(Math.floor(r() * 2 ** 52));
        else if (shape === 'negative') id = BigInt(Math.floor(r() * 2000)) - 1000n;
        else id = 2n ** 62n + BigInt(i * 7);
        ids.push(id);
        micros.push(BigInt(Math.floor((shape === 'negative' ? -2.5e9 : 1.6e9) + r() * 3e7)) * 1_000_000n);
        counts.push(
          shape === 'sequential'
            ? Math.floor(r() * 40)
            : shape === 'wide'
              ? Math.floor(r() * 100_000)
              : 2 ** 21 + Math.floor(r() * 5),
        );
        actions.push(Math.floor(r() * 4));
        days.push(Math.floor((r() - 0.3) * 40_000));
        const s = ['', 'a', 'café ✓ 𝄞', 'x'.repeat(Math.floor(r() * 300))][Math.floor(r() * 4)];
        text.push(Buffer.from(s));
        if (i % 97 === 5) text.push(Buffer.from([0x61, 0xff])); // repaired to U+FFFD, an extra row
      }
      const stringColumn = text.column('text');
      if (stringColumn.kind !== 'string') throw new Error('unreachable');
      const strings: ParquetColumn = {
        name: 'text',
        kind: 'string',
        offsets: stringColumn.offsets.subarray(0, rows + 1),
        bytes: stringColumn.bytes,
      };
      const statistics = seed % 2 === 1;
      calls.push({
        label: `${shape}, ${rows} rows`,
        rows,
        createdBy: `shardflow ${shape}`,
        columns: [
          { name: 'id', kind: 'int64', words: words(ids), statistics },
          { name: 'ts', kind: 'timestamp', words: words(micros), statistics: true },
          {
            name: 'action',
            kind: 'dictionary-string',
            indices: Uint16Array.from(actions),
            dictionary: ['view', 'click', 'café ✓', ''],
          },
          { name: 'n', kind: 'count', values: Float64Array.from(counts), statistics },
          { name: 'day', kind: 'date', days: Int32Array.from(days), statistics },
          strings,
        ],
      });
    }
  const many: ParquetColumn[] = [];
  for (let c = 0; c < 16; c++)
    many.push({
      name: `c${c}`,
      kind: 'count',
      values: Float64Array.from({ length: 50 }, (_, i) => (i * c) % 9),
    });
  calls.push({ label: '16 columns', rows: 50, columns: many, createdBy: 'shardflow' });
  calls.push({ label: 'no columns', rows: 0, columns: [], createdBy: 'shardflow' });
  return calls;
}

/** sha256 of each call's file (first 16 hex digits), computed before these features were added. */
const LEGACY_SHA256: Record<string, string> = {
  'sequential, 0 rows': 'fbd5aaf82ee5f9a6',
  'sequential, 1 rows': '5b1512dba2bd0048',
  'sequential, 2 rows': '0406f47bc2d79e83',
  'sequential, 33 rows': '4eb184cb3ef15196',
  'sequential, 129 rows': 'd63809b752fdb8d4',
  'sequential, 3000 rows': '099eb40e30d1fadf',
  'wide, 0 rows': '63b3b35c75689ee3',
  'wide, 1 rows': '95e04613d633017f',
  'wide, 2 rows': '12d4adc6cf750910',
  'wide, 33 rows': '12098ee9de2fb92e',
  'wide, 129 rows': 'bae915f4fa64b1e3',
  'wide, 3000 rows': '27923a08cb690a11',
  'negative, 0 rows': '4707108d0f7875d9',
  'negative, 1 rows': 'f5f9ef1209dab39d',
  'negative, 2 rows': '521cb3ea95b77655',
  'negative, 33 rows': '07dd341bb60daf5d',
  'negative, 129 rows': 'c5a2efc453591f01',
  'negative, 3000 rows': 'd5a622105da13255',
  'huge, 0 rows': 'c46a7559e3d21cfe',
  'huge, 1 rows': '43cdb55f20909441',
  'huge, 2 rows': '77640c1a2601bd0c',
  'huge, 33 rows': '78ca0b3f35c6317f',
  'huge, 129 rows': 'b1f7e4e4b0c6f81a',
  'huge, 3000 rows': 'b9640226fac62b62',
  '16 columns': '6222999d8db07e86',
  'no columns': '0d25b3564ca4f689',
};
const LEGACY_ALL_SHA256 = '133741c0e9329459eb30db307447ea80febfd4b93e53b51ccd33d7a3a3798287';

test('byte identity: calls without nulls or options write the bytes they wrote before', () => {
  const all = createHash('sha256');
  const calls = legacyCalls();
  assert.deepEqual(
    calls.map((c) => c.label),
    Object.keys(LEGACY_SHA256),
  );
  for (const call of calls) {
    const bytes = encodeParquetColumns(call.rows, call.columns, call.createdBy);
    const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
    assert.equal(hash, LEGACY_SHA256[call.label], call.label);
    // The same call with the default options spelled out, or a row group larger than the rows.
    for (const options of [{}, { rowGroupRows: undefined }, { rowGroupRows: Math.max(1, call.rows) }]) {
      const again = encodeParquetColumns(call.rows, call.columns, call.createdBy, options);
      assert.equal(
        createHash('sha256').update(again).digest('hex').slice(0, 16),
        hash,
        `${call.label} with options`,
      );
    }
    all.update(bytes);
  }
  assert.equal(all.digest('hex'), LEGACY_ALL_SHA256);
});
