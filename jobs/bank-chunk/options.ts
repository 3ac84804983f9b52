/**
 * The chunker's options (issue #11, X), as `shardflow run bank-chunk --help` shows them, and
 * their checks beyond what the engine's option types check.
 */

import { UsageError, type OptionSpec } from 'shardflow';

/** The options as the engine hands them over (durations in ms). */
export interface BankChunkOptions {
  rows: number;
  every: number;
  'order-by': string;
  follow: boolean;
  poll: number;
  'sort-memory': string;
}

export const BANK_CHUNK_OPTIONS: Readonly<Record<keyof BankChunkOptions, OptionSpec>> = Object.freeze({
  rows: { type: 'integer', default: 1000, help: 'records per chunk' },
  every: {
    type: 'duration',
    default: '7s',
    help: 'chunk k is committed no earlier than k·every after the start; 0: as fast as possible',
  },
  'order-by': {
    type: 'string',
    default: '',
    help: "chunk in this column's order (stable, by its bytes) instead of file order",
  },
  follow: { type: 'boolean', help: 'at the end of the input, wait for it to grow (full chunks only)' },
  poll: {
    type: 'duration',
    default: '2s',
    help: 'with --follow: the first wait for growth (then backs off)',
  },
  'sort-memory': {
    type: 'string',
    default: '64MiB',
    help: 'with --order-by: records held in memory before a sorted run is spilled to --tmp-dir',
  },
});

/** The checked options, with the sort budget in bytes. */
export interface CheckedOptions {
  readonly rows: number;
  readonly everyMs: number;
  readonly orderBy: string | null;
  readonly follow: boolean;
  readonly pollMs: number;
  readonly sortBytes: number;
}

const SIZE = /^(\d+)(B|KiB|MiB|GiB)?$/;
const UNIT: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** Checks the combinations and ranges; a bad one is one line naming the option (exit 2). */
export function checkOptions(o: Readonly<BankChunkOptions>): CheckedOptions {
  if (o.rows < 1) throw new UsageError(`--rows must be at least 1, got ${o.rows}`);
  if (o.poll <= 0) throw new UsageError('--poll must be more than 0');
  const orderBy = o['order-by'] === '' ? null : o['order-by'];
  if (orderBy !== null && o.follow)
    throw new UsageError(
      '--order-by needs the whole input before the first chunk, so it cannot --follow a growing one',
    );
  const m = SIZE.exec(o['sort-memory'].trim());
  const sortBytes = m === null ? NaN : Number(m[1]) * UNIT[m[2] ?? 'B'];
  if (!(sortBytes >= 64 * 1024))
    throw new UsageError(
      `--sort-memory must be a size of at least 64KiB such as 256MiB, got "${o['sort-memory']}"`,
    );
  return { rows: o.rows, everyMs: o.every, orderBy, follow: o.follow, pollMs: o.poll, sortBytes };
}
