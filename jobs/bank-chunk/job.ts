/**
 * The bank chunker on the engine (issue #11, part X; seed 001's "Mechanism X"): cuts a
 * transactions CSV into chunks of `--rows` records, `txn_batch_<first index>.csv` under `--out`,
 * one every `--every`, in file order or by one column, with its pointer in PostgreSQL
 * (`transaction_pointer`) or read off the chunks already written, so a restart after any kill
 * goes on where the last committed chunk ended. A kernel job with no pool tasks: the work is one
 * sequential read in the main thread. This module stays light; the kernel loads in `run`.
 */

import { csv, defineJob } from 'shardflow';
import type { KernelContext } from 'shardflow/kernel';
import { BANK_CHUNK_OPTIONS, type BankChunkOptions } from './options.js';

export default defineJob<BankChunkOptions>({
  name: 'bank-chunk',
  description:
    'transactions CSV → chunks of --rows records every --every (seed 001, mechanism X), resumable by a pointer',
  options: BANK_CHUNK_OPTIONS,
  // For --help and the engine's input expansion (`--input` names it too). X reads any CSV and
  // checks no column (the detector drops bad rows); the engine asks for at least one declared
  // column, so the one the seed orders by stands here, optional, and is never bound.
  inputs: {
    transactions: csv({ columns: { CustomerId: { required: false } } }),
  },
  kernel: {
    reasons: [],
    owner: () => 0,
    runTask: () => Promise.reject(new Error('bank-chunk runs no pool tasks')),
    async run(ctx) {
      const { runBankChunk } = await import('./run.js');
      return runBankChunk(ctx as KernelContext<BankChunkOptions>);
    },
    summaryLines: (s) => [
      ['chunks written', s.chunks_written as number],
      ['pointer', `${String(s.pointer_before)} → ${String(s.pointer_after)} (${String(s.pointer_kind)})`],
      ['blank lines', s.blank_lines as number],
      ...(s.sort_runs === undefined
        ? []
        : [['sorted runs spilled', s.sort_runs as number] as [string, number]]),
    ],
  },
});
