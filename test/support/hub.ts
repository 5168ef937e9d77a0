// A Docker Hub stand-in: token server + token-auth registry behind a front that adds rate-limit headers, 429s, and CDN redirects.
import { startCdn, type Cdn } from './cdn.js';
import { type Front, type FrontRequest, sendRegistryError, startFront } from './front.js';
import { fetchToken } from './http.js';
import { type RegistryHandle, startRegistry } from './registry.js';
import { type TokenServerHandle, startTokenServer } from './token-server.js';

export interface HubOptions {
  /** user → password (push, pull, delete everywhere). */
  users?: Record<string, string>;
  /** Anonymous pull, as Docker Hub; default true. */
  anonymousPull?: boolean;
}

export interface RateLimitState {
  limit: number;
  remaining: number;
  windowSeconds: number;
}

export interface Hub {
  /** The front clients talk to (docker.io's endpoint in the hosts config): 127.0.0.1:PORT */
  host: string;
  url: string;
  front: Front;
  registry: RegistryHandle;
  tokens: TokenServerHandle;
  cdn: Cdn;
  rateLimit: RateLimitState;
  /** The hosts config that points docker.io here. */
  hostsConfig(): { hosts: Record<string, { endpoint: string }> };
  /** Answer the next `times` manifest requests with 429, `Retry-After` and an exhausted rate limit. */
  tooManyRequests(times: number, retryAfterSeconds: number): void;
  stop(): Promise<void>;
}

/** The account the CDN itself fetches bytes with (its token requests are not the client's). */
export const CDN_USER = 'cdn-internal';

export async function startHub(opts: HubOptions = {}): Promise<Hub> {
  const cdnPassword = `cdn-${Math.random().toString(36).slice(2)}`;
  const tokens = await startTokenServer({ users: { ...(opts.users ?? {}), [CDN_USER]: cdnPassword }, anonymousPull: opts.anonymousPull ?? true });
  const registry = await startRegistry({ mode: 'token', token: tokens });
  const cdn = await startCdn({
    registryUrl: registry.url,
    registryAuth: async (repo) =>
      `Bearer ${await fetchToken(tokens.realm, tokens.service, [`repository:${repo}:pull`], { username: CDN_USER, password: cdnPassword })}`,
  });
  const rateLimit: RateLimitState = { limit: 100, remaining: 100, windowSeconds: 21600 };
  let throttle = { left: 0, retryAfter: 0 };
  const limitHeaders = (remaining: number) => ({
    'ratelimit-limit': `${rateLimit.limit};w=${rateLimit.windowSeconds}`,
    'ratelimit-remaining': `${remaining};w=${rateLimit.windowSeconds}`,
    'docker-ratelimit-source': '127.0.0.1',
  });
  const isManifest = (r: FrontRequest) => r.record.kind === 'manifest-get' || r.record.kind === 'manifest-head';

  /** A blob GET Docker Hub would serve from its CDN: check access with a HEAD upstream, then 307 to a signed URL. */
  const redirectBlob = async (r: FrontRequest): Promise<boolean> => {
    const headers: Record<string, string> = {};
    if (r.req.headers.authorization) headers.authorization = r.req.headers.authorization;
    const head = await fetch(`${registry.url}${r.url.pathname}`, { method: 'HEAD', headers });
    await head.body?.cancel();
    if (head.status !== 200) return false; // let the registry answer (401 with its challenge, 404)
    r.record.status = 307;
    r.record.local = true;
    r.res.writeHead(307, { location: cdn.signedUrl(r.record.repo!, r.record.ref!), 'content-length': '0' }).end();
    return true;
  };

  const front = await startFront(registry.url, {
    async intercept(r) {
      if (isManifest(r) && throttle.left > 0) {
        throttle.left--;
        sendRegistryError(r, 429, 'TOOMANYREQUESTS', 'You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit', {
          'retry-after': String(throttle.retryAfter),
          ...limitHeaders(0),
        });
        return true;
      }
      if (r.record.kind === 'blob-get') return redirectBlob(r);
      return false;
    },
    responseHeaders(r, status) {
      if (!isManifest(r)) return undefined;
      // A GET is a pull (it counts); a HEAD is free.
      if (r.record.kind === 'manifest-get' && status === 200 && rateLimit.remaining > 0) rateLimit.remaining--;
      return limitHeaders(rateLimit.remaining);
    },
  });

  return {
    host: front.host,
    url: front.url,
    front,
    registry,
    tokens,
    cdn,
    rateLimit,
    hostsConfig: () => ({ hosts: { 'docker.io': { endpoint: front.url } } }),
    tooManyRequests: (times, retryAfterSeconds) => void (throttle = { left: times, retryAfter: retryAfterSeconds }),
    async stop() {
      await Promise.all([front.stop(), cdn.stop()]);
      await registry.stop();
      await tokens.stop();
    },
  };
}
