import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { generateOrders } from '../bench/generate-orders.js';
import { CLI } from './helpers/run-cli.js';

const PEER = fileURLToPath(new URL('../bench/duckdb-orders.js', import.meta.url));
const JOB = fileURLToPath(new URL('../examples/customer-revenue.js', import.meta.url));

const run = async (args: string[]): Promise<Record<string, unknown>> => {
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 64 * 2 ** 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
};

const readParquet = async (file: string): Promise<Record<string, unknown>[]> =>
  parquetReadObjects({ file: await asyncBufferFromFile(file) });

interface Customer {
  customer_id: string;
  orders: number;
  revenue: number;
  first_order: number;
  last_order: number;
}

const customer = (r: Record<string, unknown>): Customer => ({
  customer_id: r.customer_id as string,
  orders: Number(r.orders),
  revenue: r.revenue as number,
  first_order: (r.first_order as Date).getTime(),
  last_order: (r.last_order as Date).getTime(),
});

test('the DuckDB orders peer gives the customer-revenue job its per-customer rows and rejects', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'shardflow-orders-peer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const input = join(dir, 'orders.csv');
  await generateOrders({ rows: 20_000, shape: 'wide', out: input, seed: 5 });
  // Small splits: the first row of an order id must win across splits too.
  const [job, peer] = await Promise.all([
    run(
      [CLI, 'run', JOB, '--orders', input, '--out', join(dir, 'job'), '--split-size', '65536'].concat([
        '--no-pg',
        '--no-progress',
        '--json',
      ]),
    ),
    run([PEER, '--input', input, '--out', join(dir, 'peer'), '--threads', '1']),
  ]);
  assert.equal(peer.rows_read, job.rows_read);
  assert.equal(peer.rows_valid, job.rows_valid);
  assert.ok((job.splits as number) > 5, 'several splits');

  const peerRejects = new Map<string, number>();
  for (const r of await readParquet(join(dir, 'peer/rejects.parquet')))
    peerRejects.set(r.reason as string, (peerRejects.get(r.reason as string) ?? 0) + 1);
  const jobRejects = Object.entries(job.rejected_by_reason as Record<string, number>).filter(
    ([, n]) => n > 0,
  );
  assert.deepEqual(new Map(jobRejects), peerRejects);
  for (const reason of ['negative_amount', 'bad_number', 'missing_field', 'bad_timestamp', 'malformed_row'])
    assert.ok((peerRejects.get(reason) ?? 0) > 0, `some ${reason} rows`);

  const parts = (await readdir(join(dir, 'job/customers'))).filter((f) => f.endsWith('.parquet'));
  const byId = (a: Customer, b: Customer) => (a.customer_id < b.customer_id ? -1 : 1);
  const mine: Customer[] = [];
  for (const p of parts) mine.push(...(await readParquet(join(dir, 'job/customers', p))).map(customer));
  const theirs = (await readParquet(join(dir, 'peer/customers.parquet'))).map(customer);
  mine.sort(byId);
  theirs.sort(byId);
  assert.ok(mine.length > 3000, `many customers (${mine.length})`);
  assert.ok(
    mine.some((c) => c.customer_id.includes('"')),
    'quoted customer ids',
  );
  assert.equal(theirs.length, mine.length);
  for (let i = 0; i < mine.length; i++) {
    const [a, b] = [mine[i]!, theirs[i]!];
    // The job sums the doubles exactly; DuckDB sums the decimals exactly: both round once, so they
    // may differ in the last bit, never in the cents.
    assert.ok(Math.abs(a.revenue - b.revenue) <= Math.abs(a.revenue) * 1e-12, `${a.customer_id} revenue`);
    assert.equal(Math.round(a.revenue * 100), Math.round(b.revenue * 100));
    assert.deepEqual({ ...a, revenue: 0 }, { ...b, revenue: 0 });
  }
  const orders = mine.reduce((n, c) => n + c.orders, 0);
  assert.ok(orders < (job.rows_valid as number), 'duplicates and other currencies were dropped');
});
