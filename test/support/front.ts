// A recording HTTP front for a test registry: classifies and counts requests, lets a hook answer or rewrite them,
// proxies the rest.
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HOP_BY_HOP, type Kind, type ProxyRecord, authKind, classify } from './fault-proxy.js';

export type { Kind } from './fault-proxy.js';

/** What a front records of a request: the proxy's fields, and whether the front answered it itself. */
export type FrontRecord = Pick<
  ProxyRecord,
  'method' | 'path' | 'query' | 'kind' | 'repo' | 'ref' | 'status' | 'bytesIn' | 'bytesOut' | 'authorization'
> & {
  /** answered by the front itself, not the registry behind it */
  local?: boolean;
};

export interface FrontRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  record: FrontRecord;
  /** Proxy to the registry; `body` replaces the request body (already read by the hook). */
  forward(body?: Buffer): Promise<void>;
  /** Reads the whole request body (counted), for hooks that must see it before deciding. */
  readBody(): Promise<Buffer>;
}

export interface FrontHooks {
  /** Answer the request (or forward it) here and return true; false lets it through untouched. */
  intercept?(r: FrontRequest): Promise<boolean> | boolean;
  /** Extra headers on every proxied answer; `upstream` are the registry's own answer headers. */
  responseHeaders?(
    r: FrontRequest,
    status: number,
    upstream: IncomingMessage['headers'],
  ): Record<string, string> | undefined;
}

export type RecordSelector = Kind | readonly Kind[] | ((r: FrontRecord) => boolean);

export interface Front {
  host: string;
  url: string;
  /** one record per request, in arrival order (live) */
  stats: FrontRecord[];
  count(sel?: RecordSelector): number;
  reset(): void;
  stop(): Promise<void>;
}

export function filterHeaders(raw: string[], drop: readonly string[] = []): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(k) || drop.includes(k)) continue;
    const prev = out[k];
    out[k] = prev === undefined ? raw[i + 1] : ([] as string[]).concat(prev, raw[i + 1]);
  }
  return out;
}

export { authKind };

/** A distribution error answer: `{"errors":[{code,message,detail}]}` (no body for HEAD). */
export function sendRegistryError(
  r: FrontRequest,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  detail?: unknown,
): void {
  const body = JSON.stringify({ errors: [{ code, message, ...(detail === undefined ? {} : { detail }) }] });
  r.record.status = status;
  r.record.local = true;
  r.res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'docker-distribution-api-version': 'registry/2.0',
    ...headers,
  });
  if (r.req.method === 'HEAD') r.res.end();
  else {
    r.record.bytesOut += Buffer.byteLength(body);
    r.res.end(body);
  }
}

export function selectRecords(stats: FrontRecord[], sel?: RecordSelector): FrontRecord[] {
  if (sel === undefined) return stats;
  if (typeof sel === 'function') return stats.filter(sel);
  return stats.filter((r) => (typeof sel === 'string' ? r.kind === sel : sel.includes(r.kind)));
}

/** Starts a front on 127.0.0.1 for the registry at `target` (http://127.0.0.1:PORT). */
export async function startFront(target: string, hooks: FrontHooks = {}): Promise<Front> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const stats: FrontRecord[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://front');
    const method = req.method ?? 'GET';
    const c = classify(method, url.pathname, url.searchParams);
    const record: FrontRecord = {
      method,
      path: url.pathname,
      query: url.searchParams.toString(),
      kind: c.kind,
      repo: c.repo,
      ref: c.ref,
      status: 0,
      bytesIn: 0,
      bytesOut: 0,
      authorization: authKind(req.headers.authorization),
    };
    stats.push(record);
    let bodyRead = false;
    const fr: FrontRequest = {
      req,
      res,
      url,
      record,
      async readBody() {
        bodyRead = true;
        const chunks: Buffer[] = [];
        for await (const chunk of req) {
          record.bytesIn += (chunk as Buffer).length;
          chunks.push(chunk as Buffer);
        }
        return Buffer.concat(chunks);
      },
      forward: (body) =>
        new Promise<void>((resolve) => {
          const headers = filterHeaders(req.rawHeaders, body ? ['content-length'] : []);
          if (body) headers['content-length'] = String(body.length);
          const up = request({ host: upstream.hostname, port: upstream.port, method, path: req.url, agent, headers });
          res.on('close', () => {
            if (!res.writableFinished) up.destroy();
            resolve();
          });
          up.on('error', () => {
            if (!res.headersSent) {
              record.status = 502;
              res.writeHead(502, { 'content-type': 'text/plain' }).end('upstream error');
            } else res.destroy();
            resolve();
          });
          up.on('response', (ures) => {
            record.status = ures.statusCode ?? 0;
            const extra = hooks.responseHeaders?.(fr, record.status, ures.headers) ?? {};
            res.writeHead(record.status, ures.statusMessage, { ...filterHeaders(ures.rawHeaders), ...extra });
            ures.on('data', (chunk: Buffer) => (record.bytesOut += chunk.length));
            ures.pipe(res);
          });
          if (body || bodyRead) up.end(body);
          else {
            req.on('data', (chunk: Buffer) => (record.bytesIn += chunk.length));
            req.pipe(up);
          }
        }),
    };
    try {
      if (hooks.intercept && (await hooks.intercept(fr))) return;
      await fr.forward();
    } catch (err) {
      if (!res.headersSent) sendRegistryError(fr, 500, 'UNKNOWN', `front: ${(err as Error).message}`);
      else res.destroy();
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    stats,
    count: (sel) => selectRecords(stats, sel).length,
    reset: () => void (stats.length = 0),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
