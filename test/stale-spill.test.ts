/**
 * A run removes the scratch directories that dead runs left in its `--tmp-dir` (issue #10), and
 * only those: not a live process's, not another host's, not one without an owner file unless it
 * is an old-layout spill directory untouched for a day.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OWNER_FILE, startTicksOf, type ScratchOwner } from '../coordinator/scratch-dir.js';
import { runCli, tempDir } from './helpers/run-cli.js';

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid as number;
}

async function scratchDir(root: string, name: string, owner: Partial<ScratchOwner> | null, bytes = 0) {
  const dir = join(root, name);
  await mkdir(dir);
  if (owner !== null) {
    const full: ScratchOwner = {
      pid: process.pid,
      startTicks: startTicksOf(process.pid),
      bootId: null,
      hostname: hostname(),
      created: new Date().toISOString(),
      ...owner,
    };
    await writeFile(join(dir, OWNER_FILE), JSON.stringify(full));
  }
  if (bytes > 0) await writeFile(join(dir, 'spill-0.bin'), Buffer.alloc(bytes));
  return dir;
}

test('a run removes the spill of dead runs and keeps the rest', async (t) => {
  const work = await tempDir(t);
  const tmp = join(work, 'tmp');
  await mkdir(tmp);
  const dead = await deadPid();
  const ticks = startTicksOf(process.pid);
  const dayAgo = new Date(Date.now() - 25 * 3600 * 1000);

  await scratchDir(tmp, `shardflow-${dead}-x`, { pid: dead }, 2_000_000);
  await scratchDir(tmp, `shardflow-${process.pid}-live`, {}, 1000);
  await scratchDir(tmp, `shardflow-${dead}-elsewhere`, { pid: dead, hostname: `not-${hostname()}` });
  if (ticks !== null) {
    // This test's pid, but a process that started at another time: the pid was reused.
    await scratchDir(tmp, `shardflow-${process.pid}-reused`, { startTicks: ticks + 1 }, 1000);
  }
  const oldLegacy = await scratchDir(tmp, 'shardflow-Ab12Cd', null, 1000);
  await utimes(oldLegacy, dayAgo, dayAgo);
  await scratchDir(tmp, 'shardflow-callsign-Xy34Zw', null, 1000); // fresh: may be a live old run
  const notSpill = await scratchDir(tmp, 'shardflow-output', null);
  await writeFile(join(notSpill, 'notes.txt'), 'not a spill file');
  await utimes(notSpill, dayAgo, dayAgo);
  await mkdir(join(tmp, 'other-program'));

  const input = join(work, 'in.csv');
  assert.equal((await runCli(['generate', 'interactions', '--rows', '2000', '--out', input])).code, 0);
  const result = await runCli([
    ...['run', 'interactions', '--input', input, '--out', join(work, 'out'), '--tmp-dir', tmp],
    ...['--workers', '1', '--no-pg', '--no-progress', '--json'],
  ]);
  assert.equal(result.code, 0, result.stderr);

  const removed = ticks === null ? 2 : 3;
  const line = /^removed (\d+) stale spill directories \(([\d.]+) MB\) left by dead runs in (.+)$/m.exec(
    result.stderr,
  );
  assert.ok(line, `one line names what was removed: ${result.stderr}`);
  assert.equal(Number(line[1]), removed);
  assert.ok(Number(line[2]) >= 2.0, `at least the 2 MB spill counted: ${line[2]} MB`);
  assert.equal(line[3], tmp);

  assert.deepEqual(
    (await readdir(tmp)).sort(),
    [
      'other-program',
      'shardflow-callsign-Xy34Zw',
      `shardflow-${dead}-elsewhere`,
      `shardflow-${process.pid}-live`,
      'shardflow-output',
    ].sort(),
    'dead runs removed, the run removed its own, everything else kept',
  );
});
