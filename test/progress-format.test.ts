import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { formatProgress, startProgress } from '../metrics/progress.js';
import type { ProgressState } from '../metrics/progress.js';

const base: ProgressState = {
  label: 'interactions',
  bytes: 193.2e6,
  totalBytes: 470.1e6,
  rows: 4_812_331,
  bytesPerSec: 38.5e6,
  rowsPerSec: 1.21e6,
  tty: true,
  width: 120,
};

test('formatProgress: TTY line with bar, percent, sizes, rates and ETA', () => {
  assert.equal(
    formatProgress(base),
    'interactions [########------------]  41%  193.2/470.1 MB  1.21M rows/s  38.5 MB/s  ETA 8s',
  );
  assert.equal(
    formatProgress({ ...base, bytes: 470.1e6 }),
    'interactions [####################] 100%  470.1/470.1 MB  1.21M rows/s  38.5 MB/s  ETA 0s',
  );
  // ETA past a minute and an hour.
  assert.match(formatProgress({ ...base, bytesPerSec: 1e6 }), /ETA 4m37s$/);
  assert.match(formatProgress({ ...base, bytesPerSec: 50e3 }), /ETA 1h32m$/);
});

test('formatProgress: plain log line', () => {
  assert.equal(
    formatProgress({ ...base, tty: false }),
    'interactions: 41% 193.2/470.1 MB, 4812331 rows, 1.21M rows/s, 38.5 MB/s, ETA 8s',
  );
  assert.equal(
    formatProgress({ ...base, tty: false, phase: 'writing outputs' }),
    'interactions: 41% 193.2/470.1 MB, 4812331 rows, writing outputs',
  );
});

test('formatProgress: zero, negative and non-finite rates and an unknown total never show NaN or Infinity', () => {
  const cases: ProgressState[] = [
    { ...base, bytesPerSec: 0, rowsPerSec: 0 },
    { ...base, bytesPerSec: NaN, rowsPerSec: Infinity },
    { ...base, bytesPerSec: -5, rowsPerSec: -5 },
    { ...base, bytes: 0, rows: 0, bytesPerSec: 0, rowsPerSec: 0 },
    { ...base, totalBytes: 0 },
    { ...base, totalBytes: 0, bytes: 0, rows: 0, bytesPerSec: 0, rowsPerSec: 0 },
  ];
  for (const state of cases) {
    for (const tty of [true, false]) {
      const line = formatProgress({ ...state, tty });
      assert.doesNotMatch(line, /NaN|Infinity|undefined/, line);
    }
  }
  assert.match(formatProgress(cases[0]), / 0 rows\/s {2}0 B\/s {2}ETA --$/);
  assert.match(formatProgress({ ...cases[0], tty: false }), /, 0 rows\/s, 0 B\/s, ETA --$/);
  // Unknown size: no bar, percent or ETA.
  assert.equal(
    formatProgress({ ...base, totalBytes: 0, tty: false }),
    'interactions: 193.2 MB, 4812331 rows, 1.21M rows/s, 38.5 MB/s',
  );
  assert.equal(formatProgress({ ...base, totalBytes: 0 }), 'interactions  193.2 MB  1.21M rows/s  38.5 MB/s');
});

test('formatProgress: the TTY line fits the terminal width', () => {
  for (let width = 10; width <= 120; width++) {
    const line = formatProgress({ ...base, width });
    assert.ok(line.length < width, `width ${width}: ${line.length} chars: ${line}`);
  }
  assert.match(formatProgress({ ...base, width: 80 }), /^interactions \[#+-+\] {2}41% .* ETA 8s$/);
  assert.equal(
    formatProgress({ ...base, width: 60 }),
    'interactions  41%  193.2/470.1 MB  1.21M rows/s  ETA 8s',
  );
});

test('formatProgress: a terminal reporting 0 columns, or none, gets the default width', () => {
  const atDefault = formatProgress({ ...base, width: 80 });
  assert.match(atDefault, /^interactions \[#+-+\] {2}41% .* ETA 8s$/);
  for (const width of [0, undefined, -1, Number.NaN]) {
    assert.equal(formatProgress({ ...base, width }), atDefault, `width ${width}`);
  }
});

test('startProgress on a TTY whose stream reports 0 columns draws whole lines', async () => {
  // A real terminal cannot be made to report 0 columns on demand: a stream object that does.
  const stream = Object.assign(new PassThrough(), { columns: 0 });
  const output = collect(stream);
  const progress = startProgress({
    label: 'interactions',
    totalBytes: 10e6,
    read: () => ({ bytes: 5e6, rows: 5000 }),
    stream,
    tty: true,
    intervalMs: 20,
  });
  await sleep(100);
  progress.setPhase('writing outputs');
  progress.stop();
  const frames = output().split('\r\x1b[2K').filter(Boolean);
  assert.ok(frames.length >= 2, JSON.stringify(output()));
  for (const frame of frames.slice(0, -1)) {
    assert.ok(frame.length > 1 && frame.length < 80, JSON.stringify(frame));
    assert.match(frame, /^interactions .*50%/);
  }
  assert.ok(frames.some((f) => f.includes('writing outputs')));
});

function collect(stream: PassThrough): () => string {
  let out = '';
  stream.on('data', (d: Buffer) => (out += d.toString()));
  return () => out;
}

test('startProgress on a non-TTY stream prints plain lines, a phase, and stops', async () => {
  const stream = new PassThrough();
  const output = collect(stream);
  let bytes = 0;
  const read = () => ({ bytes: (bytes += 1_000_000), rows: bytes / 100 });
  const progress = startProgress({ label: 'interactions', totalBytes: 100e6, read, stream, intervalMs: 20 });
  await sleep(150);
  progress.setPhase('writing outputs');
  await sleep(50);
  progress.stop('interactions: done');
  const lines = output().split('\n');
  assert.equal(lines.pop(), '', 'output ends with a newline');
  const reading = lines.filter((l) => l.endsWith('s') && l.includes('ETA'));
  assert.ok(reading.length >= 2, output());
  for (const line of reading) {
    assert.match(
      line,
      /^interactions: \d+% [\d.]+\/100\.0 MB, \d+ rows, [\d.]+k rows\/s, [\d.]+ MB\/s, ETA \S+$/,
    );
  }
  assert.ok(lines.some((l) => l.endsWith(', writing outputs')));
  assert.equal(lines.at(-1), 'interactions: done');
  assert.ok(!output().includes('\r'));

  const before = output().length;
  await sleep(80);
  assert.equal(output().length, before, 'no output after stop()');
  progress.stop();
  assert.equal(output().length, before, 'stop() twice is a no-op');
});

test('startProgress on a TTY rewrites one line and stop() ends it with a newline', async () => {
  const stream = Object.assign(new PassThrough(), { columns: 70 });
  const output = collect(stream);
  const progress = startProgress({
    label: 'interactions',
    totalBytes: 10e6,
    read: () => ({ bytes: 5e6, rows: 5000 }),
    stream,
    tty: true,
    intervalMs: 20,
  });
  await sleep(150);
  progress.stop();
  const frames = output().split('\r\x1b[2K').filter(Boolean);
  assert.ok(frames.length >= 2, JSON.stringify(output()));
  for (const frame of frames.slice(0, -1)) {
    assert.ok(!frame.includes('\n') && frame.length < 70, JSON.stringify(frame));
    assert.match(frame, /^interactions .*50%/);
  }
  assert.ok(frames.at(-1)!.endsWith('\n'));
});

test('startProgress: the timer does not keep the process alive; bad interval is a usage error', () => {
  const url = new URL('../metrics/progress.js', import.meta.url).href;
  const script = `import { startProgress } from ${JSON.stringify(url)};
    startProgress({ label: 'x', totalBytes: 10, read: () => ({ bytes: 1, rows: 1 }), intervalMs: 10, tty: false });`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 });
  assert.equal(child.signal, null, 'process exited on its own');
  assert.equal(child.status, 0, child.stderr.toString());

  const read = () => ({ bytes: 0, rows: 0 });
  assert.throws(() => startProgress({ label: 'x', totalBytes: 1, read, intervalMs: 0 }), /`intervalMs`/);
  assert.throws(() => startProgress({ label: 'x', totalBytes: NaN, read }), /`totalBytes`/);
});
