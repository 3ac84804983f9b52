/**
 * An HTTP reverse proxy on 127.0.0.1 (port 0) in front of an S3 server, for the faults a real
 * server cannot produce on demand: an S3 error answer, a body that stalls or a connection reset
 * part-way. Every request is recorded (S3 operation, query, Range, status) so tests can count I/O.
 *
 * Bodies stream through in both directions; nothing is buffered but the bytes in flight. The Host
 * header is forwarded unchanged, so SigV4 signatures made for the proxy's address still verify.
 */

import { once } from 'node:events';
import {
  Agent,
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** The S3 API call a request makes (path-style addressing). */
export type S3Operation =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'ListObjectsV2'
  | 'ListObjects'
  | 'DeleteObjects'
  | 'GetObject'
  | 'HeadObject'
  | 'PutObject'
  | 'DeleteObject'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'Other';

/** One request that reached the proxy. */
export interface RecordedRequest {
  method: string;
  /** The URL path, still percent-encoded (`/bucket/some%20key`). */
  path: string;
  /** Query parameters (`partNumber`, `uploadId`, `continuation-token`, …); a bare flag maps to ''. */
  query: Record<string, string>;
  operation: S3Operation;
  /** The Range header, if any. */
  range: string | undefined;
  /** The status answered to the client; 0 while no answer has started. */
  status: number;
  /** The fault injected into this request, if any. */
  fault: 'fail' | 'stall' | 'reset' | undefined;
}

/** Which requests a fault or a count applies to; every given field must match. */
export interface RequestMatch {
  method?: string;
  operation?: S3Operation;
  where?: (r: RecordedRequest) => boolean;
}

type Fault =
  | { kind: 'fail'; status: number; s3Code: string }
  | { kind: 'stall'; afterBytes: number }
  | { kind: 'reset'; afterBytes: number };

interface Rule {
  match: RequestMatch;
  remaining: number;
  fault: Fault;
}

/** Hop-by-hop headers, which each connection sets for itself. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'expect', 'upgrade', 'te']);

function matches(match: RequestMatch, r: RecordedRequest): boolean {
  return (
    (match.method === undefined || match.method.toUpperCase() === r.method) &&
    (match.operation === undefined || match.operation === r.operation) &&
    (match.where === undefined || match.where(r))
  );
}

/** The S3 operation of a path-style request. */
export function s3Operation(method: string, path: string, query: Record<string, string>): S3Operation {
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.length === 0) return method === 'GET' ? 'ListBuckets' : 'Other';
  const has = (name: string) => Object.hasOwn(query, name);
  if (segments.length === 1) {
    if (method === 'GET') return query['list-type'] === '2' ? 'ListObjectsV2' : 'ListObjects';
    if (method === 'HEAD') return 'HeadBucket';
    if (method === 'PUT') return 'CreateBucket';
    if (method === 'POST' && has('delete')) return 'DeleteObjects';
    return 'Other';
  }
  switch (method) {
    case 'GET':
      return 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'PUT':
      return has('uploadId') && has('partNumber') ? 'UploadPart' : 'PutObject';
    case 'POST':
      return has('uploads') ? 'CreateMultipartUpload' : has('uploadId') ? 'CompleteMultipartUpload' : 'Other';
    case 'DELETE':
      return has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    default:
      return 'Other';
  }
}

function forwardHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A recording, fault-injecting proxy; make one with {@link startFaultProxy}. */
export class FaultProxy {
  readonly #server: Server;
  readonly #upstream: URL;
  readonly #agent = new Agent({ keepAlive: true });
  readonly #log: RecordedRequest[] = [];
  readonly #rules: Rule[] = [];
  #closed: Promise<void> | null = null;

  /** `http://127.0.0.1:<port>`: give this to the client instead of the server's endpoint. */
  readonly endpoint: string;

  private constructor(server: Server, upstream: URL) {
    this.#server = server;
    this.#upstream = upstream;
    const { port } = server.address() as AddressInfo;
    this.endpoint = `http://127.0.0.1:${port}`;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res));
  }

  /** Starts a proxy to `upstream` (an `http://host:port` endpoint) on a free loopback port. */
  static async start(upstream: string): Promise<FaultProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new FaultProxy(server, new URL(upstream));
  }

  /** The requests recorded so far (matching `match`, if given), oldest first. */
  requests(match: RequestMatch = {}): RecordedRequest[] {
    return this.#log.filter((r) => matches(match, r));
  }

  /** Forgets the recorded requests (not the pending faults). */
  clearLog(): void {
    this.#log.length = 0;
  }

  /**
   * Answers the next `count` matching requests with HTTP `status` and an S3 XML error whose Code is
   * `s3Code` (default 'InternalError'), without forwarding them.
   */
  failNext(match: RequestMatch, count: number, status: number, s3Code = 'InternalError'): void {
    this.#rules.push({ match, remaining: count, fault: { kind: 'fail', status, s3Code } });
  }

  /**
   * Forwards the next matching request, its response headers and the first `afterBytes` bytes of
   * its body, then sends nothing more; the connection stays open until the client gives up.
   */
  stallNext(match: RequestMatch, afterBytes: number): void {
    this.#rules.push({ match, remaining: 1, fault: { kind: 'stall', afterBytes } });
  }

  /** Like {@link stallNext}, but destroys the connection after `afterBytes` bytes of the body. */
  resetNext(match: RequestMatch, afterBytes: number): void {
    this.#rules.push({ match, remaining: 1, fault: { kind: 'reset', afterBytes } });
  }

  /** Stops listening and ends every connection, stalled ones included; safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const closed = once(this.#server, 'close');
      this.#server.close();
      this.#server.closeAllConnections();
      this.#agent.destroy();
      await closed;
    })();
    return this.#closed;
  }

  #takeFault(r: RecordedRequest): Fault | undefined {
    const rule = this.#rules.find((x) => x.remaining > 0 && matches(x.match, r));
    if (rule === undefined) return undefined;
    rule.remaining -= 1;
    return rule.fault;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://proxy.invalid');
    const query = Object.fromEntries(url.searchParams);
    const method = req.method ?? 'GET';
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      query,
      operation: s3Operation(method, url.pathname, query),
      range: req.headers.range,
      status: 0,
      fault: undefined,
    };
    this.#log.push(record);
    const fault = this.#takeFault(record);
    record.fault = fault?.kind;
    if (fault?.kind === 'fail') {
      // Read the whole request first: a client still sending a part would see EPIPE, not the error.
      req.resume();
      req.once('end', () => {
        const body =
          `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlEscape(fault.s3Code)}</Code>` +
          `<Message>Injected by the test proxy</Message><Resource>${xmlEscape(url.pathname)}</Resource>` +
          `<RequestId>fault-proxy</RequestId></Error>`;
        record.status = fault.status;
        res.writeHead(fault.status, {
          'content-type': 'application/xml',
          'content-length': method === 'HEAD' ? 0 : Buffer.byteLength(body),
        });
        res.end(method === 'HEAD' ? undefined : body);
      });
      return;
    }
    this.#forward(req, res, record, fault);
  }

  #forward(
    req: IncomingMessage,
    res: ServerResponse,
    record: RecordedRequest,
    fault: Exclude<Fault, { kind: 'fail' }> | undefined,
  ): void {
    let cutOff = false; // a stall or reset has taken over this response
    const upstream = request(
      {
        host: this.#upstream.hostname,
        port: this.#upstream.port,
        method: record.method,
        path: req.url,
        headers: forwardHeaders(req.headers),
        agent: this.#agent,
      },
      (upRes) => {
        record.status = upRes.statusCode ?? 0;
        res.writeHead(upRes.statusCode ?? 502, forwardHeaders(upRes.headers));
        if (fault === undefined) {
          upRes.pipe(res);
          return;
        }
        let left = fault.afterBytes;
        const cut = () => {
          cutOff = true;
          upRes.destroy(); // stop reading upstream; the client's connection stays as the fault says
          if (fault.kind === 'reset') res.write('', () => res.destroy());
          // A stall sends nothing more; the client's timeout or close() ends the connection.
        };
        if (left === 0) return cut();
        upRes.on('data', (chunk: Buffer) => {
          if (left <= 0) return;
          const part = chunk.length <= left ? chunk : chunk.subarray(0, left);
          left -= part.length;
          res.write(part);
          if (left === 0) cut();
        });
        upRes.on('end', () => {
          if (left > 0) res.end(); // the body was shorter than afterBytes: no fault after all
        });
      },
    );
    upstream.on('error', () => {
      if (cutOff) return;
      if (!res.headersSent) {
        record.status = 502;
        res.writeHead(502).end();
      } else res.destroy();
    });
    // The client went away (gave up on a stall, or was reset): drop the upstream exchange too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }
}

/** Starts a {@link FaultProxy} in front of `upstream`; call `close()` in `t.after`. */
export function startFaultProxy(upstream: string): Promise<FaultProxy> {
  return FaultProxy.start(upstream);
}
