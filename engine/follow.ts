/**
 * Follow mode (../shared/ARCHITECTURE.md, "Long-running jobs"): a job that watches its input does
 * its work in steps (one object, one chunk) and, when a step finds nothing to do, waits and looks
 * again. The wait starts at the poll interval and doubles while nothing arrives, up to a ceiling,
 * so an idle follower costs a listing every few seconds, and drops back to the interval as soon as
 * work appears. A stop signal (SIGTERM/SIGINT) ends the wait at once; the loop never cuts a step.
 */

/** Options of {@link followLoop}. */
export interface FollowOptions {
  /** Keep watching when a step finds nothing to do; false: return as soon as one does. */
  readonly follow: boolean;
  /** The first wait after an idle step, in ms. */
  readonly pollMs: number;
  /** The longest wait, in ms; default 8 × pollMs (at least pollMs). */
  readonly maxPollMs?: number;
  /** Ends the loop between steps and cuts a wait short. */
  readonly signal?: AbortSignal;
  /** Told before each wait, e.g. to set a metric or write a progress line. */
  onIdle?(waitMs: number): void;
}

/** Why {@link followLoop} returned. */
export type FollowEnd = 'drained' | 'stopped';

/**
 * Runs `step` while it reports work done (true). When it reports none: without `follow`, returns
 * 'drained'; with `follow`, waits (backing off) and calls it again, until `signal` aborts
 * ('stopped'). A step that throws ends the loop with its error.
 */
export async function followLoop(options: FollowOptions, step: () => Promise<boolean>): Promise<FollowEnd> {
  const base = Math.max(0, options.pollMs);
  const ceiling = Math.max(base, options.maxPollMs ?? base * 8);
  let wait = base;
  for (;;) {
    if (options.signal?.aborted) return 'stopped';
    if (await step()) {
      wait = base;
      continue;
    }
    if (!options.follow) return 'drained';
    options.onIdle?.(wait);
    await sleep(wait, options.signal);
    wait = Math.min(ceiling, Math.max(1, wait * 2));
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
