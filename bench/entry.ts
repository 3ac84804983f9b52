/** The entry of a bench script that is also imported as a module (the harness, the DuckDB peers). */

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ShardflowError } from '../errors.js';

/**
 * Runs `main` when the module at `moduleUrl` is the process's entry script: an error is one line
 * on stderr, `<name>: message`, and the exit code is the error's own (2 for bad usage) or 1.
 */
export function runAsEntry(moduleUrl: string, name: string, main: () => Promise<void>): void {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(resolve(process.argv[1])).href) return;
  main().catch((err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof ShardflowError ? err.exitCode : 1;
  });
}
