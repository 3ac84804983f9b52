/**
 * An engine job's metrics end at the run's totals, even for a run shorter than the live feed's
 * 0.5 s sampling: rows read, bytes, valid rows and every reject reason, pushed to a Pushgateway
 * (here a loopback HTTP server that records what it gets: the fault it stands in for is only
 * "what did the run push", which a real Pushgateway answers the same way).
 */

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { runCli, tempDir } from './helpers/run-cli.js';

const REVENUE = fileURLToPath(new URL('../examples/customer-revenue.js', import.meta.url));

test('a short run pushes its final rows, bytes and rejects with the job label', async (t) => {
  const dir = await tempDir(t);
  const input = join(dir, 'orders.csv');
  const text =
    'order_id,customer_id,amount,ordered_at\n1,a,1.5,2026-01-01\n2,b,x,2026-01-01\n3,,2,2026-01-01\n4,a,2,2026-01-02\n';
  await writeFile(input, text);
  const pushes: { url: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      pushes.push({ url: req.url ?? '', body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  const run = await runCli([
    'run',
    REVENUE,
    '--orders',
    input,
    '--out',
    join(dir, 'out'),
    '--no-pg',
    '--no-progress',
    '--json',
    '--pushgateway',
    `http://127.0.0.1:${port}`,
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(pushes.length, 1);
  assert.match(pushes[0].url, /^\/metrics\/job\/customer-revenue\/run_id\/[0-9a-f]{12}$/);
  const value = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(pushes[0].body)?.[1]);
  assert.equal(value('shardflow_rows_read_total'), 4);
  assert.equal(
    value('shardflow_bytes_read_total'),
    Buffer.byteLength(text) - 'order_id,customer_id,amount,ordered_at\n'.length,
  );
  assert.equal(value('shardflow_rows_valid_total'), 2);
  assert.match(pushes[0].body, /^shardflow_rows_rejected_total\{reason="bad_number"[^}]*\} 1$/m);
  assert.match(pushes[0].body, /^shardflow_rows_rejected_total\{reason="missing_field"[^}]*\} 1$/m);
});
