import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ShardflowError, UsageError } from '../errors.js';

/** Options for {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** TCP port; 0 picks a free one (the handle reports the real port). Required. */
  port: number;
  /** Interface to bind. Default `'0.0.0.0'`. */
  host?: string;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The port actually bound. */
  readonly port: number;
  /** `http://host:port/metrics`, with a wildcard host replaced by loopback so it is fetchable here. */
  readonly url: string;
  /** Stops listening and drops every connection, idle keep-alive ones included; safe to call twice. */
  close(): Promise<void>;
}

/** Defaults for {@link MetricsServerOptions}. */
export const METRICS_SERVER_DEFAULTS = Object.freeze({ host: '0.0.0.0' });

/** Serves `GET /metrics` (the registry) and `GET /healthz` (`ok`); anything else is 404. */
export async function startMetricsServer(
  registry: Registry,
  options: MetricsServerOptions,
): Promise<MetricsServer> {
  const { port } = options;
  const host = options.host ?? METRICS_SERVER_DEFAULTS.host;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`metrics option \`port\` must be an integer 0..65535, got ${String(port)}`);
  }

  const server = createServer((req, res) => void handle(registry, req, res));
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'port already in use' : (err.code ?? err.message);
      reject(
        new ShardflowError('E_METRICS_PORT', `cannot serve metrics on ${host}:${port}: ${why}`, {
          cause: err,
          exitCode: 2,
        }),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const bound = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port: bound,
    url: `http://${urlHost(host)}:${bound}/metrics`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's keep-alive socket would otherwise hold close() (and the process) open.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function handle(registry: Registry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  const readable = req.method === 'GET' || req.method === 'HEAD';
  if (readable && path === '/metrics') {
    try {
      const body = await registry.metrics();
      res.writeHead(200, { 'Content-Type': registry.contentType }).end(body);
    } catch (err) {
      // A failing collector must not take the endpoint down; report it to the scraper instead.
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${String(err)}\n`);
    }
  } else if (readable && path === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('ok');
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
  }
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
