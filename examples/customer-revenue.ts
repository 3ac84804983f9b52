/**
 * Revenue and order count per customer, from a CSV of orders (one row per order; an order id
 * seen twice is counted once: the first row stays). Two stages: dedupe by order id, then
 * aggregate by customer. Outputs: Parquet parts under `--out/customers/` and the PostgreSQL table
 * `customer_revenue` (replaced atomically on each run).
 *
 *   shardflow run ./dist/examples/customer-revenue.js --orders orders.csv --out out/ [--currency EUR]
 */

import { csv, defineJob, emit, exactSum, count, first, max, min, parquet, pgTable, reject } from 'shardflow';

interface Options {
  currency: string;
}

interface Order {
  customer: string;
  amount: number;
  at: number;
}

const CUSTOMER_COLUMNS = {
  customer_id: 'string',
  orders: 'int64',
  revenue: 'double',
  first_order: 'timestamp',
  last_order: 'timestamp',
} as const;

export default defineJob<Options>({
  name: 'customer-revenue',
  description:
    'revenue and order count per customer from a CSV of orders (duplicates of an order id counted once)',
  options: {
    currency: { type: 'string', help: 'keep only orders in this currency', default: 'EUR' },
  },
  inputs: {
    orders: csv({
      columns: {
        order_id: { type: 'string' },
        customer_id: { type: 'string', aliases: ['customer'] },
        amount: { type: 'number', aliases: ['total'] },
        currency: { type: 'string', required: false },
        ordered_at: { type: 'timestamp', aliases: ['order_time', 'created_at'] },
      },
      header: 'normalized',
    }),
  },
  stages: [
    {
      name: 'dedupe',
      map: (r, { options }) => {
        if ((r.amount as number) < 0) return reject('negative_amount');
        if (r.currency !== null && r.currency !== options.currency) return null; // another currency: valid, not ours
        const order: Order = {
          customer: r.customer_id as string,
          amount: r.amount as number,
          at: r.ordered_at as number,
        };
        return emit(r.order_id as string, { order });
      },
      state: { order: first<Order>(), copies: count() },
      finalize: (orderId, v) => ({ order_id: orderId, ...(v.order as Order) }),
    },
    {
      name: 'by-customer',
      map: (row) => {
        const o = row as unknown as Order;
        return emit(o.customer, { revenue: o.amount, first_order: o.at, last_order: o.at });
      },
      state: { orders: count(), revenue: exactSum(), first_order: min(), last_order: max() },
      finalize: (customer, v) => ({ customer_id: customer, ...v }),
    },
  ],
  outputs: {
    customers: parquet('customers', CUSTOMER_COLUMNS),
    table: pgTable('customer_revenue', CUSTOMER_COLUMNS, { mode: 'replace', key: ['customer_id'] }),
  },
});
