// Fixtures for the sync tests: small images pushed straight to a real registry over HTTP (many tags, shared base
// layers), and a tiny forwarding proxy that adds Docker Hub's rate-limit headers.
import { createHash } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fillSeeded } from '../support/images.js';

const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
}

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export function seeded(seed: string, size: number): Buffer {
  const b = Buffer.alloc(size);
  fillSeeded(b, seed);
  return b;
}

async function check(res: Response, what: string, ok: number[]): Promise<Response> {
  if (!ok.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

export async function pushBlob(url: string, repo: string, bytes: Uint8Array, mediaType = MT.layer): Promise<Desc> {
  const digest = sha256(bytes);
  const head = await fetch(`${url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  if (head.status !== 200) {
    const post = await check(
      await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' }),
      `start upload to ${repo}`,
      [202],
    );
    const loc = new URL(post.headers.get('location')!, url);
    loc.searchParams.set('digest', digest);
    await check(
      await fetch(loc, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } }),
      `upload ${digest}`,
      [201],
    );
  }
  return { mediaType, digest, size: bytes.byteLength };
}

export async function pushManifest(url: string, repo: string, ref: string | undefined, doc: object): Promise<Desc> {
  const bytes = Buffer.from(JSON.stringify(doc));
  const mediaType = (doc as { mediaType: string }).mediaType;
  const digest = sha256(bytes);
  await check(
    await fetch(`${url}/v2/${repo}/manifests/${ref ?? digest}`, {
      method: 'PUT',
      body: bytes,
      headers: { 'content-type': mediaType },
    }),
    `put manifest ${repo}:${ref}`,
    [201],
  );
  return { mediaType, digest, size: bytes.byteLength };
}

/** One image: the shared base layer plus one layer of its own. */
export async function pushImage(
  url: string,
  repo: string,
  base: Buffer,
  seed: string,
  platform = { os: 'linux', architecture: 'amd64' },
): Promise<Desc> {
  const layers = [
    await pushBlob(url, repo, base),
    await pushBlob(url, repo, seeded(seed, 6000 + (createHash('sha256').update(seed).digest()[0] << 4))),
  ];
  const config = Buffer.from(
    JSON.stringify({
      ...platform,
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: { Labels: { seed } },
    }),
  );
  const cfg = await pushBlob(url, repo, config, MT.config);
  const desc = await pushManifest(url, repo, undefined, {
    schemaVersion: 2,
    mediaType: MT.manifest,
    config: cfg,
    layers,
  });
  return { ...desc, platform };
}

/** An index of two platforms (each its own image over the shared base). */
export async function pushIndex(url: string, repo: string, base: Buffer, seed: string): Promise<Desc> {
  const children = [
    await pushImage(url, repo, base, `${seed}/amd64`, { os: 'linux', architecture: 'amd64' }),
    await pushImage(url, repo, base, `${seed}/arm64`, { os: 'linux', architecture: 'arm64' }),
  ];
  return pushManifest(url, repo, undefined, { schemaVersion: 2, mediaType: MT.index, manifests: children });
}

/** Tags `tags` in `repo` as the manifest `desc` (same bytes, same digest). */
export async function tagAll(url: string, repo: string, desc: Desc, tags: string[]): Promise<void> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${desc.digest}`, { headers: { accept: desc.mediaType } });
  const bytes = Buffer.from(await res.arrayBuffer());
  for (const t of tags) {
    await check(
      await fetch(`${url}/v2/${repo}/manifests/${t}`, {
        method: 'PUT',
        body: bytes,
        headers: { 'content-type': desc.mediaType },
      }),
      `tag ${repo}:${t}`,
      [201],
    );
  }
}

export interface RateLimitProxy {
  host: string;
  /** what ratelimit-remaining says next */
  remaining: number;
  heads: number;
  stop(): Promise<void>;
}

/** Forwards to `target`, adding `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: N;w=21600` to every answer. */
export async function startRateLimitProxy(target: string, remaining: number): Promise<RateLimitProxy> {
  const up = new URL(target);
  const state: RateLimitProxy = { host: '', remaining, heads: 0, stop: async () => {} };
  const server = createServer((req, res) => {
    if (req.method === 'HEAD') state.heads++;
    const fwd = request(
      { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers },
      (ures) => {
        res.writeHead(ures.statusCode ?? 502, {
          ...ures.headers,
          'ratelimit-limit': '100;w=21600',
          'ratelimit-remaining': `${state.remaining};w=21600`,
        });
        ures.pipe(res);
      },
    );
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  state.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}
