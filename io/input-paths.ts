/**
 * Expands input arguments (files, directories, globs with `*`, `?`, `**`) into files in input
 * order: arguments in the order given, each directory or glob in sorted path order. Hidden files
 * and Spark-style markers (`.name`, `_name`) inside directories are skipped.
 */

import { readdir, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { InputError } from '../errors.js';

export interface InputFile {
  path: string;
  size: number;
}

const GLOB_CHARS = /[*?[]/;

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name.startsWith('_')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) await walk(full, out);
    else if (e.isFile()) out.push(full);
  }
}

function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = pattern.indexOf(']', i);
      if (close < 0) re += '\\[';
      else {
        re += pattern.slice(i, close + 1);
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

async function expandGlob(pattern: string): Promise<string[]> {
  const abs = resolve(pattern);
  const parts = abs.split(sep);
  const firstGlob = parts.findIndex((p) => GLOB_CHARS.test(p));
  const root = parts.slice(0, firstGlob).join(sep) || sep;
  const all: string[] = [];
  try {
    await walk(root, all);
  } catch {
    return [];
  }
  const re = globRegExp(abs.split(sep).join('/'));
  return all.filter((f) => re.test(f.split(sep).join('/')));
}

/** Expands `inputs` into files; throws InputError (exit 2) for a missing path or an empty match. */
export async function expandInputs(inputs: readonly string[]): Promise<InputFile[]> {
  if (inputs.length === 0)
    throw new InputError('E_NO_INPUT', 'no input given: pass --input PATH (a file, directory or glob)');
  const files: InputFile[] = [];
  for (const input of inputs) {
    let paths: string[];
    if (GLOB_CHARS.test(input)) {
      paths = (await expandGlob(input)).sort();
      if (paths.length === 0)
        throw new InputError('E_INPUT_NOT_FOUND', `${input}: the pattern matches no file`, { file: input });
    } else {
      const st = await stat(input).catch((err: NodeJS.ErrnoException) => {
        throw new InputError(
          'E_INPUT_NOT_FOUND',
          `${input}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`,
          {
            file: input,
            cause: err,
          },
        );
      });
      if (st.isDirectory()) {
        paths = [];
        await walk(input, paths);
        paths.sort();
        if (paths.length === 0)
          throw new InputError('E_INPUT_NOT_FOUND', `${input}: the directory holds no input file`, {
            file: input,
          });
      } else paths = [input];
    }
    for (const p of paths) files.push({ path: p, size: (await stat(p)).size });
  }
  return files;
}
