/**
 * Starts s3rver (an S3 API server on loopback, a devDependency) on a free port with one bucket, for
 * the callsign S3 tests; stopped by `t.after`. Credentials are s3rver's fixed S3RVER/S3RVER.
 * (A shared `test/helpers/s3-server.ts` is being written on main; this one is for this branch.)
 */

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface S3rver {
  endpoint: string;
}

export async function startS3rver(
  t: { after: (fn: () => Promise<void>) => void },
  bucket: string,
): Promise<S3rver> {
  const dir = await mkdtemp(join(tmpdir(), 'shardflow-s3rver-'));
  const bin = join(createRequire(import.meta.url).resolve('s3rver/package.json'), '..', 'bin', 's3rver.js');
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', bin, '-d', dir, '-p', '0', '-a', '127.0.0.1', '--configure-bucket', bucket],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(async () => {
    child.kill();
    await rm(dir, { recursive: true, force: true });
  });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`s3rver did not start: ${text}`)), 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = /listening on [\d.]+:(\d+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr.resume();
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${text}`)));
  });
  return { endpoint: `http://127.0.0.1:${port}` };
}
