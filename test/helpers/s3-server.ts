/**
 * A real S3 API server for tests: s3rver in a child process on 127.0.0.1, on a port it picks
 * itself, in a fresh temporary directory that `stop()` removes.
 *
 * s3rver runs under `--openssl-legacy-provider`: without it, Node 20 cannot build its ListObjectsV2
 * continuation tokens and a second page answers HTTP 500. The child also exits when its stdin
 * closes, so even a test process killed by the runner leaves no server behind.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { s3ClientConfig } from '../../io/s3-storage.js';
import { storageFor, type S3Options } from '../../io/storage.js';

/** The only credentials s3rver accepts; tests also check that no error message leaks the secret. */
export const S3RVER_CREDENTIALS = Object.freeze({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

export interface S3ServerOptions {
  /** Buckets created at startup; default none. */
  buckets?: string[];
  /** How long to wait for the server to answer; default 15 s. */
  startTimeoutMs?: number;
}

/** A running s3rver. */
export interface S3Server {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Environment for a child process (the CLI) that should use this server. */
  env: Record<string, string>;
  /** Creates a bucket on this server. */
  createBucket(name: string): Promise<void>;
  /** Kills the server and removes its directory; safe to call more than once. */
  stop(): Promise<void>;
}

const S3RVER_BIN = join(
  dirname(createRequire(import.meta.url).resolve('s3rver/package.json')),
  'bin/s3rver.js',
);

// Runs in the child before s3rver: exit when the parent's end of stdin closes (the parent died).
const EXIT_WITH_PARENT = `data:text/javascript,process.stdin.on('end',()=>process.exit(0)).resume();`;

/** Starts s3rver with `options.buckets` configured; resolves once it answers HTTP. */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const timeoutMs = options.startTimeoutMs ?? 15_000;
  const dir = await mkdtemp(join(tmpdir(), 'shardflow-s3rver-'));
  const args = [
    '--openssl-legacy-provider',
    `--import=${EXIT_WITH_PARENT}`,
    S3RVER_BIN,
    '-d',
    dir,
    '-a',
    '127.0.0.1',
    '-p',
    '0',
    '--silent',
  ];
  for (const bucket of options.buckets ?? []) args.push('--configure-bucket', bucket);
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  exited.catch(() => {});
  // A test process that exits without calling stop() (an uncaught error) still kills the server.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdout.setEncoding('utf8');

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      child.stdin.destroy();
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no port after ${timeoutMs} ms`)), timeoutMs);
      const onData = (s: string) => {
        stdout += s;
        const m = /S3rver listening on [^:\s]+:(\d+)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          child.stdout.off('data', onData);
          child.stdout.resume(); // nothing more to read, but never let the pipe fill
          resolve(Number(m[1]));
        }
      };
      child.stdout.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited (${signal ?? `code ${code}`}) before listening`));
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const endpoint = `http://127.0.0.1:${port}`;
    await waitForHttp(endpoint, timeoutMs);
    return {
      endpoint,
      env: {
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_S3: endpoint,
      },
      async createBucket(name) {
        const client = makeS3Client({ endpoint });
        try {
          await client.send(new CreateBucketCommand({ Bucket: name }));
        } finally {
          client.destroy();
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    const detail = stderr.trim() === '' ? '' : `; its stderr:\n${stderr.trim()}`;
    throw new Error(`s3rver did not start (${(err as Error).message})${detail}`, { cause: err });
  }
}

/** Resolves when `endpoint` answers any HTTP response; polls every 50 ms up to `timeoutMs`. */
async function waitForHttp(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = request(endpoint, { method: 'GET', timeout: 1000, agent: false }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${endpoint} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Sets the s3rver credentials in this process's environment, for the S3Storage the code under test
 * builds from the SDK's default chain.
 */
export function useS3rverCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/**
 * A raw SDK client configured as S3Storage would be for `options` (path style, checksums), with
 * the s3rver credentials: for a test's own setup and checks. Call `destroy()` when done.
 */
export function makeS3Client(options: S3Options): S3Client {
  useS3rverCredentials();
  return new S3Client({ ...s3ClientConfig(options), credentials: { ...S3RVER_CREDENTIALS } });
}

/** Every object under `prefix`, written below the directory `to` by its name relative to the prefix. */
export async function downloadPrefix(prefix: string, to: string): Promise<string[]> {
  const storage = await storageFor(prefix);
  const names: string[] = [];
  for (const o of await storage.list(prefix)) {
    const name = o.url.slice(prefix.length + 1);
    names.push(name);
    const chunks: Uint8Array[] = [];
    for await (const c of storage.read(o.url)) chunks.push(c);
    await mkdir(dirname(join(to, name)), { recursive: true });
    await writeFile(join(to, name), Buffer.concat(chunks));
  }
  return names.sort();
}
