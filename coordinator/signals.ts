/**
 * SIGTERM and SIGINT while a run lasts (issue #10): the first starts an orderly stop (the caller's
 * `stop`: abort the uploads in flight, end the workers, remove the run's scratch directory), then
 * the process exits with 128 + the signal's number (143 for SIGTERM, 130 for SIGINT), as a shell
 * reports a process killed by that signal. The stop is bounded in time: after `timeoutMs` the
 * process runs the synchronous last resort and exits anyway. A second signal exits at once.
 */

import { constants } from 'node:os';

/** The signals that stop a run. */
export const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** Options of {@link handleStopSignals}. */
export interface StopSignalOptions {
  /** Aborts what is in flight and removes what the run leaves; resolves with the uploads aborted. */
  stop(signal: StopSignal): Promise<number>;
  /** Runs, synchronously, when `stop` failed or did not finish in time, just before the exit. */
  lastResort?(): void;
  /** How long `stop` may take; default 10 s. */
  timeoutMs?: number;
  /** Receives the one line that says how the run stopped; default stderr. */
  write?(line: string): void;
  /** Ends the process; default `process.exit`. */
  exit?(code: number): void;
}

export const STOP_SIGNAL_DEFAULTS = Object.freeze({ timeoutMs: 10_000 });

/** Handlers installed by {@link handleStopSignals}. */
export interface StopSignalHandlers {
  /**
   * Null until a signal arrives; then a promise that never settles, since the stop ends the
   * process: code that would otherwise finish the run (and print an error) awaits it instead.
   */
  readonly stopping: Promise<never> | null;
  /** Removes the handlers (the signals' defaults apply again); a stop under way keeps them. */
  uninstall(): void;
}

/** The exit code of a process stopped by `signal`: 128 + its number. */
export function exitCodeOf(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/** Installs the SIGTERM and SIGINT handlers of a run; see the module comment. */
export function handleStopSignals(options: StopSignalOptions): StopSignalHandlers {
  const timeoutMs = options.timeoutMs ?? STOP_SIGNAL_DEFAULTS.timeoutMs;
  const write = options.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping: Promise<never> | null = null;
  let uninstalled = false;

  const giveUp = (signal: StopSignal, why: string) => {
    try {
      options.lastResort?.();
    } catch {
      // The process exits next either way; the next run's sweep removes what is left.
    }
    write(`shardflow: stopped by ${signal}; ${why}`);
    exit(exitCodeOf(signal));
  };

  const onSignal = (signal: StopSignal) => {
    if (stopping !== null) {
      write(`shardflow: ${signal} during the stop; exiting now`);
      exit(exitCodeOf(signal));
      return;
    }
    stopping = new Promise<never>(() => {});
    // A progress line on a terminal may not have ended: start the message on a line of its own.
    if (options.write === undefined && process.stderr.isTTY) process.stderr.write('\n');
    const timer = setTimeout(
      () => giveUp(signal, `cleanup did not finish within ${timeoutMs / 1000} s`),
      timeoutMs,
    );
    options.stop(signal).then(
      (uploads) => {
        clearTimeout(timer);
        write(`shardflow: stopped by ${signal}; removed spill, aborted ${uploads} uploads`);
        exit(exitCodeOf(signal));
      },
      (err: unknown) => {
        clearTimeout(timer);
        giveUp(signal, `cleanup failed (${err instanceof Error ? err.message : String(err)})`);
      },
    );
  };

  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  return {
    get stopping() {
      return stopping;
    },
    uninstall() {
      if (stopping !== null || uninstalled) return;
      uninstalled = true;
      for (const s of STOP_SIGNALS) process.off(s, onSignal);
    },
  };
}
