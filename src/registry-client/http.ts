// The one request path to registries: origin, auth on 401, manual redirects, retries with backoff, error mapping.
import { request, type Dispatcher } from './undici-lite.js';
import type { Credential, CredentialSource } from '../credentials/index.js';
import { RegctlError, isAbortError } from '../errors.js';
import { rememberLogin, rememberSecret } from '../util/secrets.js';
import { type Challenge, TokenCache, basicHeader, fetchBearerToken, parseChallenge } from './auth.js';
import { RegistryError, parseErrorBody, redactUrl } from './errors.js';
import { headerLines } from './debug-trace.js';
import { permissionDenied, tracedToken } from './grants.js';
import { type Hosts, connectError } from './hosts.js';
import { checkHandedUrl, checkRealm, isOwnOrigin, resolveHanded } from './origin.js';
import { readErrorText } from './read.js';
import { exhaustedForMs, parseRateLimit, type RateLimit, throttleHint } from './ratelimit.js';
import { RETRYABLE_STATUS, backoffMs, isRetryableError, networkReason, parseRetryAfter, sleep } from './retry.js';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
export type Headers = Record<string, string | string[] | undefined>;

export interface RegRequest {
  /** The registry's logical name (`docker.io`), used for credentials and the hosts config. */
  registry: string;
  method: Method;
  /** Path under the origin (`/v2/library/alpine/manifests/3.20`), or `url` for an absolute upload Location. */
  path?: string;
  url?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** Only Uint8Array (or no) bodies are replayed by retries; a streamed body fails over to the caller. */
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  scopes: readonly string[];
  expect: readonly number[];
  idempotent: boolean;
  /** Retries are not reported through onRetry (best-effort cleanup after a failure already reported). */
  quietRetries?: boolean;
  /** At most this many retries, under the context's (0: best-effort cleanup, or a network error goes to the caller). */
  retries?: number;
  signal: AbortSignal;
  /** What the request is, for errors: `manifest alpine:3.20`. */
  what?: string;
  /** Follow redirects (blob GETs to a CDN). */
  followRedirects?: boolean;
}

export interface RegResponse {
  status: number;
  headers: Headers;
  body: Dispatcher.ResponseData['body'];
  url: string;
  rateLimit?: RateLimit;
}

export interface RetryInfo {
  what: string;
  /** The registry retried (its logical name), so a report can say which host failed. */
  registry?: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface HttpContext {
  hosts: Hosts;
  credentials: CredentialSource;
  tokens: TokenCache;
  /** Retries after the first try, for idempotent requests. */
  retries: number;
  /** Longest Retry-After we wait for before failing. */
  maxRetryAfterMs: number;
  userAgent: string;
  onRetry?: (info: RetryInfo) => void;
  onRateLimit?: (registry: string, rl: RateLimit) => void;
  debug?: (line: string) => void;
  /** Per-registry challenge learned from the first 401, so later requests authenticate up front. */
  challenges: Map<string, Challenge>;
  creds: Map<string, Promise<Credential | undefined>>;
}

const MAX_REDIRECTS = 5;

export function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `stale`: the Basic header the registry refused; those credentials (only those) are looked up again, past every cache. */
async function credentialsFor(ctx: HttpContext, registry: string, signal: AbortSignal, stale?: string): Promise<Credential | undefined> {
  let p = ctx.creds.get(registry);
  if (p && stale !== undefined) {
    const current = await p.catch(() => undefined);
    if (!current || basicHeader(current) === stale) p = undefined;
  }
  if (!p) {
    p = ctx.credentials(registry, signal, { refresh: stale !== undefined }).then((c) => {
      // Known by value from now on: masked wherever it would be shown (an error body echoing it, a debug line).
      if (c) {
        rememberLogin(c.username, c.password);
        rememberSecret(c.identityToken);
        rememberSecret(c.registryToken);
      }
      return c;
    });
    ctx.creds.set(registry, p);
    p.catch(() => ctx.creds.delete(registry));
  }
  return p;
}

async function authorization(
  ctx: HttpContext,
  req: RegRequest,
  refresh: string | undefined,
  origin: string,
): Promise<string | undefined> {
  const challenge = ctx.challenges.get(req.registry);
  if (!challenge) return undefined;
  if (challenge.scheme === 'bearer') {
    checkRealm(req.registry, origin, challenge.realm, ctx.hosts.hostConfig(req.registry)?.allowHttpRealm === true);
  }
  // A Basic login refused once (an expired ECR token): look the credentials up again, past every cache.
  const cred = await credentialsFor(ctx, req.registry, req.signal, challenge.scheme === 'basic' ? refresh : undefined);
  if (challenge.scheme === 'basic') return cred ? basicHeader(cred) : undefined;
  if (cred?.registryToken) return `Bearer ${cred.registryToken}`;
  if (refresh) ctx.tokens.invalidate(req.registry, refresh.replace(/^Bearer /, ''));
  const scopes = req.scopes.length ? req.scopes : [];
  const cached = refresh ? undefined : ctx.tokens.find(req.registry, scopes);
  if (cached) return `Bearer ${cached}`;
  const token = await ctx.tokens.get(req.registry, scopes, (s) =>
    tracedToken(ctx, req.registry, challenge.realm, s, cred, () =>
      fetchBearerToken({ challenge, scopes: s, cred, dispatcher: ctx.hosts.dispatcherFor(undefined), signal: req.signal }),
    ),
  );
  rememberSecret(token);
  return `Bearer ${token}`;
}

function describe(req: RegRequest): string {
  return req.what ?? `${req.method} ${req.path ?? req.url ?? ''}`;
}

/** Sends one registry request through auth, redirects and retries; answers with a status in `expect` or throws. */
export async function send(ctx: HttpContext, req: RegRequest): Promise<RegResponse> {
  const origin = await ctx.hosts.origin(req.registry, req.signal).catch((err) => {
    throw isAbortError(err) || err instanceof RegctlError ? err : connectError(req.registry, err, ctx.hosts.opts.timeoutMs);
  });
  // Credentials and challenges belong to this origin only; a URL the registry handed over may name another.
  const own = new URL(origin).origin;
  const base = new URL(req.url ?? `${origin}${req.path}`, origin);
  if (req.url !== undefined) checkHandedUrl(own, base, describe(req));
  for (const [k, v] of Object.entries(req.query ?? {})) base.searchParams.set(k, v);
  const toOwn = isOwnOrigin(own, base);
  const replayable = req.body === undefined || req.body instanceof Uint8Array;
  let authTried = false;
  let lastAuth: string | undefined;
  // The Authorization the registry refused with a 401 (an expired ECR token): replaced once by fresh credentials.
  let refused: string | undefined;
  let refreshed = false;
  for (let attempt = 0; ; attempt++) {
    let res: RegResponse;
    try {
      await ctx.hosts.waitForTurn(req.registry, req.signal);
      const auth = toOwn ? await authorization(ctx, req, refused, own) : undefined;
      refused = undefined;
      lastAuth = auth;
      res = await exchange(ctx, req, base, auth, own);
    } catch (err) {
      if (isAbortError(err) || err instanceof RegctlError) throw err;
      const retries = Math.min(ctx.retries, req.retries ?? ctx.retries);
      const again = attempt < retries && !ctx.hosts.closed;
      if ((req.idempotent || replayable) && replayable && isRetryableError(err) && again) {
        const delayMs = backoffMs(attempt);
        const reason = networkReason(err, ctx.hosts.opts.timeoutMs);
        if (!req.quietRetries) ctx.onRetry?.({ what: describe(req), registry: req.registry, attempt: attempt + 1, delayMs, reason });
        await sleep(delayMs, req.signal);
        continue;
      }
      throw connectError(req.registry, err, ctx.hosts.opts.timeoutMs, req.what);
    }
    if (res.rateLimit) ctx.onRateLimit?.(req.registry, res.rateLimit);
    // A 401 from another origin (a CDN the blob redirected to, an upload Location elsewhere) is that origin's
    // business: it never becomes the registry's challenge, so it cannot switch a Bearer registry to Basic.
    if (res.status === 401 && isOwnOrigin(own, res.url) && (!authTried || (lastAuth !== undefined && !refreshed))) {
      const challenge = parseChallenge(header(res.headers, 'www-authenticate'));
      await res.body.dump().catch(() => {});
      if (challenge && replayable) {
        ctx.challenges.set(req.registry, challenge);
        if (lastAuth !== undefined) {
          refused = lastAuth;
          refreshed = true;
        }
        authTried = true;
        attempt--;
        continue;
      }
    }
    if (req.expect.includes(res.status)) return res;
    const retryable = RETRYABLE_STATUS.has(res.status) && replayable && (req.idempotent || res.status === 429 || res.status === 503);
    if (retryable && attempt < Math.min(ctx.retries, req.retries ?? ctx.retries)) {
      const after = retryAfterOf(res);
      await res.body.dump().catch(() => {});
      if (after !== undefined && after > ctx.maxRetryAfterMs) {
        throw new RegistryError({
          status: res.status,
          method: req.method,
          url: base.toString(),
          what: describe(req),
          rateLimit: res.rateLimit,
          hint: throttleHint(res.rateLimit, after),
        });
      }
      const delayMs = after ?? backoffMs(attempt);
      // The registry is throttling: every worker on this host waits, not only this request.
      if (after !== undefined || res.status === 429) ctx.hosts.pauseUntil(req.registry, Date.now() + delayMs);
      if (!req.quietRetries) ctx.onRetry?.({ what: describe(req), registry: req.registry, attempt: attempt + 1, delayMs, reason: `HTTP ${res.status}` });
      await sleep(delayMs, req.signal);
      continue;
    }
    const text = req.method === 'HEAD' ? '' : await readErrorText(res.body).catch(() => '');
    if (req.method === 'HEAD') await res.body.dump().catch(() => {});
    // Valid credentials without the right (a 403, or a token granted less than asked) are not a failed login.
    const challenge = header(res.headers, 'www-authenticate');
    const refusal = { status: res.status, url: res.url, challenge, bodyText: text };
    const denied = permissionDenied(ctx, req, refusal, lastAuth);
    if (denied) throw denied;
    throw new RegistryError({
      status: res.status,
      method: req.method,
      url: res.url,
      what: describe(req),
      errors: parseErrorBody(text),
      bodyText: text.startsWith('{') ? undefined : text,
      rateLimit: res.rateLimit,
      hint: res.status === 429 ? throttleHint(res.rateLimit, retryAfterOf(res)) : undefined,
    });
  }
}

/** Retry-After; on a 429 without one (Docker Hub's pull limit), how long the exhausted rate limit lasts at most. */
function retryAfterOf(res: RegResponse): number | undefined {
  const after = parseRetryAfter(header(res.headers, 'retry-after'));
  return after ?? (res.status === 429 ? exhaustedForMs(res.rateLimit) : undefined);
}

/**
 * send() and read the whole answer with `read`. A body that breaks off or stalls (a network error while reading)
 * sends an idempotent request again, with backoff, up to `retries` times; then fails as a one-line network error.
 */
export async function sendRead<T>(ctx: HttpContext, req: RegRequest, read: (res: RegResponse) => Promise<T>): Promise<{ res: RegResponse; value: T }> {
  for (let attempt = 0; ; attempt++) {
    const res = await send(ctx, req);
    try {
      return { res, value: await read(res) };
    } catch (err) {
      res.body.destroy();
      if (isAbortError(err) || err instanceof RegctlError || !isRetryableError(err)) throw err;
      if (!req.idempotent || attempt >= (req.retries ?? ctx.retries) || ctx.hosts.closed) throw connectError(req.registry, err, ctx.hosts.opts.timeoutMs, describe(req));
      const delayMs = backoffMs(attempt);
      const reason = networkReason(err, ctx.hosts.opts.timeoutMs);
      if (!req.quietRetries) ctx.onRetry?.({ what: describe(req), registry: req.registry, attempt: attempt + 1, delayMs, reason });
      await sleep(delayMs, req.signal);
    }
  }
}

/** One exchange, redirects followed by hand: hop cap, no HTTPS→HTTP, Authorization only to the registry's origin. */
async function exchange(
  ctx: HttpContext,
  req: RegRequest,
  start: URL,
  auth: string | undefined,
  own: string,
): Promise<RegResponse> {
  let url = start;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { 'user-agent': ctx.userAgent, ...req.headers };
    if (auth && isOwnOrigin(own, url)) headers.authorization = auth;
    ctx.debug?.(`> ${req.method} ${redactUrl(url.toString())}${headers.range ? ` range=${headers.range}` : ''}`);
    if (ctx.debug) for (const line of headerLines('>', headers)) ctx.debug(line);
    const t0 = Date.now();
    const r = await request(url, {
      method: req.method,
      headers,
      body: hop === 0 ? (req.body as Dispatcher.DispatchOptions['body']) : undefined,
      dispatcher: ctx.hosts.dispatcherFor(isOwnOrigin(own, url) ? req.registry : undefined),
      signal: req.signal,
    });
    ctx.debug?.(`< ${r.statusCode} ${req.method} ${redactUrl(url.toString())} (${Date.now() - t0} ms)`);
    if (ctx.debug) for (const line of headerLines('<', r.headers)) ctx.debug(line);
    const res: RegResponse = { status: r.statusCode, headers: r.headers, body: r.body, url: url.toString(), rateLimit: parseRateLimit(r.headers) };
    const location = header(r.headers, 'location');
    if (!req.followRedirects || ![301, 302, 303, 307, 308].includes(r.statusCode) || !location) return res;
    await r.body.dump().catch(() => {});
    if (hop >= MAX_REDIRECTS) throw new RegctlError('REDIRECT', `${describe(req)}: more than ${MAX_REDIRECTS} redirects`);
    const next = resolveHanded(location, url, describe(req));
    checkHandedUrl(own, next, describe(req), url);
    url = next;
  }
}

export function newHttpContext(opts: Omit<HttpContext, 'tokens' | 'challenges' | 'creds'>): HttpContext {
  return { ...opts, tokens: new TokenCache(), challenges: new Map(), creds: new Map() };
}
