import type { ClientConfig } from 'pg';

import { UsageError } from '../errors.js';

/** A PostgreSQL server reached over the network with `pg`. */
export interface PgServerTarget {
  readonly kind: 'server';
  /** The URL as given (`--pg` or `DATABASE_URL`); undefined when built from PG* variables. */
  readonly connectionString?: string;
  /** What `pg.Pool` is constructed with; holds the password, so never log it. */
  readonly config: ClientConfig;
  /** Redacted description for logs and errors, e.g. `postgres://user:***@host:5432/db`. */
  readonly display: string;
}

/** The in-process PGlite database used when nothing is configured. */
export interface PgEmbeddedTarget {
  readonly kind: 'embedded';
  /** Directory PGlite persists to; undefined = in-memory (lost when the process exits). */
  readonly dataDir?: string;
  /** `pglite (in-memory)` or `pglite:<dir>`, for logs. */
  readonly display: string;
}

/** Where the job's tables live. */
export type PgTarget = PgServerTarget | PgEmbeddedTarget;

/** Inputs to {@link resolvePgConfig}. */
export interface PgConfigOptions {
  /** `--pg URL`; wins over the environment. Default: none. */
  url?: string;
  /** Environment to read DATABASE_URL and PG* from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** PGlite data directory for the embedded fallback. Default: none (in-memory). */
  dataDir?: string;
}

/** Any of these set (non-empty) selects a server even without a URL. */
const SERVER_ENV_KEYS = Object.freeze(['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER']);
const URL_PROTOCOLS = new Set(['postgres:', 'postgresql:']);
/** Query parameters that carry secrets in libpq / pg connection strings. */
const SECRET_PARAMS = /^(password|sslpassword)$/i;

/**
 * Decides where the job writes: `url` (from `--pg`), else `DATABASE_URL`, else the PG* variables
 * (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE) when any of PGHOST/PGPORT/PGDATABASE/PGUSER is set,
 * else the embedded PGlite. Throws UsageError naming the option for a malformed URL or PGPORT.
 */
export function resolvePgConfig(options: PgConfigOptions = {}): PgTarget {
  const env = options.env ?? process.env;
  const url = nonEmpty(options.url);
  if (url !== undefined) return fromUrl(url, '--pg');
  const databaseUrl = nonEmpty(env.DATABASE_URL);
  if (databaseUrl !== undefined) return fromUrl(databaseUrl, 'DATABASE_URL');
  if (SERVER_ENV_KEYS.some((key) => nonEmpty(env[key]) !== undefined)) return fromEnv(env);
  const dataDir = nonEmpty(options.dataDir);
  return dataDir === undefined
    ? { kind: 'embedded', display: 'pglite (in-memory)' }
    : { kind: 'embedded', dataDir, display: `pglite:${dataDir}` };
}

/** Replaces the password (userinfo and `password=` parameters) of a connection URL with `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    for (const key of [...parsed.searchParams.keys()]) {
      if (SECRET_PARAMS.test(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    // Not parseable as a URL: fall back to pattern scrubbing so nothing secret survives.
    return scrubUrls(url);
  }
}

/**
 * Removes the target's password from free text (error messages from drivers), plus anything that
 * looks like `scheme://user:password@`. Passwords shorter than 4 characters are only removed from
 * URL shapes: replacing every `a` in a message would destroy it, and drivers never echo passwords.
 */
export function scrubSecrets(text: string, target: PgServerTarget): string {
  let out = scrubUrls(text);
  for (const secret of secretsOf(target)) {
    if (secret.length >= 4) out = out.replaceAll(secret, '***');
  }
  return out;
}

function secretsOf(target: PgServerTarget): string[] {
  const secrets = new Set<string>();
  if (typeof target.config.password === 'string') secrets.add(target.config.password);
  if (target.connectionString !== undefined) {
    try {
      const parsed = new URL(target.connectionString);
      if (parsed.password !== '') {
        secrets.add(parsed.password);
        secrets.add(safeDecode(parsed.password));
      }
      for (const [key, value] of parsed.searchParams) if (SECRET_PARAMS.test(key)) secrets.add(value);
    } catch {
      // Unparseable strings were rejected by resolvePgConfig; nothing more to collect.
    }
  }
  return [...secrets].filter((s) => s !== '');
}

function scrubUrls(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi, '$1***@')
    .replace(/\b(password|sslpassword)=[^\s&]*/gi, '$1=***');
}

function fromUrl(url: string, option: string): PgServerTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // No `cause`: Node's ERR_INVALID_URL carries the raw input (password included) in `.input`.
    throw new UsageError(`${option} is not a valid URL: ${redactUrl(url)}`);
  }
  if (!URL_PROTOCOLS.has(parsed.protocol)) {
    throw new UsageError(
      `${option} must be a postgres:// or postgresql:// URL, got ${parsed.protocol}// (${redactUrl(url)})`,
    );
  }
  return {
    kind: 'server',
    connectionString: url,
    config: { connectionString: url },
    display: redactUrl(url),
  };
}

function fromEnv(env: NodeJS.ProcessEnv): PgServerTarget {
  const host = nonEmpty(env.PGHOST) ?? 'localhost';
  const portText = nonEmpty(env.PGPORT) ?? '5432';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new UsageError(`PGPORT must be a port number between 1 and 65535, got ${JSON.stringify(portText)}`);
  }
  // Same defaults as libpq: user from the OS account, database named after the user.
  const user = nonEmpty(env.PGUSER) ?? nonEmpty(env.USER) ?? 'postgres';
  const database = nonEmpty(env.PGDATABASE) ?? user;
  const password = nonEmpty(env.PGPASSWORD);
  const config: ClientConfig = {
    host,
    port,
    user,
    database,
    ...(password === undefined ? {} : { password }),
  };
  const auth = `${encodeURIComponent(user)}${password === undefined ? '' : ':***'}`;
  // A host starting with `/` is a Unix socket directory; libpq URLs carry it as ?host=.
  const display = host.startsWith('/')
    ? `postgres://${auth}@:${port}/${encodeURIComponent(database)}?host=${encodeURIComponent(host)}`
    : `postgres://${auth}@${host.includes(':') ? `[${host}]` : host}:${port}/${encodeURIComponent(database)}`;
  return { kind: 'server', config, display };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
