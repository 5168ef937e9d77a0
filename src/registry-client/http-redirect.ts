// Request stage: redirects over dispatch. One undici request per hop, followed by hand: hop cap, no HTTPS→HTTP,
// Authorization only to the registry's origin; each hop traced for --debug with secrets masked.
import { request, type Dispatcher } from './undici-lite.js';
import { RegctlError } from '../errors.js';
import { headerLines } from './debug-trace.js';
import { redactUrl } from './errors.js';
import { type HttpContext, type RegRequest, type RegResponse, describe, header } from './http.js';
import { checkHandedUrl, isOwnOrigin, resolveHanded } from './origin.js';
import { parseRateLimit } from './ratelimit.js';

export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** One request on the wire: waits out a pause on the host, sends, traces, and notes the rate limit answered. */
async function dispatch(
  ctx: HttpContext,
  req: RegRequest,
  url: URL,
  headers: Record<string, string>,
  own: string,
  first: boolean,
): Promise<RegResponse> {
  ctx.debug?.(`> ${req.method} ${redactUrl(url.toString())}${headers.range ? ` range=${headers.range}` : ''}`);
  if (ctx.debug) for (const line of headerLines('>', headers)) ctx.debug(line);
  const t0 = Date.now();
  const r = await request(url, {
    method: req.method,
    headers,
    body: first ? (req.body as Dispatcher.DispatchOptions['body']) : undefined,
    dispatcher: ctx.hosts.dispatcherFor(isOwnOrigin(own, url) ? req.registry : undefined),
    signal: req.signal,
    // undici closes a connection after a HEAD (nodejs/undici#258: a server that sent a body with its answer); a HEAD's
    // answer has no content (RFC 9110 §9.3.2) and registries keep to it, so the connection is kept: a sync re-run is
    // HEADs only, and each new connection costs a TCP and a TLS handshake.
    ...(req.method === 'HEAD' ? { reset: false } : {}),
  });
  ctx.debug?.(`< ${r.statusCode} ${req.method} ${redactUrl(url.toString())} (${Date.now() - t0} ms)`);
  if (ctx.debug) for (const line of headerLines('<', r.headers)) ctx.debug(line);
  const rateLimit = parseRateLimit(r.headers);
  return { status: r.statusCode, headers: r.headers, body: r.body, url: url.toString(), rateLimit };
}

/** One exchange from `start`, redirects followed when the request asks (blob GETs to a CDN). */
export async function exchange(
  ctx: HttpContext,
  req: RegRequest,
  start: URL,
  auth: string | undefined,
  own: string,
): Promise<RegResponse> {
  // A Retry-After or 429 seen by any worker holds every request to this registry.
  await ctx.hosts.waitForTurn(req.registry, req.signal);
  let url = start;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { 'user-agent': ctx.userAgent, ...req.headers };
    if (auth && isOwnOrigin(own, url)) headers.authorization = auth;
    const res = await dispatch(ctx, req, url, headers, own, hop === 0);
    const location = header(res.headers, 'location');
    if (!req.followRedirects || !REDIRECTS.has(res.status) || !location) {
      if (res.rateLimit) ctx.onRateLimit?.(req.registry, res.rateLimit);
      return res;
    }
    await res.body.dump().catch(() => {});
    if (hop >= MAX_REDIRECTS) {
      throw new RegctlError('REDIRECT', `${describe(req)}: more than ${MAX_REDIRECTS} redirects`);
    }
    const next = resolveHanded(location, url, describe(req));
    checkHandedUrl(own, next, describe(req), url);
    url = next;
  }
}
