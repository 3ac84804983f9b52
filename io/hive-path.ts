/**
 * Hive-style folder names for key values (`country=FR/`), escaped so that a value can never leave
 * its folder: every UTF-8 byte outside `[A-Za-z0-9._-]` becomes `%XX` (upper-case hex), and the
 * names `.` and `..` are escaped whole (`%2E`, `%2E%2E`). The escape is injective (`%` itself is
 * escaped), and `decodeURIComponent` of the escaped value gives the value back.
 */

const SAFE = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-')
  SAFE[c.charCodeAt(0)] = 1;
const HEX = '0123456789ABCDEF';

/** The longest folder name most file systems (and S3 key segments, by convention) accept, in bytes. */
export const MAX_FOLDER_NAME_BYTES = 255;

/** `value` escaped for use as one path segment. */
export function escapeHiveValue(value: string): string {
  if (value === '.') return '%2E';
  if (value === '..') return '%2E%2E';
  const bytes = Buffer.from(value, 'utf8');
  let plain = true;
  for (let i = 0; i < bytes.length && plain; i++) plain = SAFE[bytes[i]] === 1;
  if (plain) return value;
  let out = '';
  for (const b of bytes) out += SAFE[b] === 1 ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
  return out;
}

/** The folder `<name>=<escaped value>` of a Hive-partitioned output. */
export function hiveFolder(name: string, value: string): string {
  return `${name}=${escapeHiveValue(value)}`;
}
