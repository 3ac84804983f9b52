/**
 * The time a job stamps into its outputs (a detection's time, a chunk's start). Results must be
 * testable byte for byte, so the clock can be fixed: SHARDFLOW_CLOCK=<ISO instant> makes every
 * reading return that instant (a test's two runs, one killed and resumed, then agree). Jobs read
 * the time through {@link now}, never `Date.now()` directly, where it reaches an output.
 */

import { UsageError } from '../errors.js';

/** The current time, or the fixed instant of SHARDFLOW_CLOCK. */
export function now(env: NodeJS.ProcessEnv = process.env): Date {
  const fixed = env.SHARDFLOW_CLOCK;
  if (fixed === undefined || fixed === '') return new Date();
  const ms = Date.parse(fixed);
  if (!Number.isFinite(ms))
    throw new UsageError(
      `SHARDFLOW_CLOCK must be an ISO 8601 instant such as 2026-01-01T00:00:00Z, got "${fixed}"`,
    );
  return new Date(ms);
}

/**
 * `date` in a fixed UTC offset, `YYYY-MM-DDTHH:mm:ss.SSS±HH:MM` (e.g. IST is 330 minutes:
 * `2026-01-01T05:30:00.000+05:30`), the way the bank job's files show times.
 */
export function offsetTimeText(date: Date, offsetMinutes: number): string {
  const shifted = new Date(date.getTime() + offsetMinutes * 60_000).toISOString(); // …Z
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${shifted.slice(0, 23)}${sign}${hh}:${mm}`;
}
