// What a token server granted (a subset of what was asked is not an error for it), and permission denials told
// apart from failed logins: a 403, or a 401 `insufficient_scope` to a token the server issued, is "denied".
import type { Credential } from '../credentials/index.js';
import { normalizeScopes } from './auth.js';
import { RegistryError, bodyHas, parseErrorBody, redactText } from './errors.js';

export interface Grant {
  asked: string[];
  /** undefined: the token server did not say (an opaque token without a `scope` field). */
  granted?: string[];
  anonymous: boolean;
}

// Per request context (one per client), the grant of each token it fetched: looked up when a request is refused.
const grants = new WeakMap<object, Map<string, Grant>>();

/**
 * The scopes a token response grants: the OAuth2 `scope` field (distribution's oauth.md requires it), else the
 * `access` claim of a JWT (distribution's token.md: the intersection of asked and allowed actions is put there).
 * Read for messages only; the token is never trusted for anything else here.
 */
export function grantedScopes(doc: { scope?: unknown }, token: string): string[] | undefined {
  if (typeof doc.scope === 'string') return normalizeScopes(doc.scope.split(' ').filter(Boolean));
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1].length > 64 * 1024) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { access?: unknown };
    if (!Array.isArray(claims.access)) return undefined;
    const out: string[] = [];
    for (const a of claims.access as Array<{ type?: unknown; name?: unknown; actions?: unknown }>) {
      if (typeof a?.type !== 'string' || typeof a.name !== 'string' || !Array.isArray(a.actions)) continue;
      const actions = a.actions.filter((x): x is string => typeof x === 'string');
      if (actions.length) out.push(`${a.type}:${a.name}:${actions.join(',')}`);
    }
    return normalizeScopes(out);
  } catch {
    return undefined;
  }
}

export function recordGrant(ctx: object, token: string, grant: Grant): void {
  let m = grants.get(ctx);
  if (!m) grants.set(ctx, (m = new Map<string, Grant>()));
  if (m.size > 256) m.clear();
  m.set(token, grant);
}

/**
 * Runs one token request (`fetch`) with its trace for --debug: where it goes, the scopes asked and granted (no
 * secret: neither the token nor the credentials are printed), and remembers the grant for permissionDenied().
 */
export async function tracedToken<T extends { token: string; scope?: string }>(
  ctx: { debug?: (line: string) => void },
  host: string,
  realm: string | undefined,
  asked: string[],
  cred: Credential | undefined,
  fetch: () => Promise<T>,
): Promise<T> {
  if (ctx.debug) {
    let where = realm ?? '(no realm)';
    try {
      const u = new URL(where);
      where = `${u.origin}${u.pathname}`;
    } catch {
      /* shown as given */
    }
    const method = cred?.identityToken ? 'POST' : 'GET';
    ctx.debug(`> token ${method} ${where} for ${host}: scope ${asked.join(' ') || '(none)'}`);
  }
  let out: T;
  try {
    out = await fetch();
  } catch (err) {
    ctx.debug?.(`< token request for ${host} failed: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  }
  const grant: Grant = {
    asked: normalizeScopes(asked),
    granted: grantedScopes({ scope: out.scope }, out.token),
    anonymous: !cred || (cred.username === undefined && !cred.identityToken && !cred.registryToken),
  };
  recordGrant(ctx, out.token, grant);
  ctx.debug?.(`< ${grantLine(host, grant, cred)}`);
  return out;
}

export function grantLine(host: string, g: Grant, cred: Credential | undefined): string {
  const user = cred?.username !== undefined ? `user ${cred.username}` : 'anonymous';
  const who = cred?.identityToken ? 'identity token' : user;
  const granted =
    g.granted === undefined ? 'not stated by the server' : g.granted.length ? g.granted.join(' ') : 'nothing';
  return `token for ${host} (${who}): asked ${g.asked.join(' ') || '(no scope)'}; granted ${granted}`;
}

/** Actions asked for but not granted, by resource name: `{ 'lib/app': ['push'] }`. */
function missing(asked: string[], granted: string[]): Map<string, string[]> {
  const split = (s: string): [string, string[]] => {
    const i = s.lastIndexOf(':');
    return [s.slice(0, i), s.slice(i + 1).split(',')];
  };
  const have = new Map(granted.map(split));
  const out = new Map<string, string[]>();
  for (const s of asked) {
    const [res, want] = split(s);
    const acts = have.get(res) ?? [];
    const lack = want.filter((a) => a && !acts.includes(a) && !acts.includes('*'));
    if (lack.length && res.startsWith('repository:')) out.set(res.slice('repository:'.length), lack);
  }
  return out;
}

const WRITES = new Set(['PUT', 'POST', 'PATCH']);

function sentence(action: string, registry: string, repo: string | undefined): string {
  const where = repo ? `${registry}/${repo}` : registry;
  if (action === 'push') return `denied: you may not push to ${where}`;
  if (action === 'delete') return `denied: you may not delete from ${where}`;
  return `denied: you may not pull from ${where}`;
}

function scopeOfChallenge(header: string | undefined): string[] {
  const m = header ? /\bscope="([^"]*)"/i.exec(header) : null;
  return m ? m[1].split(' ').filter(Boolean) : [];
}

/**
 * A refusal that is about permission, not identity: a 403, or a 401 with `error="insufficient_scope"` (RFC 6750
 * §3.1, as distribution's token access controller answers) or against a token granted less than asked.
 * Undefined when the answer is something else (a wrong password keeps its login hint).
 */
export function permissionDenied(
  ctx: object,
  req: { registry: string; method: string; scopes: readonly string[]; what?: string },
  res: { status: number; url: string; challenge?: string; bodyText: string },
  authorization: string | undefined,
): RegistryError | undefined {
  if (res.status !== 401 && res.status !== 403) return undefined;
  const grant = authorization?.startsWith('Bearer ') ? grants.get(ctx)?.get(authorization.slice(7)) : undefined;
  const insufficient = res.status === 401 && /\berror\s*=\s*"?insufficient_scope/i.test(res.challenge ?? '');
  const asked = normalizeScopes([...scopeOfChallenge(res.challenge), ...(grant?.asked ?? req.scopes)]);
  const lacking = grant?.granted ? missing(asked, grant.granted) : new Map<string, string[]>();
  if (res.status === 401 && !insufficient && lacking.size === 0) return undefined;
  const wanted = WRITES.has(req.method) ? 'push' : req.method === 'DELETE' ? 'delete' : 'pull';
  let repo: string | undefined;
  for (const [r, acts] of lacking) if (acts.includes(wanted) || repo === undefined) repo = r;
  const repos = asked.filter((s) => s.startsWith('repository:'));
  const actionsOf = (s: string) => s.slice(s.lastIndexOf(':') + 1).split(',');
  repo ??= (repos.find((s) => actionsOf(s).includes(wanted)) ?? repos[0])?.replace(/^repository:(.*):[^:]*$/, '$1');
  const anonymous = grant?.anonymous ?? authorization === undefined;
  // Registries answer a pull of a repository that does not exist as they answer one you may not see.
  const maybeMissing = wanted === 'pull' ? 'the repository may not exist, or ' : '';
  const login = `\`regctl login ${req.registry}\` or pass --creds USER:PASS`;
  const lack = `lack ${wanted} access${repo ? ` to ${repo}` : ''}`;
  const hint = anonymous
    ? `${maybeMissing}you are not logged in to ${req.registry}: ${login}`
    : `${maybeMissing}the credentials are valid but ${lack}: ask for it, or check the name`;
  const body = parseErrorBody(res.bodyText);
  const codes = bodyHas(body, 'DENIED') ? body : [{ code: 'DENIED' }, ...body];
  const { status, url } = res;
  const err = new RegistryError({ status, method: req.method, url, what: req.what, errors: codes, hint });
  // A 403 keeps what the registry said (GHCR's `permission_denied: write_package`); a 401 body only says "log in".
  const said = body.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join('; ');
  const registrySaid = status === 403 ? `: 403 forbidden${said ? ` (${said})` : ''}` : '';
  err.message = redactText(`${sentence(wanted, req.registry, repo)}${registrySaid}`);
  return err;
}
