/**
 * Expands input arguments (files, directories, globs; local paths or `s3://` URLs, where a key
 * prefix plays a directory) into files in input order: arguments in the order given, each
 * directory or glob in sorted path order. Hidden files and Spark-style markers (`.name`, `_name`)
 * inside directories are skipped. Globs are picomatch's (`*`, `?`, `**`, `[a-z]`, `[!a]`,
 * `{a,b}`, extglobs), matched against local paths and S3 keys alike.
 */

import { resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { InputError } from '../errors.js';
import { isS3Url, parseS3Url, storageFor, type ObjectInfo } from './storage.js';

/** An input file and its identity: what the run id is made of. */
export interface InputFile {
  /** A local path or an `s3://bucket/key` URL. */
  path: string;
  size: number;
  /** What changes when the contents do: the ETag on S3, the mtime in ms on a local disk. */
  version: string;
}

// As a POSIX shell reads a pattern: `/`-separated on every platform (S3 keys are), `[!a]` negates
// a class as `[^a]` does (picomatch's default takes `!` literally), and `[ab]` is a class only.
// A name that only reads as a pattern, `file[1].csv`, is still found: see expandInputs.
const POSIX = Object.freeze({ windows: false, posix: true, literalBrackets: false });

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

/** True when picomatch reads `input` as a pattern rather than a name. */
function isGlob(input: string): boolean {
  return picomatch.scan(isS3Url(input) ? parseS3Url(input).key : input).isGlob;
}

/**
 * A glob: list from its literal leading directory (a local directory, or a key prefix on S3) and
 * keep what matches. Local paths are matched absolute with `/` separators, S3 keys as they are.
 */
async function expandGlob(pattern: string): Promise<ObjectInfo[]> {
  if (isS3Url(pattern)) {
    const { bucket, key } = parseS3Url(pattern);
    const { base } = picomatch.scan(key);
    const root = `s3://${bucket}/${base}`;
    const listed = await (await storageFor(pattern)).list(root);
    const matches = picomatch(key, POSIX);
    return visible(listed, root).filter((o) => matches(parseS3Url(o.url).key));
  }
  const full = resolve(pattern).split(sep).join('/');
  const { base } = picomatch.scan(full);
  const root = (base === '' ? '/' : base).split('/').join(sep);
  const listed = await (await storageFor(root)).list(root);
  const matches = picomatch(full, POSIX);
  return visible(listed, root).filter((o) => matches(o.url.split(sep).join('/')));
}

/** A file, a directory or a key prefix named literally; empty when there is nothing of that name. */
async function expandLiteral(input: string): Promise<{ found: ObjectInfo[]; listed: number }> {
  const storage = await storageFor(input);
  const object = await storage.stat(input);
  if (object !== null) return { found: [{ ...object, url: input }], listed: 1 };
  // Not an object: a directory, or a key prefix on S3.
  const listed = await storage.list(input);
  return { found: visible(listed, input), listed: listed.length };
}

/** Expands `inputs` into files; throws InputError (exit 2) for a missing path or an empty match. */
export async function expandInputs(inputs: readonly string[]): Promise<InputFile[]> {
  if (inputs.length === 0)
    throw new InputError('E_NO_INPUT', 'no input given: pass --input PATH (a file, directory or glob)');
  const files: InputFile[] = [];
  for (const input of inputs) {
    if (isS3Url(input)) parseS3Url(input); // a bucket-less URL is a usage error, before any request
    let found: ObjectInfo[] = [];
    const glob = isGlob(input);
    if (glob) found = await expandGlob(input);
    if (found.length === 0) {
      // As a shell does, a pattern that matches nothing is taken as a name: `report(1).csv`.
      const literal = await expandLiteral(input);
      found = literal.found;
      if (found.length === 0) {
        throw notFound(
          input,
          glob
            ? 'the pattern matches no file'
            : literal.listed > 0
              ? 'the directory holds no input file'
              : isS3Url(input)
                ? 'no such object, and no object under this prefix'
                : 'no such file or directory',
        );
      }
    }
    for (const o of found) files.push({ path: o.url, size: o.size, version: o.version });
  }
  return files;
}

function notFound(input: string, what: string): InputError {
  return new InputError('E_INPUT_NOT_FOUND', `${input}: ${what}`, { file: input });
}
