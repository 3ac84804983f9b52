import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';

import { PostgresError, UsageError } from '../errors.js';
import { redactUrl, resolvePgConfig } from '../io/pg-config.js';
import { openServerClient } from '../io/pg-server-client.js';
import { describeStatement, openSqlClient } from '../io/sql-client.js';
import { testServerTarget } from './pg-test-env.js';

const SECRET = 's3cr3t-Pa55';

test('--pg wins over DATABASE_URL, which wins over PG* variables', () => {
  const env = { DATABASE_URL: 'postgres://env:pw@envhost/envdb', PGHOST: 'pghost' };
  const fromFlag = resolvePgConfig({ url: `postgresql://me:${SECRET}@db.example:6543/app`, env });
  assert.equal(fromFlag.kind, 'server');
  assert.equal(
    fromFlag.kind === 'server' && fromFlag.connectionString,
    `postgresql://me:${SECRET}@db.example:6543/app`,
  );
  assert.equal(fromFlag.kind === 'server' && fromFlag.display, 'postgresql://me:***@db.example:6543/app');

  const fromEnvUrl = resolvePgConfig({ env });
  assert.deepEqual(fromEnvUrl, {
    kind: 'server',
    connectionString: 'postgres://env:pw@envhost/envdb',
    config: { connectionString: 'postgres://env:pw@envhost/envdb' },
    display: 'postgres://env:***@envhost/envdb',
  });
  // An empty --pg or DATABASE_URL counts as unset.
  assert.equal(resolvePgConfig({ url: '', env: { ...env, DATABASE_URL: '' } }).kind, 'server');
  assert.deepEqual(resolvePgConfig({ url: '', env: { ...env, DATABASE_URL: '' } }), {
    kind: 'server',
    config: { host: 'pghost', port: 5432, user: 'postgres', database: 'postgres' },
    display: 'postgres://postgres@pghost:5432/postgres',
  });
});

test('PG* variables build the config with libpq defaults; the password never reaches display', () => {
  const target = resolvePgConfig({
    env: { PGHOST: '10.0.0.5', PGPORT: '5433', PGUSER: 'etl', PGPASSWORD: SECRET, PGDATABASE: 'warehouse' },
  });
  assert.deepEqual(target, {
    kind: 'server',
    config: { host: '10.0.0.5', port: 5433, user: 'etl', database: 'warehouse', password: SECRET },
    display: 'postgres://etl:***@10.0.0.5:5433/warehouse',
  });
  // Any one of PGHOST / PGPORT / PGDATABASE / PGUSER selects the server; the database defaults to the user.
  for (const key of ['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER']) {
    const value = key === 'PGPORT' ? '5432' : 'x';
    assert.equal(resolvePgConfig({ env: { [key]: value, USER: 'osuser' } }).kind, 'server', key);
  }
  const userOnly = resolvePgConfig({ env: { PGUSER: 'alice' } });
  assert.deepEqual(userOnly.kind === 'server' && userOnly.config, {
    host: 'localhost',
    port: 5432,
    user: 'alice',
    database: 'alice',
  });
  const socket = resolvePgConfig({ env: { PGHOST: '/var/run/postgresql', PGUSER: 'bob' } });
  assert.equal(
    socket.kind === 'server' && socket.display,
    'postgres://bob@:5432/bob?host=%2Fvar%2Frun%2Fpostgresql',
  );
});

test('nothing configured (or only PGPASSWORD) selects the embedded PGlite', () => {
  assert.deepEqual(resolvePgConfig({ env: {} }), { kind: 'embedded', display: 'pglite (in-memory)' });
  assert.deepEqual(resolvePgConfig({ env: { PGPASSWORD: SECRET, PGHOST: '' } }), {
    kind: 'embedded',
    display: 'pglite (in-memory)',
  });
  assert.deepEqual(resolvePgConfig({ env: {}, dataDir: '/tmp/sf-pglite' }), {
    kind: 'embedded',
    dataDir: '/tmp/sf-pglite',
    display: 'pglite:/tmp/sf-pglite',
  });
});

test('bad values fail with UsageError naming the option and without the password', () => {
  const cases: [() => unknown, RegExp][] = [
    [
      () => resolvePgConfig({ url: `mysql://u:${SECRET}@h/db`, env: {} }),
      /^--pg must be a postgres:\/\/ or postgresql:\/\/ URL/,
    ],
    [
      () => resolvePgConfig({ url: `postgres://u:${SECRET}@h:notaport/db`, env: {} }),
      /^--pg is not a valid URL/,
    ],
    [() => resolvePgConfig({ env: { DATABASE_URL: `http://u:${SECRET}@h/db` } }), /^DATABASE_URL must be/],
    [
      () => resolvePgConfig({ env: { PGPORT: '99999', PGPASSWORD: SECRET } }),
      /^PGPORT must be a port number/,
    ],
  ];
  for (const [fn, pattern] of cases) {
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, pattern);
      assert.ok(!inspect(err, { depth: 5 }).includes(SECRET), inspect(err));
      return true;
    });
  }
});

test('redactUrl hides userinfo passwords and password parameters', () => {
  assert.equal(redactUrl(`postgres://u:${SECRET}@h:5432/db`), 'postgres://u:***@h:5432/db');
  assert.equal(redactUrl('postgres://u@h/db'), 'postgres://u@h/db');
  assert.equal(
    redactUrl(`postgresql://h/db?user=u&password=${SECRET}&sslmode=require`),
    'postgresql://h/db?user=u&password=***&sslmode=require',
  );
  assert.equal(redactUrl(`postgres://u:${encodeURIComponent('p@ss/w:rd')}@h/db`), 'postgres://u:***@h/db');
  // Unparseable: pattern scrubbing still removes the secret.
  assert.equal(redactUrl(`postgres://u:${SECRET}@h:bad/db`), 'postgres://u:***@h:bad/db');
});

test('a connection failure names the redacted server and never the password', async () => {
  const target = resolvePgConfig({ url: `postgres://postgres:${SECRET}@127.0.0.1:1/test`, env: {} });
  assert.equal(target.kind, 'server');
  if (target.kind !== 'server') return;
  await assert.rejects(openServerClient(target, { connectTimeoutMs: 2000 }), (err: unknown) => {
    assert.ok(err instanceof PostgresError);
    assert.equal(err.code, 'E_PG');
    assert.equal(err.sqlState, undefined);
    assert.match(
      err.message,
      /^connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test failed: .*ECONNREFUSED/,
    );
    assert.ok(!inspect(err, { depth: 10 }).includes(SECRET), inspect(err));
    return true;
  });
});

test('server error messages are one line, keep the SQLSTATE and scrub the password', async (t) => {
  const base = testServerTarget();
  // Trust auth accepts any password, so the real server sees SECRET and we can make it echo it.
  const url = new URL('postgres://x@localhost');
  url.username = String(base.config.user ?? 'postgres');
  url.password = SECRET;
  url.hostname = String(base.config.host ?? '127.0.0.1');
  url.port = String(base.config.port ?? 5432);
  url.pathname = `/${base.config.database ?? 'test'}`;
  const target =
    base.connectionString === undefined ? resolvePgConfig({ url: url.toString(), env: {} }) : base;
  assert.equal(target.kind, 'server');
  if (target.kind !== 'server') return;
  const client = await openSqlClient(target);
  t.after(() => client.close());
  assert.equal(client.maxConnections, 4);
  await assert.rejects(client.query('SELECT $1::int', [SECRET]), (err: unknown) => {
    assert.ok(err instanceof PostgresError);
    assert.equal(err.sqlState, '22P02');
    assert.doesNotMatch(err.message, /\n/);
    assert.ok(!inspect(err, { depth: 10 }).includes(SECRET), inspect(err));
    if (base.connectionString === undefined) {
      assert.equal(
        err.message,
        'SELECT failed: invalid input syntax for type integer: "***" (SQLSTATE 22P02)',
      );
    }
    return true;
  });
});

test('describeStatement names the operation and the table', () => {
  assert.equal(describeStatement('CREATE TABLE "s"."t" (a int)'), 'CREATE TABLE "s"."t"');
  assert.equal(describeStatement('COPY "s"."t" ("a", "b") FROM STDIN'), 'COPY "s"."t"');
  assert.equal(describeStatement('SELECT "a" FROM "s" . "t" WHERE x'), 'SELECT "s"."t"');
  assert.equal(describeStatement('DROP TABLE IF EXISTS "s"."a", "s"."b"'), 'DROP TABLE IF EXISTS "s"."a"');
  assert.equal(describeStatement('VACUUM (ANALYZE) "s"."t"'), 'VACUUM "s"."t"');
  assert.equal(describeStatement('SELECT 1'), 'SELECT');
});
