/**
 * Expands input arguments (files, directories, globs with `*`, `?`, `**`; local paths or `s3://`
 * URLs, where a key prefix plays a directory) into files in input order: arguments in the order
 * given, each directory or glob in sorted path order. Hidden files and Spark-style markers (`.name`,
 * `_name`) inside directories are skipped.
 */

import { resolve, sep } from 'node:path';
import { InputError } from '../errors.js';
import { isS3Url, parseS3Url, storageFor, type ObjectInfo } from './storage.js';

export interface InputFile {
  /** A local path or an `s3://bucket/key` URL. */
  path: string;
  size: number;
}

const GLOB_CHARS = /[*?[]/;

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

/** Objects under `prefix` whose names below it have no hidden or marker segment (`.x`, `_x`). */
function visible(objects: ObjectInfo[], prefix: string): ObjectInfo[] {
  const base = prefix.endsWith('/') || prefix.endsWith(sep) ? prefix.length : prefix.length + 1;
  return objects.filter(
    (o) =>
      !o.url
        .slice(base)
        .split(/[/\\]/)
        .some((n) => n.startsWith('.') || n.startsWith('_')),
  );
}

/** A glob: list from its literal leading directory (or key prefix), keep the matches. */
async function expandGlob(pattern: string): Promise<ObjectInfo[]> {
  const s3 = isS3Url(pattern);
  const full = s3 ? pattern : resolve(pattern).split(sep).join('/');
  const parts = full.split('/');
  const firstGlob = parts.findIndex((p) => GLOB_CHARS.test(p));
  const root = parts.slice(0, firstGlob).join('/') || '/';
  const listed = await (await storageFor(full)).list(s3 ? root : root.split('/').join(sep));
  const re = globRegExp(full);
  return visible(listed, root).filter((o) => re.test(s3 ? o.url : o.url.split(sep).join('/')));
}

/** Expands `inputs` into files; throws InputError (exit 2) for a missing path or an empty match. */
export async function expandInputs(inputs: readonly string[]): Promise<InputFile[]> {
  if (inputs.length === 0)
    throw new InputError('E_NO_INPUT', 'no input given: pass --input PATH (a file, directory or glob)');
  const files: InputFile[] = [];
  for (const input of inputs) {
    if (isS3Url(input)) parseS3Url(input); // a bucket-less URL is a usage error, before any request
    let found: ObjectInfo[];
    if (GLOB_CHARS.test(input)) {
      found = await expandGlob(input);
      if (found.length === 0) throw notFound(input, 'the pattern matches no file');
    } else {
      const storage = await storageFor(input);
      const object = await storage.stat(input);
      if (object !== null) found = [{ url: input, size: object.size }];
      else {
        // Not an object: a directory, or a key prefix on S3.
        const listed = await storage.list(input);
        found = visible(listed, input);
        if (found.length === 0) {
          throw notFound(
            input,
            listed.length > 0
              ? 'the directory holds no input file'
              : isS3Url(input)
                ? 'no such object, and no object under this prefix'
                : 'no such file or directory',
          );
        }
      }
    }
    for (const o of found) files.push({ path: o.url, size: o.size });
  }
  return files;
}

function notFound(input: string, what: string): InputError {
  return new InputError('E_INPUT_NOT_FOUND', `${input}: ${what}`, { file: input });
}
