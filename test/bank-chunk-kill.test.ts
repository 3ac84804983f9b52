/**
 * kill -9 of the chunker (issue #11, X) at 10 seeded random moments, then a rerun to the end: the
 * chunks are byte for byte those of an uninterrupted run, and so is the pointer, with PostgreSQL
 * and with the pointer read off the chunks (the harness of kill-nine.test.ts: a fresh output
 * folder and schema for each kill, so each meets a different partial state).
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, filesUnder, runCli } from './helpers/run-cli.js';
import { mulberry32 } from './helpers/mulberry32.js';
import { dropSchema, randomSchema, rawClient, testPgUrl } from './pg-test-env.js';

const KILLS = 10;
let dir = '';
let input = '';

/** 3,000 records with quoted commas and line breaks, CRLF lines and blank lines. */
function transactions(seed: number, n: number): string {
  const next = mulberry32(seed);
  let text = 'CustomerId,MerchantId,transaction_value,note\n';
  for (let i = 0; i < n; i++) {
    if (next() % 100 === 0) text += '\n';
    const note = next() % 10 === 0 ? `"a ""quoted"",\nnote"` : `n${next() % 1000}`;
    text += `C${next() % 500},M${next() % 40},${(next() % 50000) / 100},${note}${next() % 5 === 0 ? '\r\n' : '\n'}`;
  }
  return text;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardflow-bchunk-kill9-'));
  input = join(dir, 'transactions.csv');
  await writeFile(input, transactions(2026, 3000));
});
after(() => rm(dir, { recursive: true, force: true }));

/** sha256 of every file under `root` (hidden and temporary files included: none may be left). */
async function fileHashes(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await filesUnder(root))
    out[name] = createHash('sha256')
      .update(await readFile(join(root, name)))
      .digest('hex');
  return out;
}

async function pointerRows(schema: string): Promise<string[][]> {
  const client = await rawClient();
  try {
    const { rows } = await client.query<{ source: string; last_index: string }>(
      `SELECT source, last_index::text FROM "${schema}".transaction_pointer ORDER BY id`,
    );
    return rows.map((r) => [r.source, r.last_index]);
  } finally {
    await client.end();
  }
}

/** Starts the run and SIGKILLs it after `ms`; resolves once it is gone, with whether it was killed. */
async function runAndKill(args: string[], ms: number): Promise<{ killed: boolean; ranMs: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
  const exited = new Promise<void>((ok) => child.on('exit', () => ok()));
  const outcome = await Promise.race([
    exited.then(() => 'finished' as const),
    sleep(ms).then(() => 'timer' as const),
  ]);
  if (outcome === 'finished') return { killed: false, ranMs: performance.now() - started };
  child.kill('SIGKILL');
  await exited;
  return { killed: true, ranMs: ms };
}

const CASES = [
  { name: 'with PostgreSQL', pg: true },
  { name: 'with the pointer read off the chunks', pg: false },
];

for (const c of CASES) {
  test(`kill -9 at ${KILLS} random moments, then a rerun: the same chunks and pointer, ${c.name}`, async (t) => {
    const args = (out: string, schema: string, tmp: string, every: string) => [
      ...['run', 'bank-chunk', '--input', input, '--out', out, '--rows', '100', '--every', every],
      ...(c.pg ? ['--pg', testPgUrl(), '--pg-schema', schema] : ['--no-pg']),
      ...['--tmp-dir', tmp, '--json', '--no-progress'],
    ];
    const refSchema = randomSchema('bck9ref');
    t.after(() => dropSchema(refSchema));
    const refOut = join(dir, `ref-${c.pg}`);
    const refTmp = await mkdtemp(join(dir, 'tmp-'));
    const t0 = performance.now();
    // Paced a little, so that the kills meet chunks being written, not only the start-up.
    const ref = await runCli(args(refOut, refSchema, refTmp, '20ms'));
    assert.equal(ref.code, 0, ref.stderr);
    let wallMs = performance.now() - t0;
    const refFiles = await fileHashes(refOut);
    assert.equal(Object.keys(refFiles).length, 31, 'thirty chunks and _SUCCESS');
    const refPointer = c.pg ? await pointerRows(refSchema) : [];
    if (c.pg) assert.deepEqual(refPointer, [[resolve(input), '3000']]);
    const rnd = mulberry32(c.pg ? 7 : 8);
    let killed = 0;
    let partial = 0;
    for (let k = 0; killed < KILLS && k < 3 * KILLS; k++) {
      const schema = randomSchema('bck9');
      const out = join(dir, `out-${c.pg}-${k}`);
      const tmp = await mkdtemp(join(dir, 'tmp-'));
      try {
        const at = Math.floor((rnd() / 2 ** 32) * wallMs);
        const attempt = await runAndKill(args(out, schema, tmp, '20ms'), at);
        if (attempt.killed) killed++;
        else wallMs = Math.min(wallMs, attempt.ranMs);
        const left = (await readdir(out).catch(() => [])).filter((n) => n.startsWith('txn_batch_')).length;
        if (left > 0 && left < 30) partial++;
        const rerun = await runCli(args(out, schema, tmp, '0'));
        assert.equal(rerun.code, 0, `rerun after a kill at ${at} ms: ${rerun.stderr}`);
        assert.deepEqual(await fileHashes(out), refFiles, `chunks after a kill at ${at} ms`);
        if (c.pg) assert.deepEqual(await pointerRows(schema), refPointer, `pointer after a kill at ${at} ms`);
        assert.deepEqual(await readdir(tmp), [], `no scratch left after a kill at ${at} ms and a rerun`);
      } finally {
        if (c.pg) await dropSchema(schema);
        await rm(out, { recursive: true, force: true });
        await rm(tmp, { recursive: true, force: true });
      }
    }
    assert.equal(killed, KILLS, 'every kill landed before its run ended');
    assert.ok(partial >= 2, `${partial} kills left some chunks but not all (the rest came before the first)`);
  });
}
