/**
 * A run's scratch directory (its spill files), owned by the run: `<tmp>/shardflow-<pid>-<random>/`
 * with an owner file naming the process that made it (pid, that process's start time, the boot,
 * the host). A run that is killed leaves its directory behind; the next run in the same `--tmp-dir`
 * finds that the owner is dead and removes it (issue #10).
 *
 * An owner counts as dead only when all of this holds: the owner file names this host, and the
 * pid no longer exists (`kill(pid, 0)` fails with ESRCH), or the machine has booted since (the
 * Linux boot id differs), or the pid now belongs to a process that started at another time (the
 * starttime of `/proc/<pid>/stat`, where there is one). A directory of another host, of a live
 * owner, or without a readable owner file is kept; directories of the older layout
 * (`shardflow-XXXXXX`, `shardflow-callsign-XXXXXX`, which named no owner) are removed only when
 * they hold nothing but spill files and were last modified more than 24 hours ago.
 */

import { readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

/** A run's own scratch directory; see {@link openScratchDir}. */
export interface ScratchDir {
  /** The directory's absolute path. */
  readonly path: string;
  /** Removes the directory and everything in it; safe to call more than once. */
  remove(): Promise<void>;
  /** {@link remove}, blocking: for the last moments of a process that is about to exit. */
  removeSync(): void;
}

/** Options of {@link openScratchDir}. */
export interface ScratchDirOptions {
  /** Receives the one line that reports stale directories removed; default none. */
  log?: (line: string) => void;
  /** Age after which a directory of the older layout (no owner file) is stale; default 24 h. */
  legacyMaxAgeMs?: number;
}

/** The owner file of a scratch directory. */
export interface ScratchOwner {
  pid: number;
  /** Start time of the process (clock ticks since boot, from /proc/<pid>/stat); null off Linux. */
  startTicks: number | null;
  /** The Linux boot id; null off Linux. */
  bootId: string | null;
  hostname: string;
  /** When the directory was made (ISO time), for people reading it. */
  created: string;
}

export const OWNER_FILE = 'owner.json';
const DEFAULT_LEGACY_MAX_AGE_MS = 24 * 60 * 60 * 1000;
const OWNED = /^shardflow-\d+-[A-Za-z0-9]+$/;
/** What `mkdtemp(join(tmpDir, 'shardflow-'))` and `'shardflow-callsign-'` made before owner files. */
const LEGACY = /^shardflow-(callsign-)?[A-Za-z0-9]{6}$/;
/** The files a legacy directory may hold for it to count as spill (the two jobs' spill names). */
const LEGACY_SPILL = /^(spill-\d+\.bin(\.rows|\.rejects)?|split-\d+\.spill)$/;

/**
 * Removes the stale scratch directories of dead runs in `tmpDir` (default the OS temp directory),
 * then makes this run's own, with its owner file.
 */
export async function openScratchDir(tmpDir?: string, options: ScratchDirOptions = {}): Promise<ScratchDir> {
  const root = tmpDir ?? tmpdir();
  await mkdir(root, { recursive: true });
  const swept = await sweepStaleScratchDirs(root, options.legacyMaxAgeMs ?? DEFAULT_LEGACY_MAX_AGE_MS);
  if (swept.dirs > 0) {
    const mb = (swept.bytes / 1e6).toFixed(1);
    options.log?.(`removed ${swept.dirs} stale spill directories (${mb} MB) left by dead runs in ${root}`);
  }
  const path = await mkdtemp(join(root, `shardflow-${process.pid}-`));
  const owner: ScratchOwner = {
    pid: process.pid,
    startTicks: startTicksOf(process.pid),
    bootId: bootId(),
    hostname: hostname(),
    created: new Date().toISOString(),
  };
  await writeFile(join(path, OWNER_FILE), `${JSON.stringify(owner)}\n`);
  return {
    path,
    remove: () => rm(path, { recursive: true, force: true }),
    removeSync: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** Removes the scratch directories in `root` whose owners are dead; returns how many and their bytes. */
export async function sweepStaleScratchDirs(
  root: string,
  legacyMaxAgeMs = DEFAULT_LEGACY_MAX_AGE_MS,
): Promise<{ dirs: number; bytes: number }> {
  let dirs = 0;
  let bytes = 0;
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isDirectory() || !e.name.startsWith('shardflow-')) continue;
    const dir = join(root, e.name);
    const stale = OWNED.test(e.name)
      ? await ownedIsStale(dir, legacyMaxAgeMs)
      : LEGACY.test(e.name) && (await legacyIsStale(dir, legacyMaxAgeMs));
    if (!stale) continue;
    const size = await sizeOf(dir);
    // Another run may be sweeping the same directory: whoever removes it first counts it.
    const gone = await rm(dir, { recursive: true }).then(
      () => true,
      () => false,
    );
    if (gone) {
      dirs++;
      bytes += size;
    }
  }
  return { dirs, bytes };
}

async function ownedIsStale(dir: string, legacyMaxAgeMs: number): Promise<boolean> {
  let owner: ScratchOwner;
  try {
    owner = JSON.parse(await readFile(join(dir, OWNER_FILE), 'utf8')) as ScratchOwner;
  } catch {
    // No owner file yet (a run between making its directory and writing the file) or a damaged
    // one: only age makes it stale.
    return legacyIsStale(dir, legacyMaxAgeMs, false);
  }
  return typeof owner.pid === 'number' && isDeadOwner(owner);
}

/** True when `owner` names a process of this host that is gone (see the module comment). */
export function isDeadOwner(owner: ScratchOwner): boolean {
  if (owner.hostname !== hostname()) return false; // another host's process: cannot tell
  const boot = bootId();
  if (owner.bootId !== null && boot !== null && owner.bootId !== boot) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    // EPERM: a process of another user holds the pid, alive for all we know.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  // The pid is alive; it is the owner unless it started at another time (a reused pid).
  const ticks = startTicksOf(owner.pid);
  return owner.startTicks !== null && ticks !== null && ticks !== owner.startTicks;
}

async function legacyIsStale(dir: string, maxAgeMs: number, spillOnly = true): Promise<boolean> {
  try {
    const st = await stat(dir);
    if (Date.now() - st.mtimeMs <= maxAgeMs) return false;
    if (!spillOnly) return true;
    const names = await readdir(dir);
    return names.every((n) => LEGACY_SPILL.test(n));
  } catch {
    return false;
  }
}

async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    total += await stat(join(e.parentPath, e.name)).then(
      (s) => s.size,
      () => 0,
    );
  }
  return total;
}

/** Field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot); null where unreadable. */
export function startTicksOf(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[22 - 3]);
    return Number.isSafeInteger(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}
