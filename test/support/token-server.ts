// A Docker-style token server (like auth.docker.io) issuing RS256 JWTs that distribution 2.8 token auth accepts.
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, removeTempDir } from './lifecycle.js';

export interface TokenServerOptions {
  /** user → password; these get pull, push, delete and `*` on every repository and the catalog. */
  users?: Record<string, string>;
  /** Anonymous requests get `pull` (never more). Default true. */
  anonymousPull?: boolean;
  /** The `service` (JWT audience). Default 'regctl-test-registry'. */
  service?: string;
  /** Token lifetime in seconds. Default 300. */
  expiresIn?: number;
  /**
   * Answer without `expires_in` (the lifetime is then only in the JWT's `exp`): the token spec makes the field optional
   * (https://distribution.github.io/distribution/spec/auth/token/ "expires_in (Optional)"), and Azure ACR's access
   * tokens are JWTs whose `exp` carries the lifetime (https://github.com/Azure/acr/issues/191).
   */
  omitExpiresIn?: boolean;
  /**
   * Per-user grant policy: user → the actions that user holds on every repository (e.g. `{ reader: ['pull'] }`).
   * The token then carries the intersection of what was asked and what is held, and the answer is still 200:
   * distribution's token spec (docs/content/spec/auth/token.md, "If the client only has a subset of the requested
   * access it must not be considered an error ... It is this intersected set of access which is placed in the
   * returned token"), as Docker Hub, GHCR and Harbor do for a read-only account. Users not listed hold everything.
   */
  userActions?: UserActions;
}

type UserActions = Record<string, string[]>;

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenRequestRecord {
  scope: string[];
  account?: string;
  anonymous: boolean;
  status: number;
  granted: Access[];
}

export interface TokenServerHandle {
  /** http://127.0.0.1:PORT/token */
  realm: string;
  service: string;
  issuer: string;
  /** PEM file of the self-signed certificate whose key signs the tokens (distribution's rootcertbundle). */
  rootCertBundle: string;
  /** Number of token requests answered (any status). */
  readonly requests: number;
  log: TokenRequestRecord[];
  stop(): Promise<void>;
}

const run = promisify(execFile);
const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** `repository:lib/x:pull,push` → Access; the name may hold colons (type first, actions last). */
export function parseScope(scope: string): Access | undefined {
  const parts = scope.split(':');
  if (parts.length < 3) return undefined;
  const type = parts[0].replace(/\(.*\)$/, '');
  const actions = parts[parts.length - 1].split(',').filter(Boolean);
  return { type, name: parts.slice(1, -1).join(':'), actions };
}

/** What a caller may do: users everything they ask for; anonymous callers `pull` on repositories only. */
function grant(access: Access, user: string | undefined, anonymousPull: boolean, held?: UserActions): Access {
  if (user !== undefined) {
    const mine = held?.[user];
    if (!mine || access.type !== 'repository') return access;
    return { ...access, actions: access.actions.filter((a) => mine.includes(a) || mine.includes('*')) };
  }
  const ok = access.type === 'repository' && anonymousPull ? access.actions.filter((a) => a === 'pull') : [];
  return { ...access, actions: ok };
}

function signJwt(key: KeyObject, certDer: Buffer, claims: object): string {
  const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), key))}`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export async function startTokenServer(opts: TokenServerOptions = {}): Promise<TokenServerHandle> {
  const users = opts.users ?? {};
  const anonymousPull = opts.anonymousPull ?? true;
  const service = opts.service ?? 'regctl-test-registry';
  const expiresIn = opts.expiresIn ?? 300;
  const issuer = 'regctl-test-token-issuer';
  const dir = await makeTempDir('token');
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-sha256',
    '-days',
    '3',
    '-subj',
    '/CN=regctl-test-token-signer',
    '-keyout',
    keyPath,
    '-out',
    certPath,
  ]);
  const key = createPrivateKey(await readFile(keyPath));
  const certDer = new X509Certificate(await readFile(certPath)).raw;
  const refreshTokens = new Map<string, string>();
  const log: TokenRequestRecord[] = [];
  let requests = 0;

  const issue = (
    res: ServerResponse,
    scopes: string[],
    user: string | undefined,
    record: TokenRequestRecord,
    refresh: boolean,
    oauth = false,
  ): void => {
    const granted = scopes
      .map(parseScope)
      .filter((a): a is Access => a !== undefined)
      .map((a) => grant(a, user, anonymousPull, opts.userActions));
    record.granted = granted.filter((a) => a.actions.length > 0);
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(key, certDer, {
      iss: issuer,
      sub: user ?? '',
      aud: service,
      exp: now + expiresIn,
      nbf: now - 1,
      iat: now,
      jti: randomUUID(),
      access: record.granted,
    });
    const body: Record<string, unknown> = { token, access_token: token, issued_at: new Date(now * 1000).toISOString() };
    if (!opts.omitExpiresIn) body.expires_in = expiresIn;
    // The OAuth2 form (POST) answers with the scope granted, a subset of the asked one where access is lacking
    // (distribution's docs/content/spec/auth/oauth.md: "scope (REQUIRED) The scope granted inside the access token.
    // This may be the same scope as requested or a subset").
    if (oauth) body.scope = record.granted.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' ');
    if (refresh && user !== undefined) {
      const rt = randomUUID();
      refreshTokens.set(rt, user);
      body.refresh_token = rt;
    }
    sendJson(res, 200, body);
  };

  const deny = (res: ServerResponse, record: TokenRequestRecord, why: string): void => {
    record.status = 401;
    sendJson(
      res,
      401,
      { errors: [{ code: 'UNAUTHORIZED', message: why }] },
      { 'www-authenticate': 'Basic realm="regctl-test-token"' },
    );
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname !== '/token')
        return sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: url.pathname }] });
      requests++;
      const record: TokenRequestRecord = { scope: [], anonymous: true, status: 200, granted: [] };
      log.push(record);
      // Clients send scope repeated or space-separated; both are accepted.
      const split = (vals: string[]): string[] => vals.flatMap((s) => s.split(' ')).filter(Boolean);
      if (req.method === 'POST') {
        // OAuth2 form (docker/containerd): grant_type=password | refresh_token.
        const form = new URLSearchParams(await readBody(req));
        record.scope = split(form.getAll('scope'));
        let user: string | undefined;
        if (form.get('grant_type') === 'password') {
          const u = form.get('username') ?? '';
          if (users[u] === undefined || users[u] !== form.get('password'))
            return deny(res, record, 'invalid username or password');
          user = u;
        } else if (form.get('grant_type') === 'refresh_token') {
          user = refreshTokens.get(form.get('refresh_token') ?? '');
          if (user === undefined) return deny(res, record, 'unknown refresh token');
        } else {
          record.status = 400;
          return sendJson(res, 400, { error: 'unsupported_grant_type' });
        }
        record.account = user;
        record.anonymous = false;
        return issue(res, record.scope, user, record, form.get('access_type') === 'offline', true);
      }
      if (req.method !== 'GET') {
        record.status = 405;
        return sendJson(res, 405, { errors: [{ code: 'UNSUPPORTED', message: req.method }] });
      }
      if (url.searchParams.get('service') !== null && url.searchParams.get('service') !== service) {
        record.status = 400;
        return sendJson(res, 400, {
          errors: [{ code: 'DENIED', message: `unknown service ${url.searchParams.get('service')}` }],
        });
      }
      record.scope = split(url.searchParams.getAll('scope'));
      const auth = req.headers.authorization;
      let user: string | undefined;
      if (auth !== undefined) {
        const m = /^Basic\s+(\S+)$/i.exec(auth);
        const decoded = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
        const i = decoded.indexOf(':');
        const [u, p] = i < 0 ? [decoded, undefined] : [decoded.slice(0, i), decoded.slice(i + 1)];
        record.account = u || undefined;
        record.anonymous = false;
        if (!m || users[u] === undefined || users[u] !== p) return deny(res, record, 'invalid username or password');
        user = u;
      }
      issue(res, record.scope, user, record, url.searchParams.get('offline_token') === 'true');
    })().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { errors: [{ code: 'UNKNOWN', message: String(err) }] });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle: certPath,
    get requests() {
      return requests;
    },
    log,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await removeTempDir(dir);
    },
  };
}
