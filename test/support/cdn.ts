// A stand-in blob CDN (Docker Hub's redirect target): signed URLs, bytes fetched from the real registry, every
// request's headers recorded.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

export interface CdnRecord {
  method: string;
  path: string;
  /** The Authorization header as received: a CDN must never see one. */
  authorization?: string;
  range?: string;
  status: number;
  bytesOut: number;
}

export interface CdnOptions {
  /** The registry the bytes come from: http://127.0.0.1:PORT */
  registryUrl: string;
  /** An Authorization header value for the registry (a pull token), asked for per request and scope. */
  registryAuth(repo: string): Promise<string | undefined>;
}

export interface Cdn {
  url: string;
  host: string;
  log: CdnRecord[];
  /** A signed URL for a blob, valid for `ttlSeconds`. */
  signedUrl(repo: string, digest: string, ttlSeconds?: number): string;
  stop(): Promise<void>;
}

export async function startCdn(opts: CdnOptions): Promise<Cdn> {
  const secret = randomBytes(32);
  const sign = (path: string, expires: string) =>
    createHmac('sha256', secret).update(`${path}|${expires}`).digest('hex');
  const log: CdnRecord[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://cdn');
    const rec: CdnRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      authorization: req.headers.authorization,
      range: req.headers.range,
      status: 0,
      bytesOut: 0,
    };
    log.push(rec);
    const fail = (status: number, text: string) => {
      rec.status = status;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
    };
    const m = /^\/blobs\/(.+)\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
    if (!m || (req.method !== 'GET' && req.method !== 'HEAD')) return fail(404, 'not found');
    const expires = url.searchParams.get('expires') ?? '';
    const given = Buffer.from(url.searchParams.get('signature') ?? '', 'hex');
    const want = Buffer.from(sign(url.pathname, expires), 'hex');
    if (given.length !== want.length || !timingSafeEqual(given, want)) return fail(403, 'bad signature');
    if (!(Number(expires) * 1000 > Date.now())) return fail(403, 'expired');
    if (req.headers.authorization) return fail(400, 'a CDN takes no Authorization header');
    const [, repo, digest] = m as unknown as [string, string, string];
    const headers: Record<string, string> = {};
    const auth = await opts.registryAuth(repo);
    if (auth) headers.authorization = auth;
    if (req.headers.range) headers.range = req.headers.range;
    const up = await fetch(`${opts.registryUrl}/v2/${repo}/blobs/${digest}`, { method: req.method, headers });
    rec.status = up.status;
    const out: Record<string, string> = { 'content-type': 'application/octet-stream' };
    for (const h of ['content-length', 'content-range', 'etag', 'accept-ranges']) {
      const v = up.headers.get(h);
      if (v) out[h] = v;
    }
    res.writeHead(up.status, out);
    if (!up.body || req.method === 'HEAD') {
      await up.body?.cancel();
      res.end();
      return;
    }
    const body = Readable.fromWeb(up.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', (c: Buffer) => (rec.bytesOut += c.length));
    body.on('error', () => res.destroy());
    res.on('close', () => body.destroy());
    body.pipe(res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    host: `127.0.0.1:${port}`,
    log,
    signedUrl(repo, digest, ttlSeconds = 600) {
      const path = `/blobs/${repo}/${digest}`;
      const expires = String(Math.floor(Date.now() / 1000) + ttlSeconds);
      return `${url}${path}?expires=${expires}&signature=${sign(path, expires)}`;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
