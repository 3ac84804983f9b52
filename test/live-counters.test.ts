import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { LiveCounters } from '../metrics/live-counters.js';

const WORKERS = 4;
const BLOCKS = 50_000;
const BLOCK_BYTES = 65_536;
const BLOCK_ROWS = 731;

// Each worker opens the same counters from the posted buffer, waits at a shared gate so all start
// together, then adds once per simulated 64 KiB block.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.moduleUrl).then(({ LiveCounters }) => {
  const counters = LiveCounters.from(workerData.buffer);
  const gate = new Int32Array(workerData.gate);
  parentPort.postMessage('ready');
  Atomics.wait(gate, 0, 0);
  for (let i = 0; i < workerData.blocks; i++) {
    counters.addBytes(workerData.blockBytes);
    counters.addRows(workerData.blockRows);
  }
  parentPort.postMessage('done');
});
`;

test('worker threads add to the same live counters concurrently; totals are exact past 2^32', async () => {
  const counters = LiveCounters.create();
  const gate = new SharedArrayBuffer(4);
  const moduleUrl = new URL('../metrics/live-counters.js', import.meta.url).href;
  const workerData = {
    moduleUrl,
    buffer: counters.buffer,
    gate,
    blocks: BLOCKS,
    blockBytes: BLOCK_BYTES,
    blockRows: BLOCK_ROWS,
  };
  const workers = Array.from({ length: WORKERS }, () => new Worker(workerSource, { eval: true, workerData }));
  const message = (w: Worker, expected: string) =>
    new Promise<void>((resolve, reject) => {
      w.once('error', reject);
      w.once('message', (m) => (m === expected ? resolve() : reject(new Error(`unexpected ${m}`))));
    });
  try {
    await Promise.all(workers.map((w) => message(w, 'ready')));
    const done = Promise.all(workers.map((w) => message(w, 'done')));
    Atomics.store(new Int32Array(gate), 0, 1);
    Atomics.notify(new Int32Array(gate), 0);

    // The main thread reads while workers add: totals only ever grow and rows track bytes per block.
    let last = counters.read();
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished) {
      const now = counters.read();
      assert.ok(now.bytes >= last.bytes && now.rows >= last.rows);
      last = now;
      await new Promise((r) => setImmediate(r));
    }
    await done;

    const expectedBytes = WORKERS * BLOCKS * BLOCK_BYTES;
    assert.ok(expectedBytes > 2 ** 32);
    assert.deepEqual(counters.read(), { bytes: expectedBytes, rows: WORKERS * BLOCKS * BLOCK_ROWS });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
});

test('single adds above 2^32 and from() over the same buffer', () => {
  const a = LiveCounters.create();
  assert.deepEqual(a.read(), { bytes: 0, rows: 0 });
  a.addBytes(2 ** 40);
  a.addBytes(2 ** 33 + 1);
  a.addRows(2 ** 32 + 7);
  const b = LiveCounters.from(a.buffer);
  b.addRows(1);
  assert.deepEqual(a.read(), { bytes: 2 ** 40 + 2 ** 33 + 1, rows: 2 ** 32 + 8 });
  assert.deepEqual(b.read(), a.read());
  assert.throws(() => LiveCounters.from(new SharedArrayBuffer(8)), TypeError);
  assert.throws(() => LiveCounters.from(new ArrayBuffer(128) as unknown as SharedArrayBuffer), TypeError);
});
