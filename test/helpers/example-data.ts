/**
 * Seeded inputs for the example jobs (examples/), and the answers computed independently of the
 * engine: plain loops over the generated rows, no shardflow code.
 */

import { mulberry32 } from './mulberry32.js';

/** mulberry32 as floats in [0, 1): the same sequence on every machine. */
export function random(seed: number): () => number {
  const u32 = mulberry32(seed);
  return () => u32() / 4294967296;
}

/** One customer's expected row in the customer-revenue job. */
export interface CustomerExpected {
  customer_id: string;
  orders: number;
  revenue: number;
  first_order: number;
  last_order: number;
}

const BASE_MS = Date.UTC(2026, 0, 1);

function ts(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Exact sum of doubles, correctly rounded: each value is an integer multiple of 2^-60 here. */
function exactSum(values: readonly number[]): number {
  let total = 0n;
  for (const v of values) total += BigInt(v * 2 ** 60);
  return Number(total) / 2 ** 60;
}

/**
 * Orders CSV for customer-revenue: `rows` lines, ~`customers` customers (skewed), exact
 * duplicates and conflicting re-uses of an order id (the first row by position stays), other
 * currencies, blank currency, quoted ids with commas and quotes, and bad rows of every kind.
 */
export function ordersCsv(
  seed: number,
  rows: number,
  customers: number,
): { text: string; expected: CustomerExpected[]; rejects: Record<string, number> } {
  const rnd = random(seed);
  const lines = ['Order ID,Customer,Amount,Currency,Ordered At'];
  const rejects: Record<string, number> = {};
  const firstByOrder = new Map<string, { customer: string; amount: number; at: number }>();
  const written: string[] = [];
  const bad = (reason: string, line: string) => {
    rejects[reason] = (rejects[reason] ?? 0) + 1;
    lines.push(line);
  };
  for (let i = 0; i < rows; i++) {
    const r = rnd();
    if (r < 0.01)
      bad('negative_amount', `o${i},c1,-${(1 + Math.floor(rnd() * 100)) / 100},EUR,${ts(BASE_MS)}`);
    else if (r < 0.02) bad('bad_number', `o${i},c2,12.3x,EUR,${ts(BASE_MS)}`);
    else if (r < 0.03) bad('missing_field', `o${i},,5,EUR,${ts(BASE_MS)}`);
    else if (r < 0.04) bad('bad_timestamp', `o${i},c3,5,EUR,2026-02-30 10:00:00`);
    else if (r < 0.045) bad('malformed_row', `o${i},c4,5,EUR`);
    else if (r < 0.09 && written.length > 0)
      lines.push(written[Math.floor(rnd() * written.length)]); // an exact duplicate
    else {
      // Skewed customers; some ids need quoting.
      const k = Math.floor(customers * rnd() ** 2);
      const customer = k % 17 === 0 ? `Smith, "${k}"` : `c${k}`;
      // Order ids: mostly new, sometimes an earlier id with other values (the first stays).
      const orderId = rnd() < 0.03 && i > 10 ? `o${Math.floor(rnd() * i)}` : `o${i}`;
      const amount = Math.floor(rnd() * 100000) / 100 + 0.01;
      const at = BASE_MS + Math.floor(rnd() * 90 * 86400) * 1000;
      const currencyDraw = rnd();
      const currency = currencyDraw < 0.05 ? 'USD' : currencyDraw < 0.1 ? '' : 'EUR';
      const line = [orderId, csvField(customer), amount.toFixed(2), currency, ts(at)].join(',');
      lines.push(line);
      written.push(line);
    }
  }
  // The answer, from the lines in order (the first valid row of an order id in our currency stays).
  for (const line of lines.slice(1)) {
    const m = /^(o\d+),("(?:[^"]|"")*"|[^,]*),([^,]*),([^,]*),(.*)$/.exec(line);
    if (m === null) continue;
    const [, orderId, rawCustomer, amountText, currency, at] = m;
    const customer = rawCustomer.startsWith('"')
      ? rawCustomer.slice(1, -1).replaceAll('""', '"')
      : rawCustomer;
    const amount = Number(amountText);
    const ms = Date.parse(`${at.replace(' ', 'T')}Z`);
    if (customer === '' || !/^\d+\.\d+$/.test(amountText) || Number.isNaN(ms) || at.startsWith('2026-02-30'))
      continue;
    if (currency !== '' && currency !== 'EUR') continue;
    if (!firstByOrder.has(orderId)) firstByOrder.set(orderId, { customer, amount, at: ms });
  }
  const byCustomer = new Map<string, { amounts: number[]; first: number; last: number }>();
  for (const o of firstByOrder.values()) {
    const c = byCustomer.get(o.customer) ?? { amounts: [], first: Infinity, last: -Infinity };
    c.amounts.push(o.amount);
    c.first = Math.min(c.first, o.at);
    c.last = Math.max(c.last, o.at);
    byCustomer.set(o.customer, c);
  }
  const expected = [...byCustomer]
    .map(([customer_id, c]) => ({
      customer_id,
      orders: c.amounts.length,
      revenue: exactSum(c.amounts),
      first_order: c.first,
      last_order: c.last,
    }))
    .sort((a, b) => (a.customer_id < b.customer_id ? -1 : 1));
  return { text: `${lines.join('\n')}\n`, expected, rejects };
}

/** One session's expected row in the user-sessions job. */
export interface SessionExpected {
  user_id: string;
  session_start: number;
  session_end: number;
  events: number;
}

/**
 * Events as JSON Lines for user-sessions: `events` events of `users` users over 3 days, with
 * bursts (sessions) and pauses around `gapMs`, keys spelt `user_id`/`userId`, blank lines and bad
 * lines; the expected sessions are cut at `sessionGapMs` (default `gapMs`).
 */
export function eventsJsonl(
  seed: number,
  events: number,
  users: number,
  gapMs: number,
  sessionGapMs = gapMs,
): { text: string; expected: SessionExpected[]; rejects: Record<string, number> } {
  const rnd = random(seed);
  const lines: string[] = [];
  const rejects: Record<string, number> = {};
  const times = new Map<string, number[]>();
  const clock = new Map<string, number>();
  for (let i = 0; i < events; i++) {
    const r = rnd();
    if (r < 0.01) {
      lines.push('{"user_id": "u1", "ts": ');
      rejects.bad_json = (rejects.bad_json ?? 0) + 1;
      continue;
    }
    if (r < 0.02) {
      lines.push(JSON.stringify({ ts: '2026-01-01T00:00:00Z', event: 'x' }));
      rejects.missing_field = (rejects.missing_field ?? 0) + 1;
      continue;
    }
    if (r < 0.03) {
      lines.push(JSON.stringify({ user_id: 'u2', ts: 'yesterday' }));
      rejects.bad_timestamp = (rejects.bad_timestamp ?? 0) + 1;
      continue;
    }
    if (r < 0.035) {
      lines.push('   ');
      continue;
    }
    const user = `u${Math.floor(users * rnd() ** 1.5)}`;
    // Mostly small steps (inside a session), sometimes a pause longer than the gap.
    const step = rnd() < 0.15 ? gapMs + Math.floor(rnd() * 4 * 3600_000) : Math.floor(rnd() * gapMs * 0.9);
    const at = (clock.get(user) ?? BASE_MS + Math.floor(rnd() * 3600_000)) + (rnd() < 0.1 ? -step : step);
    clock.set(user, at);
    const list = times.get(user) ?? [];
    list.push(at);
    times.set(user, list);
    const key = rnd() < 0.3 ? 'userId' : 'user_id';
    lines.push(
      JSON.stringify({ [key]: user, ts: new Date(at).toISOString(), event: rnd() < 0.5 ? 'view' : 'click' }),
    );
  }
  const expected: SessionExpected[] = [];
  for (const [user_id, list] of times) {
    list.sort((a, b) => a - b);
    let start = list[0];
    let end = list[0];
    let n = 1;
    for (const t of list.slice(1)) {
      if (t - end <= sessionGapMs) {
        end = t;
        n++;
      } else {
        expected.push({ user_id, session_start: start, session_end: end, events: n });
        start = end = t;
        n = 1;
      }
    }
    expected.push({ user_id, session_start: start, session_end: end, events: n });
  }
  expected.sort((a, b) =>
    a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : a.session_start - b.session_start,
  );
  return { text: `${lines.join('\n')}\n`, expected, rejects };
}
