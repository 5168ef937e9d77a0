// The one request path to registries: small stages composed in one order, each testable alone against a dispatcher.
//
//   send = errors( retry( auth( redirects( dispatch ))))
//
// errors (http-errors.ts): an answer outside `expect` becomes a RegistryError (denied vs unauthorized, capped body
//   read, rate-limit hint); a network error a one-line NETWORK error.
// retry (http-retry.ts): one policy (retry.ts) and one RetryBudget per operation, Retry-After and 429 pauses shared
//   by every worker on the host; each attempt authenticates again.
// auth (http-auth.ts): Authorization for the registry's own origin only (origin.ts), learned from its 401, a token
//   from its realm; a refused credential is looked up once more.
// redirects + dispatch (http-redirect.ts): one undici request per hop, hop cap, no HTTPS→HTTP, --debug traces.
import type { Dispatcher } from './undici-lite.js';
import type { Credential, CredentialSource } from '../credentials/index.js';
import { RegctlError, isAbortError } from '../errors.js';
import { type Challenge, TokenCache } from './auth.js';
import { authenticated } from './http-auth.js';
import { mapErrors } from './http-errors.js';
import { exchange } from './http-redirect.js';
import { retrying } from './http-retry.js';
import { type Hosts, connectError } from './hosts.js';
import { checkHandedUrl, isOwnOrigin } from './origin.js';
import type { RateLimit } from './ratelimit.js';
import { RetryBudget, backoffMs, isRetryableError, networkReason, sleep } from './retry.js';

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
  /** false: a network error is not retried (the registry may have acted on it); 429/503 still are. */
  idempotent: boolean;
  /** Retries are not reported through onRetry (best-effort cleanup after a failure already reported). */
  quietRetries?: boolean;
  /** At most this many retries, under the context's (0: best-effort cleanup, or a network error goes to the caller). */
  retries?: number;
  /** The operation's retry budget when the caller retries too (a body read, a fresh upload session): shared. */
  budget?: RetryBudget;
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

/** Where one request goes, worked out once before its first attempt. */
export interface Target {
  /** The registry's own origin: credentials and challenges belong there only. */
  own: string;
  url: URL;
  /** The request starts at the registry's own origin (not a Location handed over naming another). */
  toOwn: boolean;
  /** The body can be sent again. */
  replayable: boolean;
}

/** What a stage answers: the response, and the Authorization the auth stage sent with it (for denied-vs-login). */
export interface Answer {
  res: RegResponse;
  auth?: string;
  /** The retry stage gave up on this answer: its Retry-After (ms) is longer than the context waits for. */
  waitTooLong?: number;
}

export function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export function describe(req: RegRequest): string {
  return req.what ?? `${req.method} ${req.path ?? req.url ?? ''}`;
}

/** The retries one request may spend: the context's, under the request's own cap. */
export function retryLimit(ctx: HttpContext, req: RegRequest): number {
  return Math.min(ctx.retries, req.retries ?? ctx.retries);
}

async function targetOf(ctx: HttpContext, req: RegRequest): Promise<Target> {
  const origin = await ctx.hosts.origin(req.registry, req.signal).catch((err) => {
    throw isAbortError(err) || err instanceof RegctlError
      ? err
      : connectError(req.registry, err, ctx.hosts.opts.timeoutMs);
  });
  // Credentials and challenges belong to this origin only; a URL the registry handed over may name another.
  const own = new URL(origin).origin;
  const url = new URL(req.url ?? `${origin}${req.path}`, origin);
  if (req.url !== undefined) checkHandedUrl(own, url, describe(req));
  for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
  const replayable = req.body === undefined || req.body instanceof Uint8Array;
  return { own, url, toOwn: isOwnOrigin(own, url), replayable };
}

/** Sends one registry request through the stages; answers with a status in `expect` or throws. */
export async function send(ctx: HttpContext, req: RegRequest): Promise<RegResponse> {
  const t = await targetOf(ctx, req);
  return mapErrors(ctx, req, () =>
    retrying(ctx, req, t, () => authenticated(ctx, req, t, (auth) => exchange(ctx, req, t.url, auth, t.own))),
  );
}

/**
 * send() and read the whole answer with `read`. A body that breaks off or stalls (a network error while reading)
 * sends an idempotent request again, with backoff, on the same budget as the request's own retries; then fails as a
 * one-line network error.
 */
export async function sendRead<T>(
  ctx: HttpContext,
  req: RegRequest,
  read: (res: RegResponse) => Promise<T>,
): Promise<{ res: RegResponse; value: T }> {
  const budget = req.budget ?? new RetryBudget(retryLimit(ctx, req));
  for (;;) {
    const res = await send(ctx, { ...req, budget });
    try {
      return { res, value: await read(res) };
    } catch (err) {
      res.body.destroy();
      if (isAbortError(err) || err instanceof RegctlError || !isRetryableError(err)) throw err;
      if (!req.idempotent || ctx.hosts.closed || !budget.take()) {
        throw connectError(req.registry, err, ctx.hosts.opts.timeoutMs, describe(req));
      }
      const delayMs = backoffMs(budget.used - 1);
      const reason = networkReason(err, ctx.hosts.opts.timeoutMs);
      const info = { what: describe(req), registry: req.registry, attempt: budget.used, delayMs, reason };
      if (!req.quietRetries) ctx.onRetry?.(info);
      await sleep(delayMs, req.signal);
    }
  }
}

export function newHttpContext(opts: Omit<HttpContext, 'tokens' | 'challenges' | 'creds'>): HttpContext {
  return { ...opts, tokens: new TokenCache(), challenges: new Map(), creds: new Map() };
}
