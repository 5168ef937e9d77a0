// An HTTP proxy in front of a test registry that counts distribution API calls and injects faults on demand.
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Readable, Writable } from 'node:stream';

export type Kind =
  | 'ping'
  | 'catalog'
  | 'tags'
  | 'upload'
  | 'mount'
  | 'other'
  | 'blob-get'
  | 'blob-head'
  | 'blob-delete'
  | 'manifest-get'
  | 'manifest-head'
  | 'manifest-put'
  | 'manifest-delete';

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
  fault?: 'fail' | 'stall' | 'hold' | 'drop' | 'corrupt' | 'slow' | 'rewrite' | 'no-range' | 'endless';
  /** Date.now() when the request arrived */
  at: number;
  /** the Authorization header as sent (tests look for leaks) */
  authHeader?: string;
  /** the path of the upstream answer's Location header (an upload session) */
  location?: string;
  /**
   * when the request arrived and when its answer closed, on one counter shared by all requests (an order, not a time)
   */
  openedAt: number;
  closedAt?: number;
}

/** A response as rewrite() sees it (buffered) and may change. */
export interface ProxyResponse {
  status: number;
  /** lower-cased names; content-length is recomputed unless `chunked` */
  headers: Record<string, string>;
  body: Buffer;
  /** send without content-length (chunked), so the client cannot tell the size up front */
  chunked?: boolean;
}

export interface ChaosOptions {
  /** PRNG seed: the same seed injects the same faults for the same request sequence */
  seed: number;
  /** probability of a fault per request (0..1) */
  rate: number;
  /**
   * after a fault on a request (method + path, upload sessions of a repository counted as one), the same request is
   * spared for this long (default 2000 ms), so its retry succeeds: the faults stay bounded however clients interleave
   */
  immuneMs?: number;
  /** only these requests are eligible (default: every distribution API request but the ping) */
  sel?: Selector;
  /** Retry-After (seconds) sent with an injected 429 / 503; default none */
  retryAfter?: string;
}

export interface ChaosStats {
  requests: number;
  faults: number;
  byType: Record<string, number>;
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
  /** the most matching requests that were open (arrived, answer not yet closed) at one moment */
  peakConcurrent(sel?: Selector): number;
  /** TCP connections clients opened to the proxy since the last reset (measurement only, no behaviour) */
  connections(): number;
  reset(): void;
  readonly seenAuthorization: Array<{
    method: string;
    path: string;
    kind: Kind;
    authorization: ProxyRecord['authorization'];
  }>;
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
  /** never answer (not even headers) and forward nothing, for the next `times` matching requests */
  hold(sel: Selector, times?: number): void;
  clearFaults(): void;
  /**
   * Serve tag lists in pages of at most `pageSize` with `Link: <…?last=…&n=…>; rel="next"`, as Docker Hub, ECR and
   * distribution 3 do (distribution 2.8 ignores `n` for tags). 0 turns it off.
   */
  paginateTags(pageSize: number): void;
  /** forward the next `times` matching requests without their Range header (a registry that ignores Range) */
  ignoreRange(sel: Selector, times?: number): void;
  /**
   * buffer the upstream answer of the next `times` matching requests and send what `fn` returns instead
   * (a hostile or broken registry); `fn` may change status, headers and body
   */
  rewrite(sel: Selector, fn: (res: ProxyResponse, req: ProxyRequest) => ProxyResponse, times?: number): void;
  /**
   * answer the next `times` matching requests with `status` and a body that does not end: `head`, then `chunk` over and
   * over (chunked, no Content-Length) until the client goes away — a hostile server trying to exhaust the client's
   * memory. `maxBytes` (default 64 MiB) stops it anyway: a client without a cap fails its test, not the machine.
   */
  endless(
    sel: Selector,
    status: number,
    headers: Record<string, string>,
    head: string,
    chunk: string,
    times?: number,
    maxBytes?: number,
  ): void;
  /**
   * inject random faults (5xx, 429, dropped bodies, reset connections) on a fraction of requests, until clearFaults()
   */
  chaos(opts: ChaosOptions): void;
  /** what chaos() injected so far */
  readonly chaosStats: ChaosStats;
  stop(): Promise<void>;
}

type Fault =
  | { type: 'fail'; match: Selector; left: number; status: number; headers: Record<string, string> }
  | { type: 'stall'; match: Selector; left: number }
  | { type: 'hold'; match: Selector; left: number }
  | { type: 'drop'; match: Selector; left: number; n: number; frac?: number }
  | { type: 'slow'; match: Selector; left: number; bps: number }
  | { type: 'corrupt'; match: Selector; left: number }
  | { type: 'no-range'; match: Selector; left: number }
  | { type: 'rewrite'; match: Selector; left: number; fn: (res: ProxyResponse, req: ProxyRequest) => ProxyResponse }
  | {
      type: 'endless';
      match: Selector;
      left: number;
      status: number;
      headers: Record<string, string>;
      head: Buffer;
      chunk: Buffer;
      max: number;
    };

/** mulberry32: a small seeded PRNG, so chaos runs are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Headers that belong to one connection, not to the message: a proxy does not forward them (RFC 9110 §7.6.1). */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
]);
const ERROR_CODES: Record<number, string> = {
  401: 'UNAUTHORIZED',
  403: 'DENIED',
  404: 'NAME_UNKNOWN',
  429: 'TOOMANYREQUESTS',
  503: 'UNAVAILABLE',
};

/** Classify a distribution API request by method and path. */
export function classify(
  method: string,
  path: string,
  query: URLSearchParams,
): { kind: Kind; repo?: string; ref?: string } {
  if (path === '/v2/' || path === '/v2') return { kind: 'ping' };
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  let m = /^\/v2\/(.+)\/tags\/list$/.exec(path);
  if (m) return { kind: 'tags', repo: m[1] };
  m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
  if (m) {
    const kinds: Record<string, Kind> = {
      GET: 'manifest-get',
      HEAD: 'manifest-head',
      PUT: 'manifest-put',
      DELETE: 'manifest-delete',
    };
    return { kind: kinds[method] ?? 'other', repo: m[1], ref: m[2] };
  }
  m = /^\/v2\/(.+)\/blobs\/uploads(?:\/.*)?$/.exec(path);
  if (m)
    return {
      kind: method === 'POST' && query.has('mount') ? 'mount' : 'upload',
      repo: m[1],
      ref: query.get('mount') ?? undefined,
    };
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

/** How a request authenticated itself, without keeping the secret. */
export function authKind(h: string | undefined): ProxyRecord['authorization'] {
  if (!h) return 'none';
  const s = h.split(' ')[0].toLowerCase();
  return s === 'basic' || s === 'bearer' ? s : 'other';
}

function filterRaw(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
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
      chunk[0] ^= 0xff;
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
      // The pause comes before the part, so the answer ends with its last byte (peakConcurrent sees it closed then).
      if (o.bps) await sleep((part.length / o.bps) * 1000);
      await write(dst, part);
      o.count(part.length);
      sent += part.length;
    }
    if (dropping) return 'dropped';
  }
  return 'done';
}

/** Serves `chunk` after `head` until the client closes the connection or `max` bytes went out. */
type Endless = Extract<Fault, { type: 'endless' }>;
async function serveEndless(res: ServerResponse, rec: ProxyRecord, f: Endless, method: string): Promise<void> {
  rec.fault = 'endless';
  rec.status = f.status;
  res.writeHead(f.status, f.headers);
  if (method === 'HEAD') return void res.end();
  try {
    await write(res, f.head);
    rec.bytesOut += f.head.length;
    while (rec.bytesOut < f.max) {
      await write(res, f.chunk);
      rec.bytesOut += f.chunk.length;
    }
    res.end();
  } catch {
    res.destroy(); // the client went away: what it did not read is not counted
  }
}

export interface FaultProxyOptions {
  /** Serve HTTPS with this certificate and key (PEM text): an HTTPS registry in front of a plain one. */
  tls?: { cert: string; key: string };
}

export async function startFaultProxy(target: string, opts: FaultProxyOptions = {}): Promise<FaultProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const stats: ProxyRecord[] = [];
  let faults: Fault[] = [];
  let tagPage = 0;
  let order = 0;
  let chaos: (ChaosOptions & { random: () => number; spared: Map<string, number> }) | undefined;
  const chaosStats: ChaosStats = { requests: 0, faults: 0, byType: {} };

  type ChaosFault =
    | { type: 'fail'; status: number; headers: Record<string, string> }
    | { type: 'reset' }
    | { type: 'drop'; n: number; frac?: number };
  /** Draws a random fault for this request, or none; a request that just had one is spared for a while. */
  const chaosFault = (r: ProxyRequest, contentLength: number): ChaosFault | undefined => {
    if (!chaos || r.kind === 'ping' || r.kind === 'other' || !matches(chaos.sel, r)) return undefined;
    chaosStats.requests++;
    // A restarted upload is a new session (a new path): key them all as one, so the restart is spared too.
    const key = `${r.method} ${r.path.replace(/\/blobs\/uploads\/.+$/, '/blobs/uploads/*')}`;
    const roll = chaos.random();
    const pick = chaos.random();
    const where = chaos.random();
    if (roll >= chaos.rate || (chaos.spared.get(key) ?? 0) > Date.now()) return undefined;
    chaos.spared.set(key, Date.now() + (chaos.immuneMs ?? 2000));
    let f: ChaosFault;
    const bodyOut = r.method === 'GET' && (r.kind === 'blob-get' || r.kind === 'manifest-get');
    const bodyIn = ['PUT', 'PATCH'].includes(r.method) && contentLength > 0;
    // A drop point inside the body: a fraction of the request's content-length, or of the response's (known later).
    if ((bodyOut || bodyIn) && pick < 0.45)
      f = bodyIn ? { type: 'drop', n: Math.floor(where * contentLength) } : { type: 'drop', n: 0, frac: where };
    else if (pick < 0.6) f = { type: 'reset' };
    else {
      const status = [500, 502, 503, 504, 429][Math.floor(where * 5)];
      f = {
        type: 'fail',
        status,
        headers: chaos.retryAfter && (status === 429 || status === 503) ? { 'retry-after': chaos.retryAfter } : {},
      };
    }
    const name =
      f.type === 'fail'
        ? `fail-${f.status}`
        : f.type === 'drop'
          ? bodyIn
            ? 'drop-request-body'
            : 'drop-response-body'
          : 'reset';
    chaosStats.faults++;
    chaosStats.byType[name] = (chaosStats.byType[name] ?? 0) + 1;
    return f;
  };

  /** One page of the full upstream tag list (sorted, after `last`, at most min(n, tagPage) tags). */
  const servePagedTags = (req: IncomingMessage, res: ServerResponse, u: URL, rec: ProxyRecord): void => {
    const up = request({
      host: upstream.hostname,
      port: upstream.port,
      method: 'GET',
      path: u.pathname,
      agent,
      headers: filterRaw(req.rawHeaders) as unknown as Record<string, string>,
    });
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
        if (rest.length > page.length)
          headers.link = `<${u.pathname}?last=${encodeURIComponent(page[page.length - 1])}&n=${n}>; rel="next"`;
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
      method,
      path: u.pathname,
      query: u.searchParams.toString(),
      kind: c.kind,
      repo: c.repo,
      ref: c.ref,
      status: 0,
      bytesIn: 0,
      bytesOut: 0,
      authorization: authKind(req.headers.authorization),
      range: req.headers.range,
      at: Date.now(),
      ...(req.headers.authorization ? { authHeader: req.headers.authorization } : {}),
      openedAt: ++order,
    };
    stats.push(rec);
    res.once('close', () => (rec.closedAt = ++order));

    if (tagPage > 0 && c.kind === 'tags' && method === 'GET') return servePagedTags(req, res, u, rec);
    const random = chaosFault(info, Number(req.headers['content-length'] ?? 0));
    if (random?.type === 'reset') {
      rec.fault = 'drop';
      req.socket.destroy();
      return;
    }
    if (random?.type === 'fail')
      faults.unshift({ type: 'fail', match: () => true, left: 1, status: random.status, headers: random.headers });
    if (random?.type === 'drop')
      faults.unshift({
        type: 'drop',
        match: () => true,
        left: 1,
        n: random.n,
        ...(random.frac !== undefined ? { frac: random.frac } : {}),
      });
    faults = faults.filter((f) => f.left > 0);
    const [pre] = take(['fail', 'stall', 'hold', 'endless'], info, true);
    if (pre?.type === 'endless') {
      req.resume();
      return serveEndless(res, rec, pre, method);
    }
    if (pre?.type === 'hold') {
      rec.fault = 'hold';
      req.resume();
      return; // closed by the client giving up, or by stop()
    }
    if (pre?.type === 'fail') {
      rec.fault = 'fail';
      rec.status = pre.status;
      const code = ERROR_CODES[pre.status] ?? 'UNKNOWN';
      const body = JSON.stringify({ errors: [{ code, message: `injected ${pre.status}` }] });
      res.writeHead(pre.status, {
        'content-type': 'application/json',
        'docker-distribution-api-version': 'registry/2.0',
        ...pre.headers,
      });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    const [rw] = take(['rewrite'], info, true) as Array<Extract<Fault, { type: 'rewrite' }>>;
    const [noRange] = take(['no-range'], info, true);
    if (noRange) rec.fault = 'no-range';
    const mods = take(['drop', 'slow', 'corrupt'], info, false);
    const drop = mods.find((f) => f.type === 'drop');
    const slow = mods.find((f) => f.type === 'slow');
    const corrupt = method === 'GET' && mods.some((f) => f.type === 'corrupt');
    const onRequestBody = ['POST', 'PUT', 'PATCH'].includes(method);
    if (drop || slow || corrupt) rec.fault = drop ? 'drop' : corrupt ? 'corrupt' : 'slow';

    const forwarded = filterRaw(req.rawHeaders);
    if (noRange)
      for (let i = forwarded.length - 2; i >= 0; i -= 2)
        if (forwarded[i].toLowerCase() === 'range') forwarded.splice(i, 2);
    const up = request({
      host: upstream.hostname,
      port: upstream.port,
      method,
      path: req.url,
      agent,
      headers: forwarded as unknown as Record<string, string>,
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
      const loc = ures.headers.location;
      if (loc) rec.location = new URL(loc, 'http://proxy').pathname;
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
        if (rw) {
          rec.fault = 'rewrite';
          const chunks: Buffer[] = [];
          for await (const chunk of ures) chunks.push(chunk as Buffer);
          const headers: Record<string, string> = {};
          const raw = filterRaw(ures.rawHeaders);
          for (let i = 0; i < raw.length; i += 2) headers[raw[i].toLowerCase()] = raw[i + 1]!;
          const out = rw.fn({ status: rec.status, headers, body: Buffer.concat(chunks) }, info);
          const h = { ...out.headers };
          delete h['content-length'];
          if (method === 'HEAD') {
            if (out.headers['content-length'] !== undefined) h['content-length'] = out.headers['content-length'];
          } else if (!out.chunked) h['content-length'] = String(out.body.length);
          rec.status = out.status;
          res.writeHead(out.status, h);
          if (method !== 'HEAD') {
            rec.bytesOut += out.body.length;
            res.write(out.body);
          }
          res.end();
          return;
        }
        res.writeHead(rec.status, ures.statusMessage, filterRaw(ures.rawHeaders));
        const length = Number(ures.headers['content-length'] ?? NaN);
        const dropAt = drop?.frac !== undefined && Number.isFinite(length) ? Math.floor(drop.frac * length) : drop?.n;
        const outcome = await relay(ures, res, {
          count: (n) => (rec.bytesOut += n),
          dropAfter: onRequestBody ? undefined : dropAt,
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

  const server = opts.tls
    ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key }, (req, res) => void handle(req, res))
    : createServer((req, res) => void handle(req, res));
  let connections = 0;
  server.on(opts.tls ? 'secureConnection' : 'connection', () => connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const pick = (sel?: Selector): ProxyRecord[] =>
    stats.filter((r) =>
      matches(sel, {
        method: r.method,
        path: r.path,
        query: new URLSearchParams(r.query),
        kind: r.kind,
        repo: r.repo,
        ref: r.ref,
        headers: {},
      }),
    );

  return {
    host: `127.0.0.1:${port}`,
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    stats,
    count: (sel) => pick(sel).length,
    bytes: (sel) => pick(sel).reduce((n, r) => n + r.bytesIn + r.bytesOut, 0),
    peakConcurrent: (sel) => {
      const edges = pick(sel).flatMap((r) => [
        { at: r.openedAt, d: 1 },
        { at: r.closedAt ?? Infinity, d: -1 },
      ]);
      let open = 0;
      let peak = 0;
      for (const e of edges.sort((a, b) => a.at - b.at)) peak = Math.max(peak, (open += e.d));
      return peak;
    },
    connections: () => connections,
    reset: () => {
      stats.length = 0;
      connections = 0;
    },
    get seenAuthorization() {
      return stats.map((r) => ({ method: r.method, path: r.path, kind: r.kind, authorization: r.authorization }));
    },
    corruptBlob: (digest) =>
      void faults.push({ type: 'corrupt', left: Infinity, match: (r) => r.kind === 'blob-get' && r.ref === digest }),
    dropAfter: (sel, n, times = 1) => void faults.push({ type: 'drop', match: sel, left: times, n }),
    failWith: (status, times = 1, sel, headers = {}) =>
      void faults.push({ type: 'fail', match: sel ?? (() => true), left: times, status, headers }),
    slowBody: (bps, sel) => void faults.push({ type: 'slow', match: sel ?? (() => true), left: Infinity, bps }),
    stall: (sel, times = 1) => void faults.push({ type: 'stall', match: sel, left: times }),
    hold: (sel, times = 1) => void faults.push({ type: 'hold', match: sel, left: times }),
    clearFaults: () => {
      faults = [];
      chaos = undefined;
    },
    paginateTags: (n) => void (tagPage = n),
    ignoreRange: (sel, times = 1) => void faults.push({ type: 'no-range', match: sel, left: times }),
    rewrite: (sel, fn, times = 1) => void faults.push({ type: 'rewrite', match: sel, left: times, fn }),
    endless: (sel, status, headers, head, chunk, times = 1, maxBytes = 64 * 1024 * 1024) =>
      void faults.push({
        type: 'endless',
        match: sel,
        left: times,
        status,
        headers,
        head: Buffer.from(head),
        chunk: Buffer.from(chunk),
        max: maxBytes,
      }),
    chaos: (opts) => void (chaos = { ...opts, random: seededRandom(opts.seed), spared: new Map() }),
    chaosStats,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
