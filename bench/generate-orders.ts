/**
 * The orders CSV of the bench's `examples` scenario (the customer-revenue example job), written as
 * a stream: a seeded, byte-identical file per (rows, shape, seed). Adapted from the tests'
 * `ordersCsv` (test/helpers/example-data.ts), which builds its file in memory for ~20k rows; this
 * one writes millions with a bounded buffer and keeps only a ring of recent lines for duplicates.
 *
 *   node dist/bench/generate-orders.js --rows N --shape narrow|wide|skewed --out FILE [--seed S]
 */

import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { runAsEntry } from './entry.js';

/** Customer shapes of the orders file: how many customers and how skewed (see {@link ORDER_SHAPES}). */
export type OrdersShape = 'narrow' | 'wide' | 'skewed';

/**
 * Customer index k = floor(customers · u^power), u uniform in [0, 1): power 1 is uniform, 2 favours
 * low k mildly, 8 gives customer 0 about a fifth of the rows (a hot key).
 */
export const ORDER_SHAPES = Object.freeze({
  /** min(10,000, max(10, rows / 1000)) customers, mildly skewed. */
  narrow: { customers: (rows: number) => Math.min(10_000, Math.max(10, Math.floor(rows / 1000))), power: 2 },
  /** max(10, rows / 4) customers (2.5M at 10M rows), uniform. */
  wide: { customers: (rows: number) => Math.max(10, Math.floor(rows / 4)), power: 1 },
  /** max(10, rows / 20) customers, customer 0 gets ~20 % of the orders. */
  skewed: { customers: (rows: number) => Math.max(10, Math.floor(rows / 20)), power: 8 },
});

/** Options of {@link generateOrders}. */
export interface GenerateOrdersOptions {
  /** Data lines to write (required). */
  rows: number;
  /** Output file (required); its folder is created. */
  out: string;
  /** Customer shape. Default `narrow`. */
  shape?: OrdersShape;
  /** PRNG seed. Default 1. */
  seed?: number;
}

/** Defaults of {@link GenerateOrdersOptions}, and the fixed mix of the rows. */
export const GENERATE_ORDERS_DEFAULTS = Object.freeze({
  shape: 'narrow' as OrdersShape,
  seed: 1,
  /** Each bad kind's share of the rows: negative_amount, bad_number, missing_field, bad_timestamp. */
  badShare: 0.002,
  /** malformed_row (a field short). */
  malformedShare: 0.001,
  /** An exact copy of one of the last {@link RING} written lines. */
  duplicateShare: 0.03,
  /** A valid row re-using an earlier order id with other values (the first row stays). */
  reusedIdShare: 0.03,
  /** USD (another currency: valid, not counted) and empty currency (counted). */
  usdShare: 0.05,
  blankCurrencyShare: 0.05,
  /** One customer in this many gets a quoted name with a comma and quotes. */
  quotedEvery: 997,
  chunkChars: 1 << 20,
});

const HEADER = 'Order ID,Customer,Amount,Currency,Ordered At\n';
const RING = 4096;
const DAYS = 90;
/** "2026-01-01 " … for the 90 days of orders. */
const DAY_PREFIXES = Array.from(
  { length: DAYS },
  (_, d) => new Date(Date.UTC(2026, 0, 1 + d)).toISOString().slice(0, 10) + ' ',
);

/** sfc32, seeded through splitmix32: 32-bit outputs as floats in [0, 1). */
function random(seed: number): () => number {
  let s = seed | 0;
  const mix = (): number => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let [a, b, c, d] = [mix(), mix(), mix(), 1];
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (((c << 21) | (c >>> 11)) + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

const two = (n: number): string => (n < 10 ? `0${n}` : String(n));

function timestamp(second: number): string {
  const day = Math.floor(second / 86_400);
  const s = second - day * 86_400;
  return `${DAY_PREFIXES[day]}${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

/**
 * Writes the orders CSV. Rows: valid orders (3 % re-using an earlier order id, 5 % in USD, 5 % with
 * a blank currency), 3 % exact duplicates of a recent line, and 0.9 % rejects (0.2 % each of
 * negative_amount, bad_number, missing_field, bad_timestamp; 0.1 % malformed_row). Peak memory: one
 * ~1 MiB chunk and the last 4,096 lines; writes wait for `drain`.
 */
export async function generateOrders(
  options: GenerateOrdersOptions,
): Promise<{ rows: number; bytes: number; customers: number; seconds: number }> {
  const { rows, out } = options;
  if (!Number.isSafeInteger(rows) || rows < 0)
    throw new UsageError('options.rows must be a non-negative integer');
  if (typeof out !== 'string' || out === '') throw new UsageError('options.out must be a file path');
  const shape = options.shape ?? GENERATE_ORDERS_DEFAULTS.shape;
  if (!Object.hasOwn(ORDER_SHAPES, shape))
    throw new UsageError(`options.shape must be one of ${Object.keys(ORDER_SHAPES).join(', ')}`);
  const seed = options.seed ?? GENERATE_ORDERS_DEFAULTS.seed;
  if (!Number.isSafeInteger(seed)) throw new UsageError('options.seed must be an integer');
  const d = GENERATE_ORDERS_DEFAULTS;
  const customers = ORDER_SHAPES[shape].customers(rows);
  const power = ORDER_SHAPES[shape].power;
  const rnd = random(seed);
  const started = performance.now();
  await mkdir(dirname(out), { recursive: true });
  const stream = createWriteStream(out);
  const ring: string[] = [];
  let bytes = 0;
  let chunk = HEADER;
  const flush = async (): Promise<void> => {
    bytes += Buffer.byteLength(chunk);
    if (!stream.write(chunk)) await once(stream, 'drain');
    chunk = '';
  };
  try {
    const cut = [1, 2, 3, 4].map((k) => k * d.badShare);
    const malformed = cut[3] + d.malformedShare;
    const duplicate = malformed + d.duplicateShare;
    for (let i = 0; i < rows; i++) {
      const r = rnd();
      const at = timestamp(Math.floor(rnd() * DAYS * 86_400));
      let line: string;
      if (r < cut[0]) line = `o${i},c1,-${(1 + Math.floor(rnd() * 100)) / 100},EUR,${at}`;
      else if (r < cut[1]) line = `o${i},c2,12.3x,EUR,${at}`;
      else if (r < cut[2]) line = `o${i},,5.00,EUR,${at}`;
      else if (r < cut[3]) line = `o${i},c3,5.00,EUR,2026-02-30 10:00:00`;
      else if (r < malformed) line = `o${i},c4,5.00,EUR`;
      else if (r < duplicate && ring.length > 0) line = ring[Math.floor(rnd() * ring.length)];
      else {
        const k = Math.floor(customers * rnd() ** power);
        const customer = k % d.quotedEvery === 1 ? `"Smith, ""${k}"""` : `c${k}`;
        const orderId = rnd() < d.reusedIdShare && i > 10 ? `o${Math.floor(rnd() * i)}` : `o${i}`;
        const amount = (Math.floor(rnd() * 100_000) / 100 + 0.01).toFixed(2);
        const c = rnd();
        const currency = c < d.usdShare ? 'USD' : c < d.usdShare + d.blankCurrencyShare ? '' : 'EUR';
        line = `${orderId},${customer},${amount},${currency},${at}`;
        if (ring.length < RING) ring.push(line);
        else ring[i % RING] = line;
      }
      chunk += line + '\n';
      if (chunk.length >= d.chunkChars) await flush();
    }
    await flush();
    stream.end();
    await once(stream, 'finish');
  } catch (err) {
    stream.destroy();
    throw err;
  }
  return { rows, bytes, customers, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string' },
      shape: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const summary = await generateOrders({
    rows: Number(values.rows),
    out: values.out ?? '',
    shape: values.shape as OrdersShape | undefined,
    ...(values.seed === undefined ? {} : { seed: Number(values.seed) }),
  });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

runAsEntry(import.meta.url, 'generate-orders', main);
