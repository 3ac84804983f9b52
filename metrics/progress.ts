import { UsageError } from '../errors.js';

/** Options for {@link startProgress}. */
export interface ProgressOptions {
  /** Shown first on every line, e.g. the input name. Required. */
  label: string;
  /** Input size in bytes; 0 when unknown (no bar, percentage or ETA then). Required. */
  totalBytes: number;
  /** Returns the totals so far, e.g. `LiveCounters#read`; called once per interval. Required. */
  read: () => { bytes: number; rows: number };
  /** Where to write. Default `process.stderr`. */
  stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Milliseconds between updates. Default 200 on a TTY, 5000 otherwise. */
  intervalMs?: number;
  /** One self-rewriting line (true) or plain log lines (false). Default `stream.isTTY`. */
  tty?: boolean;
}

/** A running progress display. */
export interface Progress {
  /** Shows `name` (e.g. `writing outputs`) in place of rates and ETA from now on; redraws at once. */
  setPhase(name: string): void;
  /** Stops updating and writes a last line (`final`, default the current progress) ending in a newline. */
  stop(final?: string): void;
}

/** Everything one progress line shows; input of {@link formatProgress}. */
export interface ProgressState {
  label: string;
  bytes: number;
  /** 0 when unknown. */
  totalBytes: number;
  rows: number;
  bytesPerSec: number;
  rowsPerSec: number;
  /** When set, shown instead of rates and ETA. */
  phase?: string;
  /** Self-rewriting terminal line (true) or plain log line (false). */
  tty: boolean;
  /** Terminal columns the TTY line must fit in. Default 80, also for 0 (what some terminals report). */
  width?: number;
}

/** Defaults for {@link ProgressOptions}. */
export const PROGRESS_DEFAULTS = Object.freeze({ ttyIntervalMs: 200, plainIntervalMs: 5000, width: 80 });

// Rates cover the last few seconds so a slow start or a stall shows up instead of averaging away.
const RATE_WINDOW_MS = 5000;
const BAR_MAX = 20;
const BAR_MIN = 5;
const CLEAR_LINE = '\r\x1b[2K';

/** Formats one progress line (without `\r` or newline); pure, never shows NaN or Infinity. */
export function formatProgress(state: ProgressState): string {
  const known = state.totalBytes > 0;
  const pct = known ? `${Math.min(100, Math.floor((state.bytes * 100) / state.totalBytes))}%` : '';
  const size = known ? formatBytePair(state.bytes, state.totalBytes) : formatBytes(state.bytes);
  const rowRate = `${formatCount(rate(state.rowsPerSec))} rows/s`;
  const byteRate = `${formatBytes(rate(state.bytesPerSec))}/s`;
  const eta = known ? `ETA ${formatEta(state)}` : '';

  if (!state.tty) {
    const tail = state.phase === undefined ? [rowRate, byteRate, eta] : [state.phase];
    const rows = `${Math.round(state.rows)} rows`;
    return `${state.label}: ${[[pct, size].filter(Boolean).join(' '), rows, ...tail].filter(Boolean).join(', ')}`;
  }

  // Leave the last column free: writing into it makes some terminals wrap. A terminal that reports
  // 0 columns (a serial console, some CI pseudo-terminals) or none at all gets the default width,
  // not a line cut to its first character.
  const width =
    state.width !== undefined && Number.isFinite(state.width) && state.width > 0
      ? state.width
      : PROGRESS_DEFAULTS.width;
  const max = Math.max(1, width - 1);
  const tails =
    state.phase === undefined ? [[rowRate, byteRate, eta], [rowRate, eta], [eta], []] : [[state.phase]];
  // Narrow terminal: shrink the bar, then drop it, then the byte rate, row rate and ETA.
  for (const [i, tail] of tails.entries()) {
    const rest = [size, ...tail].filter(Boolean).join('  ');
    if (known && i === 0) {
      const bar = Math.min(BAR_MAX, max - state.label.length - rest.length - 10);
      if (bar >= BAR_MIN)
        return `${state.label} [${formatBar(state.bytes / state.totalBytes, bar)}] ${pct.padStart(4)}  ${rest}`;
    }
    const line = [state.label, known ? pct : '', rest].filter(Boolean).join('  ');
    if (line.length <= max || i === tails.length - 1) return line.slice(0, max);
  }
  return '';
}

/** Starts drawing progress every `intervalMs` on `stream`; the timer never keeps the process alive. */
export function startProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? (stream as { isTTY?: boolean }).isTTY === true;
  const intervalMs =
    options.intervalMs ?? (tty ? PROGRESS_DEFAULTS.ttyIntervalMs : PROGRESS_DEFAULTS.plainIntervalMs);
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new UsageError(`progress option \`intervalMs\` must be a positive number, got ${intervalMs}`);
  }
  if (!Number.isFinite(options.totalBytes) || options.totalBytes < 0) {
    throw new UsageError(`progress option \`totalBytes\` must be a number >= 0, got ${options.totalBytes}`);
  }

  const samples = [{ t: performance.now(), ...options.read() }];
  let phase: string | undefined;
  let stopped = false;
  let blocked = false;

  const current = (): string => {
    const now = { t: performance.now(), ...options.read() };
    samples.push(now);
    while (samples.length > 2 && samples[1].t <= now.t - RATE_WINDOW_MS) samples.shift();
    const first = samples[0];
    const seconds = (now.t - first.t) / 1000;
    return formatProgress({
      label: options.label,
      bytes: now.bytes,
      totalBytes: options.totalBytes,
      rows: now.rows,
      bytesPerSec: seconds > 0 ? (now.bytes - first.bytes) / seconds : 0,
      rowsPerSec: seconds > 0 ? (now.rows - first.rows) / seconds : 0,
      phase,
      tty,
      width: (stream as { columns?: number }).columns,
    });
  };

  const write = (line: string, last: boolean): void => {
    // A congested stream drops frames instead of queueing them; the final line is always written.
    if (blocked && !last) return;
    const text = tty ? `${CLEAR_LINE}${line}${last ? '\n' : ''}` : `${line}\n`;
    if (!stream.write(text) && !blocked) {
      blocked = true;
      stream.once('drain', () => (blocked = false));
    }
  };

  const timer = setInterval(() => write(current(), false), intervalMs);
  timer.unref();

  return {
    setPhase(name) {
      phase = name;
      if (!stopped) write(current(), false);
    },
    stop(final) {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      write(final ?? current(), true);
    },
  };
}

function rate(perSec: number): number {
  return Number.isFinite(perSec) && perSec > 0 ? perSec : 0;
}

function formatEta(state: ProgressState): string {
  const left = state.totalBytes - state.bytes;
  if (left <= 0) return '0s';
  const perSec = rate(state.bytesPerSec);
  return perSec > 0 ? formatDuration(left / perSec) : '--';
}

function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 100 * 3600) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
  return '>99h';
}

function formatBar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return '#'.repeat(filled) + '-'.repeat(width - filled);
}

const BYTE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

function byteUnit(n: number): number {
  let i = 0;
  while (i < BYTE_UNITS.length - 1 && n >= 1000 ** (i + 1)) i++;
  return i;
}

function scaled(n: number, unit: number): string {
  return unit === 0 ? String(Math.round(n)) : (n / 1000 ** unit).toFixed(1);
}

function formatBytes(n: number): string {
  const unit = byteUnit(n);
  return `${scaled(n, unit)} ${BYTE_UNITS[unit]}`;
}

// Both sides in the total's unit, e.g. `193.2/470.1 MB`.
function formatBytePair(n: number, total: number): string {
  const unit = byteUnit(total);
  return `${scaled(n, unit)}/${scaled(total, unit)} ${BYTE_UNITS[unit]}`;
}

const COUNT_SUFFIXES = ['', 'k', 'M', 'G', 'T'];

// Three significant digits (a steady width on a rewriting line), e.g. 1.21M, 38.5k, 912.
function formatCount(n: number): string {
  if (n < 999.5) return String(Math.round(n));
  let i = 0;
  let v = n;
  // Scale by the rounded value so 999,600 becomes 1.00M, not 1.00e+3k.
  while (i < COUNT_SUFFIXES.length - 1 && Number(v.toPrecision(3)) >= 1000) {
    v /= 1000;
    i++;
  }
  return `${v.toPrecision(3)}${COUNT_SUFFIXES[i]}`;
}
