/**
 * The human summary: a reason longer than the old fixed column (`negative_amount`, `profile_id_too_long`)
 * never runs into its count, and every value starts in one column.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSummary } from '../coordinator/print-table.js';

test('labels are padded to the longest, so a long reason keeps two spaces before its count', () => {
  const text = formatSummary(
    {
      rows_read: 1700,
      rows_valid: 54,
      rows_rejected: 1646,
      rejected_by_reason: { malformed_row: 1646, profile_id_too_long: 0 },
      outputs: { customers: '/tmp/out/customers' },
      seconds: 1.5,
    },
    [['profiles', 3]],
  );
  const lines = text.split('\n');
  assert.ok(
    lines.some((l) => /^ {2}malformed_row {2,}1646$/.test(l)),
    text,
  );
  assert.ok(
    lines.some((l) => /^ {2}profile_id_too_long {2,}0$/.test(l)),
    text,
  );
  const column = lines[0].search(/\d/);
  for (const line of lines) assert.equal(line.search(/ \S+$/) + 1, column, `aligned: ${line}`);
});
