// A Docker Hub stand-in: token server + token-auth registry behind a front that counts pulls as Hub does, adds its
// rate-limit headers and pull-limit 429s, and redirects blob GETs to a CDN. Evidence: test/support/README.md.
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
  /** Pull-limit 429s: how many manifest GETs have been refused so far. */
  readonly refused: number;
  stop(): Promise<void>;
}

/** The account the CDN itself fetches bytes with (its token requests are not the client's). */
export const CDN_USER = 'cdn-internal';

export async function startHub(opts: HubOptions = {}): Promise<Hub> {
  const cdnPassword = `cdn-${Math.random().toString(36).slice(2)}`;
  const tokens = await startTokenServer({
    users: { ...(opts.users ?? {}), [CDN_USER]: cdnPassword },
    anonymousPull: opts.anonymousPull ?? true,
  });
  const registry = await startRegistry({ mode: 'token', token: tokens });
  const cdn = await startCdn({
    registryUrl: registry.url,
    registryAuth: async (repo) => {
      const creds = { username: CDN_USER, password: cdnPassword };
      return `Bearer ${await fetchToken(tokens.realm, tokens.service, [`repository:${repo}:pull`], creds)}`;
    },
  });
  const rateLimit: RateLimitState = { limit: 100, remaining: 100, windowSeconds: 21600 };
  let refused = 0;
  // The headers Docker documents, on GET and HEAD of a manifest alike
  // (https://docs.docker.com/docker-hub/usage/pulls/#view-pull-rate-and-limit).
  const limitHeaders = (remaining: number) => ({
    'ratelimit-limit': `${rateLimit.limit};w=${rateLimit.windowSeconds}`,
    'ratelimit-remaining': `${remaining};w=${rateLimit.windowSeconds}`,
    'docker-ratelimit-source': '127.0.0.1',
  });
  const isManifest = (r: FrontRequest) => r.record.kind === 'manifest-get' || r.record.kind === 'manifest-head';
  const INDEX_TYPES = [
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
  ];

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
      // Over the limit, a manifest GET is refused with 429 and this body; Docker documents no Retry-After
      // (https://docs.docker.com/docker-hub/usage/pulls/#view-pull-rate-and-limit), so none is sent. A HEAD (a version
      // check) still answers: it counts no pull.
      if (r.record.kind === 'manifest-get' && rateLimit.remaining <= 0) {
        refused++;
        sendRegistryError(
          r,
          429,
          'TOOMANYREQUESTS',
          'You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limits',
          limitHeaders(0),
        );
        return true;
      }
      // Docker Hub refuses every manifest DELETE through the registry API: deletion is the Hub's own
      // (distribution/distribution#1831, docker/hub-feedback#2360).
      if (r.record.kind === 'manifest-delete') {
        sendRegistryError(r, 405, 'UNSUPPORTED', 'The operation is unsupported.');
        return true;
      }
      if (r.record.kind === 'blob-get') return redirectBlob(r);
      return false;
    },
    responseHeaders(r, status, upstream) {
      if (!isManifest(r)) return undefined;
      // A pull is one GET of an image manifest: a multi-arch pull counts one per platform manifest it GETs, the index
      // none; a HEAD is a version check and counts none (https://docs.docker.com/docker-hub/usage/pulls/, "a pull for a
      // multi-arch image will count as one pull for each different architecture"; forums.docker.com/t/134303).
      const type = String(upstream['content-type'] ?? '')
        .split(';')[0]
        .trim();
      if (r.record.kind === 'manifest-get' && status === 200 && !INDEX_TYPES.includes(type) && rateLimit.remaining > 0)
        rateLimit.remaining--;
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
    get refused() {
      return refused;
    },
    async stop() {
      await Promise.all([front.stop(), cdn.stop()]);
      await registry.stop();
      await tokens.stop();
    },
  };
}
