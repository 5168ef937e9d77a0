// Request stage: auth. Authorization only for the registry's own origin; the scheme learned from its 401 (Basic, or
// Bearer from its token realm, checked by origin.ts); a credential the registry refused is looked up once more.
import type { Credential } from '../credentials/index.js';
import { rememberLogin, rememberSecret } from '../util/secrets.js';
import { basicHeader, fetchBearerToken, parseChallenge } from './auth.js';
import { tracedToken } from './grants.js';
import { type Answer, type HttpContext, type RegRequest, type RegResponse, type Target, header } from './http.js';
import { checkRealm, isOwnOrigin } from './origin.js';

/**
 * `stale`: the Basic header the registry refused; those credentials (only those) are looked up again, past every
 * cache.
 */
async function credentialsFor(
  ctx: HttpContext,
  registry: string,
  signal: AbortSignal,
  stale?: string,
): Promise<Credential | undefined> {
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

/** The Authorization header for the registry's origin, per the challenge it sent; undefined before any 401. */
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
  const dispatcher = ctx.hosts.dispatcherFor(undefined);
  const token = await ctx.tokens.get(req.registry, scopes, (s) =>
    tracedToken(ctx, req.registry, challenge.realm, s, cred, () =>
      fetchBearerToken({ challenge, scopes: s, cred, dispatcher, signal: req.signal }),
    ),
  );
  rememberSecret(token);
  return `Bearer ${token}`;
}

/**
 * Sends `next(authorization)`; on the registry's own 401 with a challenge, learns it and sends once more with
 * credentials, and once more again when the credentials it sent were refused (fresh ones, past every cache).
 */
export async function authenticated(
  ctx: HttpContext,
  req: RegRequest,
  t: Target,
  next: (auth: string | undefined) => Promise<RegResponse>,
): Promise<Answer> {
  let tried = false;
  let refreshed = false;
  // The Authorization the registry refused with a 401 (an expired ECR token): replaced once by fresh credentials.
  let refused: string | undefined;
  for (;;) {
    const auth = t.toOwn ? await authorization(ctx, req, refused, t.own) : undefined;
    refused = undefined;
    const res = await next(auth);
    // A 401 from another origin (a CDN the blob redirected to, an upload Location elsewhere) is that origin's
    // business: it never becomes the registry's challenge, so it cannot switch a Bearer registry to Basic.
    if (res.status !== 401 || !isOwnOrigin(t.own, res.url) || (tried && (auth === undefined || refreshed))) {
      return { res, auth };
    }
    const challenge = parseChallenge(header(res.headers, 'www-authenticate'));
    await res.body.dump().catch(() => {});
    if (!challenge || !t.replayable) return { res, auth };
    ctx.challenges.set(req.registry, challenge);
    if (auth !== undefined) {
      refused = auth;
      refreshed = true;
    }
    tried = true;
  }
}
