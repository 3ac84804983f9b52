/**
 * The bench's `shards` engine: runs the interactions job as N shard processes on this machine
 * (`--shard i/N` over a directory shuffle, as N pods would over S3), waits for all, and prints
 * one JSON line: shard 0's summary plus each shard's seconds, own rows and shuffle bytes.
 *
 *   node dist/bench/shards-run.js --shards N --input F --out D [-- extra run flags]
 */

import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const CLI = fileURLToPath(new URL('../coordinator/cli.js', import.meta.url));

interface ShardSummary {
  rows_read: number;
  rows_valid: number;
  seconds: number;
  shard?: { index: number; rows_read: number };
  shuffle_bytes?: { written: number; read: number };
}

function runShard(args: string[]): Promise<ShardSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`shard ${args.join(' ')} exited with ${code}`));
      const lines = stdout.trim().split('\n');
      resolve(JSON.parse(lines[lines.length - 1]) as ShardSummary);
    });
  });
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { shards: { type: 'string' }, input: { type: 'string' }, out: { type: 'string' } },
    allowPositionals: true,
  });
  const shards = Number(values.shards ?? 2);
  if (!Number.isInteger(shards) || shards < 1 || !values.input || !values.out)
    throw new Error('usage: shards-run --shards N --input F --out D [-- run flags]');
  const shuffle = join(values.out, '..', `shuffle-${shards}`);
  await rm(shuffle, { recursive: true, force: true });
  // Each shard gets an equal share of the cores, as a pod gets its CPU request.
  const workers = String(Math.max(1, Math.floor(2 / shards)));
  const started = performance.now();
  const summaries = await Promise.all(
    Array.from({ length: shards }, (_, i) =>
      runShard([
        ...['run', 'interactions', '--input', values.input!, '--out', values.out!],
        ...['--shard', `${i}/${shards}`, '--shuffle', shuffle, '--workers', workers],
        ...['--json', '--no-progress', '--no-pg', ...positionals],
      ]),
    ),
  );
  const wall = (performance.now() - started) / 1000;
  await rm(shuffle, { recursive: true, force: true });
  process.stdout.write(
    `${JSON.stringify({
      ...summaries[0],
      seconds: Number(wall.toFixed(3)),
      shards: summaries.map((s) => ({
        seconds: s.seconds,
        rows_read: s.shard?.rows_read ?? s.rows_read,
        shuffle_written: s.shuffle_bytes?.written ?? 0,
        shuffle_read: s.shuffle_bytes?.read ?? 0,
      })),
    })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`shards-run: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
