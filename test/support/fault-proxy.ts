// An HTTP proxy in front of a test registry that counts distribution API calls and injects faults on demand.
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable, Writable } from 'node:stream';

export type Kind =
  | 'ping' | 'catalog' | 'tags' | 'upload' | 'mount' | 'other'
  | 'blob-get' | 'blob-head' | 'blob-delete'
  | 'manifest-get' | 'manifest-head' | 'manifest-put' | 'manifest-delete';

/** What a predicate sees about a request. */
export interface ProxyRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  kind: Kind;
  repo?: string;
  /** tag or digest of a manifest, digest of a blob */
  ref?: string;
  headers: IncomingMessage['headers'];
}

export interface ProxyRecord {
  method: string;
  path: string;
  /** the query string without '?' */
  query: string;
  kind: Kind;
  repo?: string;
  ref?: string;
  /** upstream (or injected) status; 0 while waiting */
  status: number;
  /** request body bytes received from the client */
  bytesIn: number;
  /** response body bytes sent to the client */
  bytesOut: number;
  authorization: 'none' | 'basic' | 'bearer' | 'other';
  range?: string;
  fault?: 'fail' | 'stall' | 'drop' | 'corrupt' | 'slow';
}

export type Selector = Kind | readonly Kind[] | ((r: ProxyRequest) => boolean);

export interface FaultProxy {
  host: string;
  url: string;
  /** one record per request, in arrival order (live) */
  stats: ProxyRecord[];
  count(sel?: Selector): number;
  /** bytesIn + bytesOut of the matching requests */
  bytes(sel?: Selector): number;
  reset(): void;
  readonly seenAuthorization: Array<{ method: string; path: string; kind: Kind; authorization: ProxyRecord['authorization'] }>;
  /** flip the first body byte of every GET of this blob */
  corruptBlob(digest: string): void;
  /** destroy the connection after nBytes of body (request body for POST/PUT/PATCH, else response body) */
  dropAfter(sel: Selector, nBytes: number, times?: number): void;
  /** answer `status` without forwarding, for the next `times` matching requests (all requests without a selector) */
  failWith(status: number, times?: number, sel?: Selector, headers?: Record<string, string>): void;
  /** throttle bodies (direction as dropAfter) of matching requests until clearFaults() */
  slowBody(bytesPerSec: number, sel?: Selector): void;
  /** send the response headers (nothing at all for HEAD), then no body: the client must time out */
  stall(sel: Selector, times?: number): void;
  clearFaults(): void;
  /**
   * Serve tag lists in pages of at most `pageSize` with `Link: <…?last=…&n=…>; rel="next"`, as Docker Hub, ECR and
   * distribution 3 do (distribution 2.8 ignores `n` for tags). 0 turns it off.
   */
  paginateTags(pageSize: number): void;
  stop(): Promise<void>;
}

type Fault =
  | { type: 'fail'; match: Selector; left: number; status: number; headers: Record<string, string> }
  | { type: 'stall'; match: Selector; left: number }
  | { type: 'drop'; match: Selector; left: number; n: number }
  | { type: 'slow'; match: Selector; left: number; bps: number }
  | { type: 'corrupt'; match: Selector; left: number };

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);
const ERROR_CODES: Record<number, string> = { 401: 'UNAUTHORIZED', 403: 'DENIED', 404: 'NAME_UNKNOWN', 429: 'TOOMANYREQUESTS', 503: 'UNAVAILABLE' };

/** Classify a distribution API request by method and path. */
export function classify(method: string, path: string, query: URLSearchParams): { kind: Kind; repo?: string; ref?: string } {
  if (path === '/v2/' || path === '/v2') return { kind: 'ping' };
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  let m = /^\/v2\/(.+)\/tags\/list$/.exec(path);
  if (m) return { kind: 'tags', repo: m[1] };
  m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
  if (m) {
    const kinds: Record<string, Kind> = { GET: 'manifest-get', HEAD: 'manifest-head', PUT: 'manifest-put', DELETE: 'manifest-delete' };
    return { kind: kinds[method] ?? 'other', repo: m[1], ref: m[2] };
  }
  m = /^\/v2\/(.+)\/blobs\/uploads(?:\/.*)?$/.exec(path);
  if (m) return { kind: method === 'POST' && query.has('mount') ? 'mount' : 'upload', repo: m[1], ref: query.get('mount') ?? undefined };
  m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(path);
  if (m) {
    const kinds: Record<string, Kind> = { GET: 'blob-get', HEAD: 'blob-head', DELETE: 'blob-delete' };
    return { kind: kinds[method] ?? 'other', repo: m[1], ref: m[2] };
  }
  return { kind: 'other' };
}

function matches(sel: Selector | undefined, r: ProxyRequest): boolean {
  if (sel === undefined) return true;
  if (typeof sel === 'function') return sel(r);
  return typeof sel === 'string' ? sel === r.kind : sel.includes(r.kind);
}

function authKind(h: string | undefined): ProxyRecord['authorization'] {
  if (!h) return 'none';
  const s = h.split(' ')[0]!.toLowerCase();
  return s === 'basic' || s === 'bearer' ? s : 'other';
}

function filterRaw(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function write(dst: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (dst.destroyed) return reject(new Error('destination closed'));
    const onClose = (): void => reject(new Error('destination closed'));
    dst.once('close', onClose);
    dst.write(chunk, (err) => {
      dst.off('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

interface RelayOpts {
  count(n: number): void;
  dropAfter?: number;
  bps?: number;
  corrupt?: boolean;
}

/** Copy src to dst chunk by chunk with counting and faults; 'dropped' when the drop point was reached. */
async function relay(src: Readable, dst: Writable, o: RelayOpts): Promise<'done' | 'dropped'> {
  let sent = 0;
  let corrupt = o.corrupt ?? false;
  for await (const raw of src) {
    let chunk = raw as Buffer;
    if (corrupt && chunk.length > 0) {
      chunk = Buffer.from(chunk);
      chunk[0]! ^= 0xff;
      corrupt = false;
    }
    let dropping = false;
    if (o.dropAfter !== undefined && sent + chunk.length > o.dropAfter) {
      chunk = chunk.subarray(0, o.dropAfter - sent);
      dropping = true;
    }
    const slice = o.bps ? Math.max(1, Math.floor(o.bps / 20)) : chunk.length || 1;
    for (let off = 0; off < chunk.length; off += slice) {
      const part = chunk.subarray(off, off + slice);
      await write(dst, part);
      o.count(part.length);
      sent += part.length;
      if (o.bps) await sleep((part.length / o.bps) * 1000);
    }
    if (dropping) return 'dropped';
  }
  return 'done';
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const stats: ProxyRecord[] = [];
  let faults: Fault[] = [];
  let tagPage = 0;

  /** One page of the full upstream tag list (sorted, after `last`, at most min(n, tagPage) tags). */
  const servePagedTags = (req: IncomingMessage, res: ServerResponse, u: URL, rec: ProxyRecord): void => {
    const up = request({ host: upstream.hostname, port: upstream.port, method: 'GET', path: u.pathname, agent, headers: filterRaw(req.rawHeaders) as unknown as Record<string, string> });
    up.on('error', () => res.destroy());
    up.on('response', (ures) => {
      const chunks: Buffer[] = [];
      ures.on('data', (c: Buffer) => chunks.push(c));
      ures.on('end', () => {
        rec.status = ures.statusCode ?? 0;
        if (rec.status !== 200) {
          res.writeHead(rec.status, filterRaw(ures.rawHeaders)).end(Buffer.concat(chunks));
          return;
        }
        const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { name: string; tags: string[] | null };
        const all = [...(doc.tags ?? [])].sort();
        const last = u.searchParams.get('last');
        const n = Math.min(Number(u.searchParams.get('n') ?? tagPage) || tagPage, tagPage);
        const rest = last ? all.filter((t) => t > last) : all;
        const page = rest.slice(0, n);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (rest.length > page.length) headers.link = `<${u.pathname}?last=${encodeURIComponent(page[page.length - 1])}&n=${n}>; rel="next"`;
        const body = JSON.stringify({ name: doc.name, tags: page });
        rec.bytesOut += body.length;
        res.writeHead(200, headers).end(body);
      });
    });
    up.end();
  };

  const take = (types: Fault['type'][], r: ProxyRequest, first: boolean): Fault[] => {
    const hit: Fault[] = [];
    for (const f of faults) {
      if (!types.includes(f.type) || f.left <= 0 || !matches(f.match, r)) continue;
      f.left--;
      hit.push(f);
      if (first) break;
    }
    return hit;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const u = new URL(req.url ?? '/', 'http://proxy');
    const method = req.method ?? 'GET';
    const c = classify(method, u.pathname, u.searchParams);
    const info: ProxyRequest = { method, path: u.pathname, query: u.searchParams, ...c, headers: req.headers };
    const rec: ProxyRecord = {
      method, path: u.pathname, query: u.searchParams.toString(), kind: c.kind, repo: c.repo, ref: c.ref, status: 0, bytesIn: 0, bytesOut: 0,
      authorization: authKind(req.headers.authorization), range: req.headers.range,
    };
    stats.push(rec);

    if (tagPage > 0 && c.kind === 'tags' && method === 'GET') return servePagedTags(req, res, u, rec);
    const [pre] = take(['fail', 'stall'], info, true);
    if (pre?.type === 'fail') {
      rec.fault = 'fail';
      rec.status = pre.status;
      const code = ERROR_CODES[pre.status] ?? 'UNKNOWN';
      const body = JSON.stringify({ errors: [{ code, message: `injected ${pre.status}` }] });
      res.writeHead(pre.status, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0', ...pre.headers });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    const mods = take(['drop', 'slow', 'corrupt'], info, false);
    const drop = mods.find((f) => f.type === 'drop');
    const slow = mods.find((f) => f.type === 'slow');
    const corrupt = method === 'GET' && mods.some((f) => f.type === 'corrupt');
    const onRequestBody = ['POST', 'PUT', 'PATCH'].includes(method);
    if (drop || slow || corrupt) rec.fault = drop ? 'drop' : corrupt ? 'corrupt' : 'slow';

    const up = request({
      host: upstream.hostname, port: upstream.port, method, path: req.url, agent,
      headers: filterRaw(req.rawHeaders) as unknown as Record<string, string>,
    });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    up.on('error', () => {
      if (!res.headersSent && !res.destroyed) {
        rec.status = 502;
        res.writeHead(502, { 'content-type': 'text/plain' }).end('upstream error');
      } else res.destroy();
    });
    up.on('response', (ures) => {
      rec.status = ures.statusCode ?? 0;
      void (async () => {
        if (pre?.type === 'stall') {
          rec.fault = 'stall';
          ures.destroy();
          if (method !== 'HEAD') {
            res.writeHead(rec.status, filterRaw(ures.rawHeaders));
            res.flushHeaders();
          }
          return; // closed by the client giving up, or by stop()
        }
        res.writeHead(rec.status, ures.statusMessage, filterRaw(ures.rawHeaders));
        const outcome = await relay(ures, res, {
          count: (n) => (rec.bytesOut += n),
          dropAfter: onRequestBody ? undefined : drop?.n,
          bps: onRequestBody ? undefined : slow?.bps,
          corrupt,
        });
        if (outcome === 'dropped') {
          ures.destroy();
          res.destroy();
        } else res.end();
      })().catch(() => res.destroy());
    });
    try {
      const outcome = await relay(req, up, {
        count: (n) => (rec.bytesIn += n),
        dropAfter: onRequestBody ? drop?.n : undefined,
        bps: onRequestBody ? slow?.bps : undefined,
      });
      if (outcome === 'dropped') {
        up.destroy();
        req.socket.destroy();
      } else up.end();
    } catch {
      up.destroy();
      res.destroy();
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const pick = (sel?: Selector): ProxyRecord[] =>
    stats.filter((r) => matches(sel, { method: r.method, path: r.path, query: new URLSearchParams(r.query), kind: r.kind, repo: r.repo, ref: r.ref, headers: {} }));

  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    stats,
    count: (sel) => pick(sel).length,
    bytes: (sel) => pick(sel).reduce((n, r) => n + r.bytesIn + r.bytesOut, 0),
    reset: () => void (stats.length = 0),
    get seenAuthorization() {
      return stats.map((r) => ({ method: r.method, path: r.path, kind: r.kind, authorization: r.authorization }));
    },
    corruptBlob: (digest) => void faults.push({ type: 'corrupt', left: Infinity, match: (r) => r.kind === 'blob-get' && r.ref === digest }),
    dropAfter: (sel, n, times = 1) => void faults.push({ type: 'drop', match: sel, left: times, n }),
    failWith: (status, times = 1, sel, headers = {}) => void faults.push({ type: 'fail', match: sel ?? (() => true), left: times, status, headers }),
    slowBody: (bps, sel) => void faults.push({ type: 'slow', match: sel ?? (() => true), left: Infinity, bps }),
    stall: (sel, times = 1) => void faults.push({ type: 'stall', match: sel, left: times }),
    clearFaults: () => void (faults = []),
    paginateTags: (n) => void (tagPage = n),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
