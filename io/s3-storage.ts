/**
 * S3 (and S3-compatible servers) behind the {@link Storage} interface, through @aws-sdk/client-s3
 * and @aws-sdk/lib-storage.
 *
 * - Credentials and region come from the SDK's default chain (environment, shared config and
 *   credentials files, web identity in Kubernetes); a custom endpoint gets path-style addressing.
 * - Reads are ranged GETs. The SDK retries a failed request (5xx, throttling, a reset before the
 *   response); a body that fails or stalls part-way is resumed here from the last byte received,
 *   with backoff, up to `maxAttempts` times.
 * - Writes stream through a multipart upload (`partSize` × `queueSize` bytes of memory at most) and
 *   appear only when the upload completes; a failed or aborted upload is aborted on the server.
 * - Errors are one line naming the bucket and key and the cause; a missing bucket or object or a
 *   refused access is an InputError (exit 2): retrying cannot fix it. A transient failure that
 *   outlasts the attempts is `E_S3_UNAVAILABLE` with `retryable: true`, which the pool retries.
 */

import { PassThrough, type Readable } from 'node:stream';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { InputError, ShardflowError } from '../errors.js';
import { parseS3Url, type ObjectInfo, type ObjectWriter, type S3Options, type Storage } from './storage.js';

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const MIN_PART_SIZE = 5 * 1024 * 1024;

/** Error names (and HTTP statuses) that retrying can fix. */
const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'StallError',
]);
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EAI_AGAIN',
]);
const DENIED_NAMES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'Forbidden',
]);

interface SdkError extends Error {
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** True when retrying `err` may succeed. */
export function isTransient(err: unknown): boolean {
  const e = err as SdkError;
  if (e === null || typeof e !== 'object') return false;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return (
    TRANSIENT_NAMES.has(e.name) ||
    (e.code !== undefined && TRANSIENT_CODES.has(e.code)) ||
    status >= 500 ||
    status === 429 ||
    e.$retryable !== undefined ||
    /socket hang up|aborted|premature close/i.test(e.message ?? '')
  );
}

/** The one-line error for a failed S3 call on `url` (never any credential). */
export function s3Error(url: string, action: string, err: unknown): ShardflowError {
  const e = err as SdkError;
  const status = e?.$metadata?.httpStatusCode;
  const name = e?.name ?? 'Error';
  const detail = firstLine(e?.message ?? String(err));
  const { bucket } = parseS3Url(url);
  if (name === 'NoSuchBucket') {
    return new InputError('E_S3_NO_BUCKET', `${url}: no such bucket "${bucket}"`, { file: url, cause: err });
  }
  if (name === 'NoSuchKey' || (name === 'NotFound' && status === 404)) {
    return new InputError('E_INPUT_NOT_FOUND', `${url}: no such object`, { file: url, cause: err });
  }
  if (DENIED_NAMES.has(name) || status === 403) {
    return new InputError('E_S3_ACCESS_DENIED', `${url}: access denied to ${action} (${name}: ${detail})`, {
      file: url,
      cause: err,
    });
  }
  // A transient failure that outlasted the SDK's (or the read's) own attempts: the worker pool
  // runs the task again, later, rather than failing the run at once.
  const retryable = isTransient(err);
  const where = status === undefined ? '' : ` HTTP ${status}`;
  return new ShardflowError(
    retryable ? 'E_S3_UNAVAILABLE' : 'E_S3',
    `${url}: ${action} failed (${name}${where}: ${detail})`,
    { cause: err, retryable },
  );
}

function firstLine(text: string): string {
  const line = text.split('\n')[0].trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

class StallError extends Error {
  override name = 'StallError';
}

class RangeMismatchError extends Error {
  override name = 'RangeMismatch';
}

function backoffMs(attempt: number): number {
  return Math.min(5000, 100 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
}

/** Builds the SDK client for `options`; exported for tests that need a client of their own. */
export function s3ClientConfig(options: S3Options): S3ClientConfig {
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const checksums = options.checksums ?? (endpoint ? 'when_required' : 'when_supported');
  const mode = checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  return {
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    region:
      options.region ??
      process.env.AWS_REGION ??
      process.env.AWS_DEFAULT_REGION ??
      (endpoint ? 'us-east-1' : undefined),
    maxAttempts: options.maxAttempts ?? 5,
    requestChecksumCalculation: mode,
    responseChecksumValidation: mode,
  };
}

export class S3Storage implements Storage {
  readonly #client: S3Client;
  readonly #options: S3Options;

  constructor(options: S3Options) {
    this.#options = options;
    const config = s3ClientConfig(options);
    if (config.region === undefined) {
      throw new InputError(
        'E_S3_REGION',
        'no AWS region configured: set AWS_REGION (or a region in ~/.aws/config), or pass --s3-endpoint',
      );
    }
    // The SDK warns, once per thread, that its 2027 releases will need Node 22; shardflow runs on
    // Node 20 and says so in its README rather than on every run's stderr.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.#client = new S3Client(config);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const { bucket, key } = parseS3Url(prefix);
    const keyPrefix = key === '' || key.endsWith('/') ? key : `${key}/`;
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client
        .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: keyPrefix, ContinuationToken: token }))
        .catch((err: unknown) => {
          throw s3Error(prefix, 'list', err);
        });
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || o.Key.endsWith('/')) continue; // "folder" placeholders
        out.push({ url: `s3://${bucket}/${o.Key}`, size: o.Size ?? 0, version: o.ETag ?? '' });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
  }

  async stat(url: string): Promise<ObjectInfo | null> {
    const { bucket, key } = parseS3Url(url);
    if (key === '' || key.endsWith('/')) return null;
    try {
      const head = await this.#client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { url, size: head.ContentLength ?? 0, version: head.ETag ?? '' };
    } catch (err) {
      const e = err as SdkError;
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) {
        // A HEAD has no body to tell a missing bucket from a missing key: ask a listing.
        await this.#client
          .send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }))
          .catch((listErr: unknown) => {
            throw s3Error(url, 'stat', listErr);
          });
        return null;
      }
      throw s3Error(url, 'stat', err);
    }
  }

  async *read(url: string, start = 0, end = Infinity): AsyncIterable<Uint8Array> {
    const { bucket, key } = parseS3Url(url);
    const maxAttempts = this.#options.maxAttempts ?? 5;
    const stallMs = this.#options.stallMs ?? 30_000;
    let position = start;
    let resumedAt = start;
    for (let attempt = 1; position < end; attempt++) {
      // Attempts count failures in a row: a read that made progress since its last failure starts
      // afresh, so a long read survives one stall every so often.
      if (position > resumedAt) attempt = 1;
      resumedAt = position;
      // A whole object is asked for without a range: `bytes=0-` of an empty object is not satisfiable.
      const range =
        position === 0 && end === Infinity
          ? undefined
          : `bytes=${position}-${end === Infinity ? '' : end - 1}`;
      let body: Readable;
      let served: number; // the first byte of the answer
      let total: number | undefined; // the object's size, when the answer says
      try {
        const res = await this.#client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
        body = res.Body as Readable;
        const contentRange = /^bytes (\d+)-\d+\/(\d+)$/.exec(res.ContentRange ?? '');
        served = contentRange ? Number(contentRange[1]) : 0;
        total = contentRange ? Number(contentRange[2]) : res.ContentLength;
      } catch (err) {
        // 416: the range starts at or past the end: nothing more to read.
        if ((err as SdkError).$metadata?.httpStatusCode === 416 || (err as SdkError).name === 'InvalidRange')
          return;
        throw s3Error(url, 'read', err); // the SDK has retried what can be retried
      }
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => body.destroy(new StallError(`no data for ${stallMs} ms`)), stallMs);
      };
      try {
        // The answer may not be the range asked: a server may ignore Range (200, the whole
        // object) or widen it (s3rver answers `bytes=0-0` with the whole object and an empty
        // object's `bytes=0-` with a 1-byte range it never sends). Skip to `position` and stop at
        // the object's end or `end`, whichever comes first.
        if (served > position)
          throw new RangeMismatchError(`asked from byte ${position}, answered from ${served}`);
        const stop = total === undefined ? end : Math.min(end, total);
        let skip = position - served;
        if (position >= stop) return;
        arm();
        for await (const data of body as AsyncIterable<Buffer>) {
          clearTimeout(timer); // the consumer's time between chunks is not a stall
          let chunk = data;
          if (skip > 0) {
            const n = Math.min(skip, chunk.length);
            chunk = chunk.subarray(n);
            skip -= n;
          }
          if (chunk.length > stop - position) chunk = chunk.subarray(0, stop - position);
          if (chunk.length > 0) {
            position += chunk.length;
            yield chunk;
          }
          if (position >= stop) return;
          arm();
        }
        // A body that ends cleanly but short (a proxy that closed early) is resumed like a stall.
        if (stop !== Infinity) throw new StallError(`the body ended at byte ${position} of ${stop}`);
        return;
      } catch (err) {
        if (!isTransient(err) || attempt >= maxAttempts) {
          throw s3Error(url, `read (attempt ${attempt} of ${maxAttempts}, at byte ${position})`, err);
        }
        await sleep(backoffMs(attempt));
      } finally {
        clearTimeout(timer);
        body.destroy();
      }
    }
  }

  async readRange(url: string, start: number, length: number): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let n = 0;
    for await (const c of this.read(url, start, start + length)) {
      chunks.push(c);
      n += c.length;
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, n);
  }

  create(url: string): ObjectWriter {
    const { bucket, key } = parseS3Url(url);
    if (key === '' || key.endsWith('/'))
      throw new InputError('E_S3_KEY', `${url}: not an object key`, { file: url });
    const partSize = Math.max(MIN_PART_SIZE, this.#options.partSize ?? DEFAULT_PART_SIZE);
    const queueSize = this.#options.queueSize ?? 4;
    const body = new PassThrough({ highWaterMark: partSize });
    const client = this.#client;
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key: key, Body: body },
      partSize,
      queueSize,
      // The multipart upload is aborted below instead: lib-storage, when its own abort fails,
      // reports that failure in place of the one that made the upload fail.
      leavePartsOnError: true,
    });
    let cleanupFailure: unknown;
    // Settles only once every part request has settled (lib-storage awaits them all), so
    // `uploadId` is final here and an abort cannot race a part still being uploaded.
    const done = upload.done().catch(async (err: unknown) => {
      if (upload.uploadId !== undefined) {
        await client
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.uploadId }))
          .catch((abortErr: unknown) => (cleanupFailure = abortErr));
      }
      throw err;
    });
    done.catch(() => {}); // observed by write, commit and abort
    const uploadError = (err: unknown): ShardflowError => {
      const e = s3Error(url, 'upload', err);
      if (cleanupFailure !== undefined) {
        const c = cleanupFailure as SdkError;
        const why = `${c.name}: ${firstLine(c.message ?? '')}`;
        e.message += `; aborting the multipart upload failed too (${why}): its parts stay until removed`;
      }
      return e;
    };
    let state: 'open' | 'committed' | 'aborted' = 'open';
    return {
      async write(chunk) {
        if (state !== 'open') throw new Error(`${url}: write after commit or abort`);
        // A copy: the stream and lib-storage keep the chunk until its part is sent, and the caller
        // may reuse its buffer as soon as this resolves (as it may with a local file).
        if (!body.write(Buffer.from(chunk))) {
          // Either the upload drains the stream, or it has failed.
          await Promise.race([once(body, 'drain'), done]).catch((err: unknown) => {
            throw uploadError(err);
          });
        }
      },
      async commit() {
        if (state !== 'open') throw new Error(`${url}: commit after commit or abort`);
        state = 'committed';
        body.end();
        await done.catch((err: unknown) => {
          throw uploadError(err);
        });
      },
      async abort() {
        if (state === 'aborted') return;
        const wasOpen = state === 'open';
        state = 'aborted';
        if (wasOpen) {
          // Failing the body fails the upload through the path above, so this resolves only after
          // the multipart upload (if one was started) has been aborted on the server. (Upload.abort()
          // would settle `done` at once and leave that request to run, or not, in the background.)
          body.destroy(new Error('upload aborted by the writer'));
          await done.catch(() => {});
        }
      },
    };
  }

  async delete(url: string): Promise<void> {
    const { bucket, key } = parseS3Url(url);
    await this.#deleteKeys(url, bucket, [key]);
  }

  /**
   * Nothing to remove: an upload that never completed is no object (a stopped run aborts its
   * uploads; one killed with -9 is left to the bucket's AbortIncompleteMultipartUpload rule).
   */
  async deleteUnfinished(): Promise<number> {
    return 0;
  }

  async deletePrefix(prefix: string): Promise<void> {
    const { bucket } = parseS3Url(prefix);
    const objects = await this.list(prefix);
    const keys = objects.map((o) => parseS3Url(o.url).key);
    for (let i = 0; i < keys.length; i += 1000)
      await this.#deleteKeys(prefix, bucket, keys.slice(i, i + 1000));
  }

  async #deleteKeys(url: string, bucket: string, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const res = await this.#client
      .send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
        }),
      )
      .catch((err: unknown) => {
        throw s3Error(url, 'delete', err);
      });
    const failed = res.Errors?.[0];
    if (failed) {
      throw new ShardflowError(
        'E_S3',
        `s3://${bucket}/${failed.Key}: delete failed (${failed.Code}: ${failed.Message})`,
      );
    }
  }
}
