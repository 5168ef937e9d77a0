// Auth challenges (WWW-Authenticate), Basic and Bearer token flows, and the token cache keyed by host and scope set.
import { request, type Dispatcher } from './undici-lite.js';
import type { Credential } from '../credentials/index.js';
import { RegctlError } from '../errors.js';
import { RegistryError, parseErrorBody } from './errors.js';
import { MAX_TOKEN_BYTES, readUpTo } from './read.js';

export interface Challenge {
  scheme: 'basic' | 'bearer';
  realm?: string;
  service?: string;
  scope?: string;
}

/** Parses a WWW-Authenticate header: `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/gy;
  const rest = m[2];
  re.lastIndex = 0;
  let p: RegExpExecArray | null;
  while (re.lastIndex < rest.length && (p = re.exec(rest)) !== null) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  }
  const c: Challenge = { scheme };
  if (params.realm) c.realm = params.realm;
  if (params.service) c.service = params.service;
  if (params.scope) c.scope = params.scope;
  return c;
}

interface CachedToken {
  token: string;
  expiresAt: number;
  scopes: string[];
}

/** Merges scopes for the same resource: `repository:a:pull` + `repository:a:push` → `repository:a:pull,push`. */
export function normalizeScopes(scopes: readonly string[]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const s of scopes) {
    const i = s.lastIndexOf(':');
    if (i <= 0) continue;
    const res = s.slice(0, i);
    const set = byResource.get(res) ?? new Set<string>();
    for (const a of s.slice(i + 1).split(',')) if (a) set.add(a);
    byResource.set(res, set);
  }
  return [...byResource.entries()].map(([r, a]) => `${r}:${[...a].sort().join(',')}`).sort();
}

function covers(have: string[], want: string[]): boolean {
  const h = new Map(
    have.map((s) => [s.slice(0, s.lastIndexOf(':')), new Set(s.slice(s.lastIndexOf(':') + 1).split(','))]),
  );
  return want.every((s) => {
    const acts = h.get(s.slice(0, s.lastIndexOf(':')));
    return (
      acts !== undefined &&
      s
        .slice(s.lastIndexOf(':') + 1)
        .split(',')
        .every((a) => acts.has(a) || acts.has('*'))
    );
  });
}

export function basicHeader(cred: Credential): string | undefined {
  if (cred.username === undefined || cred.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
}

/** Tokens by registry and scope set, with in-flight requests shared so parallel 401s fetch once. */
export class TokenCache {
  private tokens = new Map<string, CachedToken[]>();
  private inflight = new Map<string, Promise<string>>();

  find(host: string, scopes: readonly string[]): string | undefined {
    const want = normalizeScopes(scopes);
    const now = Date.now();
    const list = this.tokens.get(host) ?? [];
    for (const t of list) if (t.expiresAt > now && covers(t.scopes, want)) return t.token;
    return undefined;
  }

  invalidate(host: string, token: string): void {
    const list = this.tokens.get(host);
    if (list)
      this.tokens.set(
        host,
        list.filter((t) => t.token !== token),
      );
  }

  async get(
    host: string,
    scopes: readonly string[],
    fetchToken: (scopes: string[]) => Promise<{ token: string; expiresIn: number }>,
  ): Promise<string> {
    const want = normalizeScopes(scopes);
    const key = `${host}|${want.join(' ')}`;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = (async () => {
      const { token, expiresIn } = await fetchToken(want);
      const list = this.tokens.get(host) ?? [];
      // Refresh a little early: at most 30 s or 10% before the server's expiry.
      const margin = Math.min(30, expiresIn / 10) * 1000;
      list.unshift({ token, scopes: want, expiresAt: Date.now() + expiresIn * 1000 - margin });
      this.tokens.set(host, list.slice(0, 32));
      return token;
    })();
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(key);
    }
  }
}

/** Asks a token server (realm) for a Bearer token, as Docker Hub's auth.docker.io answers. */
export async function fetchBearerToken(opts: {
  challenge: Challenge;
  scopes: string[];
  cred: Credential | undefined;
  dispatcher: Dispatcher;
  signal: AbortSignal;
}): Promise<{ token: string; expiresIn: number; scope?: string }> {
  const { challenge, scopes, cred } = opts;
  if (!challenge.realm) throw new RegctlError('AUTH_FAILED', 'the registry sent a Bearer challenge without a realm');
  const realm = new URL(challenge.realm);
  if (realm.protocol !== 'https:' && realm.protocol !== 'http:')
    throw new RegctlError('AUTH_FAILED', `unsupported token realm ${realm.protocol}`);
  let res: Dispatcher.ResponseData;
  if (cred?.identityToken) {
    // OAuth2 refresh-token grant, as docker does with an identity token.
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: cred.identityToken,
      client_id: 'regctl',
      access_type: 'offline',
    });
    if (challenge.service) form.set('service', challenge.service);
    if (scopes.length) form.set('scope', scopes.join(' '));
    res = await request(realm, {
      method: 'POST',
      dispatcher: opts.dispatcher,
      signal: opts.signal,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
  } else {
    if (challenge.service) realm.searchParams.set('service', challenge.service);
    for (const s of scopes) realm.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    const basic = cred ? basicHeader(cred) : undefined;
    if (basic) headers.authorization = basic;
    res = await request(realm, { method: 'GET', dispatcher: opts.dispatcher, signal: opts.signal, headers });
  }
  // Capped: a realm that streams without end must not fill memory (read stops past 1 MiB).
  const { bytes, over } = await readUpTo(res.body, MAX_TOKEN_BYTES);
  const text = bytes.toString('utf8');
  if (over && res.statusCode === 200) {
    const mib = MAX_TOKEN_BYTES / 1024 / 1024;
    throw new RegctlError('TOO_LARGE', `token server ${realm.host}: the answer is over the ${mib} MiB limit`);
  }
  if (res.statusCode !== 200) {
    throw new RegistryError({
      status: res.statusCode,
      method: 'GET',
      url: `${realm.origin}${realm.pathname}`,
      what: `token request to ${realm.host}`,
      errors: parseErrorBody(text),
      hint: res.statusCode === 401 ? 'the credentials were refused: check them, or `regctl login HOST`' : undefined,
    });
  }
  let doc: { token?: string; access_token?: string; expires_in?: number; scope?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    throw new RegctlError('AUTH_FAILED', `token server ${realm.host} answered with invalid JSON`);
  }
  const token = doc.token ?? doc.access_token;
  if (!token) throw new RegctlError('AUTH_FAILED', `token server ${realm.host} answered without a token`);
  // The scope granted (OAuth2 answers carry it; it may be a subset of what was asked), for messages and --debug.
  return {
    token,
    expiresIn: tokenLifetime(doc.expires_in, token),
    ...(typeof doc.scope === 'string' ? { scope: doc.scope } : {}),
  };
}

/**
 * Seconds a token lives: `expires_in` (at least 60, as the distribution token spec says); without it (Azure ACR sends
 * none), the `exp` claim of a JWT token; else the spec's 60 s default.
 */
export function tokenLifetime(expiresIn: unknown, token: string, now = Date.now()): number {
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn)) return Math.max(60, expiresIn);
  const parts = token.split('.');
  if (parts.length === 3 && parts[1].length <= 16_384) {
    try {
      const exp = (JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown }).exp;
      if (typeof exp === 'number' && Number.isFinite(exp)) return Math.max(60, Math.floor(exp - now / 1000));
    } catch {
      /* not a JWT: the default */
    }
  }
  return 60;
}
