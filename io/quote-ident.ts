import { UsageError } from '../errors.js';

/** PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63;

/**
 * Quotes one SQL identifier for PostgreSQL: wraps it in double quotes and doubles embedded quotes,
 * so any name (mixed case, spaces, keywords) is taken literally. Throws a UsageError for an empty
 * name, a NUL character, or a name longer than 63 bytes (PostgreSQL would silently truncate it and
 * two distinct names could collide).
 */
export function quoteIdent(name: string, what = 'identifier'): string {
  if (name.length === 0) throw new UsageError(`${what} must not be empty`);
  if (name.includes('\0')) throw new UsageError(`${what} must not contain a NUL character`);
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw new UsageError(`${what} ${JSON.stringify(name)} is ${bytes} bytes; PostgreSQL allows at most 63`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a schema-qualified name: `"schema"."name"`. */
export function quoteQualified(schema: string, name: string): string {
  return `${quoteIdent(schema, 'schema')}.${quoteIdent(name, 'table name')}`;
}
