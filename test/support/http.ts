// Small registry HTTP helpers for tests: fetch with the Basic/Bearer challenge dance, JSON convenience.

export interface Creds {
  username: string;
  password: string;
}

/** Every manifest media type a registry may hold (the Accept list of a careful client). */
export const ACCEPT_MANIFESTS = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v1+json',
].join(', ');

/** Parse `Bearer realm="…",service="…",scope="…"` (or Basic) into a scheme and lower-cased params. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\S+)\s*(.*)$/.exec(header);
  const params: Record<string, string> = {};
  if (!m) return { scheme: '', params };
  for (const p of (m[2] ?? '').matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: m[1].toLowerCase(), params };
}

export function basicAuth(creds: Creds): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

/** A Bearer token from a token server (GET realm?service&scope…), with Basic auth when creds are given. */
export async function fetchToken(
  realm: string,
  service: string | undefined,
  scopes: string[],
  creds?: Creds,
): Promise<string> {
  const u = new URL(realm);
  if (service) u.searchParams.set('service', service);
  for (const s of scopes) u.searchParams.append('scope', s);
  const res = await fetch(u, { headers: creds ? { authorization: basicAuth(creds) } : {} });
  if (res.status !== 200) throw new Error(`token request ${u.href} answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new Error(`token server ${realm} returned no token`);
  return token;
}

/**
 * fetch() that answers one 401 challenge: Basic (with creds) or Bearer (token from the realm, anonymous
 * unless creds). The body must be replayable (string / Uint8Array / undefined).
 */
export async function registryFetch(url: string, init: RequestInit = {}, creds?: Creds): Promise<Response> {
  const first = await fetch(url, { redirect: 'manual', ...init });
  if (first.status !== 401) return first;
  const challenge = parseChallenge(first.headers.get('www-authenticate') ?? '');
  let authorization: string;
  if (challenge.scheme === 'basic') {
    if (!creds) return first;
    authorization = basicAuth(creds);
  } else if (challenge.scheme === 'bearer' && challenge.params.realm) {
    const scopes = challenge.params.scope ? challenge.params.scope.split(' ') : [];
    authorization = `Bearer ${await fetchToken(challenge.params.realm, challenge.params.service, scopes, creds)}`;
  } else {
    return first;
  }
  await first.body?.cancel();
  const headers = new Headers(init.headers);
  headers.set('authorization', authorization);
  return fetch(url, { redirect: 'manual', ...init, headers });
}

export interface JsonResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** registryFetch + read the body; `body` is parsed JSON when the text parses, else undefined. */
export async function httpJson<T = unknown>(
  url: string,
  init: RequestInit = {},
  creds?: Creds,
): Promise<JsonResponse<T>> {
  const res = await registryFetch(url, init, creds);
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body: body as T, text };
}

/** HEAD a manifest with the full Accept list and return its Docker-Content-Digest (throws unless 200). */
export async function registryDigest(host: string, repo: string, ref: string, creds?: Creds): Promise<string> {
  const url = `http://${host}/v2/${repo}/manifests/${ref}`;
  const res = await registryFetch(url, { method: 'HEAD', headers: { accept: ACCEPT_MANIFESTS } }, creds);
  const digest = res.headers.get('docker-content-digest');
  if (res.status !== 200 || !digest)
    throw new Error(`HEAD ${url} answered ${res.status}${digest ? '' : ' without a digest'}`);
  return digest;
}
