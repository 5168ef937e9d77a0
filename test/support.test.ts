// Proves the test support servers: registry modes, token server, fault proxy, fixture images, CLI runner.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { ACCEPT_MANIFESTS, basicAuth, httpJson, registryFetch } from './support/http.js';
import { makeImageLayout, makeIndexLayout, registryDigest, seedImage, skopeo } from './support/images.js';
import { freePort } from './support/ports.js';
import { startRegistry, type RegistryHandle } from './support/registry.js';
import { runCli } from './support/run-cli.js';
import { startTokenServer, type TokenServerHandle } from './support/token-server.js';

const sha256Hex = /^sha256:[0-9a-f]{64}$/;
let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'regctl-support-test-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('freePort', () => {
  it('returns a port that a server can bind on 127.0.0.1', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
  });
});

describe('registry in plain mode', () => {
  let reg: RegistryHandle;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(() => reg.stop());

  it('answers GET /v2/ with 200 on 127.0.0.1 without credentials', async () => {
    expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);
    const res = await fetch(`${reg.url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('stop() kills the registry and removes its storage dir', async () => {
    const other = await startRegistry();
    expect((await stat(dirname(other.root))).isDirectory()).toBe(true);
    await other.stop();
    await expect(fetch(`${other.url}/v2/`)).rejects.toThrow();
    await expect(stat(dirname(other.root))).rejects.toThrow(/ENOENT/);
  });
});

describe('registry in htpasswd mode', () => {
  let reg: RegistryHandle;
  beforeAll(async () => {
    reg = await startRegistry({ mode: 'htpasswd', users: { alice: 'wonderland' } });
  });
  afterAll(() => reg.stop());

  it('rejects a request without credentials with a Basic challenge', async () => {
    const res = await fetch(`${reg.url}/v2/`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  });

  it('accepts the configured user and rejects a wrong password', async () => {
    const ok = await fetch(`${reg.url}/v2/`, {
      headers: { authorization: basicAuth({ username: 'alice', password: 'wonderland' }) },
    });
    expect(ok.status).toBe(200);
    const bad = await fetch(`${reg.url}/v2/`, {
      headers: { authorization: basicAuth({ username: 'alice', password: 'nope' }) },
    });
    expect(bad.status).toBe(401);
  });
});

describe('token server with a registry in token mode', () => {
  let ts: TokenServerHandle;
  let reg: RegistryHandle;
  let pushed: { digest: string };
  const alice = { username: 'alice', password: 's3cret' };
  beforeAll(async () => {
    ts = await startTokenServer({ users: { alice: alice.password } });
    reg = await startRegistry({ mode: 'token', token: ts });
    const img = await makeImageLayout(join(work, 'token-img'), { layers: [1024, 2048], seed: 'token', tag: 'v1' });
    pushed = await seedImage(`oci:${img.dir}:v1`, `${reg.host}/team/app:v1`, { creds: 'alice:s3cret' });
    expect(pushed.digest).toBe(img.manifestDigest);
  });
  afterAll(async () => {
    await reg.stop();
    await ts.stop();
  });

  it('challenges with the Bearer realm and service of the token server', async () => {
    const res = await fetch(`${reg.url}/v2/team/app/manifests/v1`);
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain(`realm="${ts.realm}"`);
    expect(challenge).toContain(`service="${ts.service}"`);
    expect(challenge).toContain('scope="repository:team/app:pull"');
  });

  it('lets the user push with skopeo through token auth (push and pull granted)', () => {
    const pushes = ts.log.filter((r) => r.account === 'alice' && r.scope.some((s) => s.includes('push')));
    expect(pushes.length).toBeGreaterThan(0);
    expect(pushes[0].granted).toContainEqual({ type: 'repository', name: 'team/app', actions: ['pull', 'push'] });
  });

  it('gives an anonymous caller a pull token that reads the pushed manifest', async () => {
    const before = ts.requests;
    const res = await registryFetch(`${reg.url}/v2/team/app/manifests/v1`, { headers: { accept: ACCEPT_MANIFESTS } });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(pushed.digest);
    expect(ts.requests).toBe(before + 1);
    expect(ts.log.at(-1)).toMatchObject({
      anonymous: true,
      granted: [{ type: 'repository', name: 'team/app', actions: ['pull'] }],
    });
  });

  it('never grants push to an anonymous caller, so an anonymous push is refused', async () => {
    const res = await registryFetch(`${reg.url}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    expect(res.status).toBe(401);
    expect(ts.log.at(-1)).toMatchObject({
      anonymous: true,
      scope: [expect.stringMatching(/^repository:team\/app:(pull,push|push,pull)$/)],
    });
    expect(ts.log.at(-1)!.granted).toEqual([{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    const img = await makeImageLayout(join(work, 'token-anon'), { layers: [10], seed: 'anon' });
    await expect(seedImage(`oci:${img.dir}:latest`, `${reg.host}/team/app:anon`)).rejects.toThrow(/skopeo .* failed/);
  });

  it('answers a wrong password with 401', async () => {
    const u = new URL(ts.realm);
    u.searchParams.set('service', ts.service);
    u.searchParams.set('scope', 'repository:team/app:pull');
    const res = await fetch(u, { headers: { authorization: basicAuth({ username: 'alice', password: 'wrong' }) } });
    expect(res.status).toBe(401);
    expect(ts.log.at(-1)).toMatchObject({ account: 'alice', anonymous: false, status: 401 });
  });

  it('grants the catalog scope to authenticated users only', async () => {
    const anon = await httpJson(`${reg.url}/v2/_catalog`);
    expect(anon.status).toBe(401);
    const user = await httpJson<{ repositories: string[] }>(`${reg.url}/v2/_catalog`, {}, alice);
    expect(user.status).toBe(200);
    expect(user.body.repositories).toEqual(['team/app']);
  });

  it('issues RS256 JWTs with an x5c header, audience = service, and the expected response fields', async () => {
    const u = new URL(ts.realm);
    u.searchParams.set('service', ts.service);
    u.searchParams.append('scope', 'repository:team/app:pull');
    u.searchParams.append('scope', 'repository:other:pull,push');
    const res = await fetch(u, { headers: { authorization: basicAuth(alice) } });
    const body = (await res.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(300);
    expect(Number.isNaN(Date.parse(body.issued_at))).toBe(false);
    const [h, c] = body.token
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);
    expect(h).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(h.x5c).toHaveLength(1);
    expect(c).toMatchObject({ iss: ts.issuer, sub: 'alice', aud: ts.service });
    expect(c.access).toEqual([
      { type: 'repository', name: 'team/app', actions: ['pull'] },
      { type: 'repository', name: 'other', actions: ['pull', 'push'] },
    ]);
  });
});

describe('fault proxy', () => {
  let reg: RegistryHandle;
  let proxy: FaultProxy;
  let img: Awaited<ReturnType<typeof makeImageLayout>>;
  beforeAll(async () => {
    reg = await startRegistry();
    proxy = await startFaultProxy(reg.url);
    img = await makeImageLayout(join(work, 'proxy-img'), { layers: [200_000], seed: 'proxy', tag: 'v1' });
    await seedImage(`oci:${img.dir}:v1`, `${proxy.host}/lib/app:v1`);
  });
  afterAll(async () => {
    await proxy.stop();
    await reg.stop();
  });

  it('counted the uploads skopeo made through it, with request bytes', () => {
    expect(proxy.count('manifest-put')).toBe(1);
    expect(proxy.bytes('upload')).toBeGreaterThanOrEqual(img.layerSizes[0]);
  });

  it('counts a manifest GET and forwards the exact bytes', async () => {
    proxy.reset();
    const res = await fetch(`${proxy.url}/v2/lib/app/manifests/v1`, { headers: { accept: ACCEPT_MANIFESTS } });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(res.headers.get('docker-content-digest')).toBe(img.manifestDigest);
    expect(proxy.count('manifest-get')).toBe(1);
    expect(proxy.count()).toBe(1);
    expect(proxy.stats[0]).toMatchObject({
      method: 'GET',
      kind: 'manifest-get',
      repo: 'lib/app',
      ref: 'v1',
      status: 200,
      bytesOut: bytes.length,
    });
    expect(proxy.seenAuthorization).toEqual([
      { method: 'GET', path: '/v2/lib/app/manifests/v1', kind: 'manifest-get', authorization: 'none' },
    ]);
  });

  it('keeps the client Host so upload Locations point at the proxy', async () => {
    const res = await fetch(`${proxy.url}/v2/lib/app/blobs/uploads/`, { method: 'POST' });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toMatch(new RegExp(`^http://${proxy.host}/v2/lib/app/blobs/uploads/`));
    expect(proxy.count('upload')).toBeGreaterThan(0);
  });

  it('corruptBlob flips one byte of every GET of that blob', async () => {
    const url = `${proxy.url}/v2/lib/app/blobs/${img.layerDigests[0]}`;
    const clean = Buffer.from(await (await fetch(url)).arrayBuffer());
    proxy.corruptBlob(img.layerDigests[0]);
    for (let i = 0; i < 2; i++) {
      const bad = Buffer.from(await (await fetch(url)).arrayBuffer());
      expect(bad.length).toBe(clean.length);
      expect([...bad].filter((b, j) => b !== clean[j])).toHaveLength(1);
    }
    proxy.clearFaults();
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(clean)).toBe(true);
  });

  it('failWith answers 429 with Retry-After the given number of times, then forwards', async () => {
    proxy.failWith(429, 2, 'blob-head', { 'retry-after': '1' });
    const url = `${proxy.url}/v2/lib/app/blobs/${img.configDigest}`;
    const statuses: Array<[number, string | null]> = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(url, { method: 'HEAD' });
      statuses.push([res.status, res.headers.get('retry-after')]);
    }
    expect(statuses).toEqual([
      [429, '1'],
      [429, '1'],
      [200, null],
    ]);
  });

  it('dropAfter destroys the connection after n body bytes, once', async () => {
    proxy.reset();
    proxy.dropAfter('blob-get', 1000);
    const url = `${proxy.url}/v2/lib/app/blobs/${img.layerDigests[0]}`;
    const res = await fetch(url);
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(proxy.stats[0]).toMatchObject({ kind: 'blob-get', bytesOut: 1000, fault: 'drop' });
    const again = await fetch(url);
    expect((await again.arrayBuffer()).byteLength).toBe(img.layerSizes[0]);
  });

  it('stall sends headers and then nothing', async () => {
    proxy.stall('blob-get', 1);
    const res = await fetch(`${proxy.url}/v2/lib/app/blobs/${img.configDigest}`, { signal: AbortSignal.timeout(300) });
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it('hold answers nothing, not even headers, and forwards nothing; once', async () => {
    proxy.reset();
    proxy.hold((r) => r.kind === 'upload' && r.method === 'POST', 1);
    const url = `${proxy.url}/v2/lib/held/blobs/uploads/`;
    await expect(fetch(url, { method: 'POST', signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect(proxy.stats[0]).toMatchObject({ kind: 'upload', method: 'POST', fault: 'hold', status: 0 });
    const again = await fetch(url, { method: 'POST' });
    expect(again.status).toBe(202);
    await fetch(new URL(again.headers.get('location')!, proxy.url), { method: 'DELETE' });
  });

  it('slowBody throttles the response body', async () => {
    proxy.slowBody(100_000, 'blob-get');
    const t0 = Date.now();
    const res = await fetch(`${proxy.url}/v2/lib/app/blobs/${img.layerDigests[0]}`, {
      headers: { range: 'bytes=0-29999' },
    });
    expect((await res.arrayBuffer()).byteLength).toBe(30_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    proxy.clearFaults();
  });
});

describe('fixture images', () => {
  let reg: RegistryHandle;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(() => reg.stop());

  it('makeImageLayout is reproducible from the seed and differs across seeds', async () => {
    const a = await makeImageLayout(join(work, 'repro-a'), { layers: [5000, 1], seed: 42 });
    const b = await makeImageLayout(join(work, 'repro-b'), { layers: [5000, 1], seed: 42 });
    const c = await makeImageLayout(join(work, 'repro-c'), { layers: [5000, 1], seed: 43 });
    expect(b.manifestDigest).toBe(a.manifestDigest);
    expect(b.layerDigests).toEqual(a.layerDigests);
    expect(c.manifestDigest).not.toBe(a.manifestDigest);
    expect(a.manifestDigest).toMatch(sha256Hex);
    const index = JSON.parse(await readFile(join(a.dir, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string; annotations: Record<string, string> }>;
    };
    expect(index.manifests).toEqual([
      expect.objectContaining({
        digest: a.manifestDigest,
        annotations: { 'org.opencontainers.image.ref.name': 'latest' },
      }),
    ]);
  });

  it('seedImage pushes a layout and skopeo inspect reports the same digest', async () => {
    const img = await makeImageLayout(join(work, 'seed-oci'), { layers: [4096, 100_000], seed: 'seed', tag: '1.0' });
    const { digest } = await seedImage(`oci:${img.dir}:1.0`, `${reg.host}/lib/seeded:1.0`);
    expect(digest).toBe(img.manifestDigest);
    expect(await registryDigest(reg.host, 'lib/seeded', '1.0')).toBe(img.manifestDigest);
    const { stdout } = await skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/lib/seeded:1.0`]);
    const info = JSON.parse(stdout) as { Digest: string; Layers: string[]; Architecture: string };
    expect(info.Digest).toBe(img.manifestDigest);
    expect(info.Layers).toEqual(img.layerDigests);
    expect(info.Architecture).toBe('amd64');
  });

  it('a Docker media-type layout pushes with its digest preserved', async () => {
    const img = await makeImageLayout(join(work, 'seed-docker'), {
      layers: [300],
      seed: 'docker',
      mediaTypes: 'docker',
    });
    const { digest } = await seedImage(`oci:${img.dir}:latest`, `${reg.host}/lib/dockerish:latest`);
    expect(digest).toBe(img.manifestDigest);
    const res = await fetch(`${reg.url}/v2/lib/dockerish/manifests/latest`, { headers: { accept: ACCEPT_MANIFESTS } });
    expect(res.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
  });

  it('a Docker manifest list layout pushes with --all and its digest preserved', async () => {
    const idx = await makeIndexLayout(join(work, 'seed-docker-list'), {
      platforms: ['linux/amd64', 'linux/arm64'],
      layers: [300],
      seed: 'dl',
      mediaTypes: 'docker',
      sharedLayers: true,
    });
    expect(idx.images[0].layerDigests).toEqual(idx.images[1].layerDigests);
    const { digest } = await seedImage(`oci:${idx.dir}:latest`, `${reg.host}/lib/dockerlist:latest`, { all: true });
    expect(digest).toBe(idx.indexDigest);
    const res = await fetch(`${reg.url}/v2/lib/dockerlist/manifests/latest`, { headers: { accept: ACCEPT_MANIFESTS } });
    expect(res.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
  });

  it('seedImage --format v2s2 converts an OCI image to a Docker manifest', async () => {
    const img = await makeImageLayout(join(work, 'seed-v2s2'), { layers: [300], seed: 'v2s2' });
    const { digest } = await seedImage(`oci:${img.dir}:latest`, `${reg.host}/lib/converted:latest`, { format: 'v2s2' });
    expect(digest).not.toBe(img.manifestDigest);
    const res = await fetch(`${reg.url}/v2/lib/converted/manifests/latest`, { headers: { accept: ACCEPT_MANIFESTS } });
    expect(res.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(res.headers.get('docker-content-digest')).toBe(digest);
  });

  it('makeIndexLayout + seedImage --all pushes a multi-platform index with its digest', async () => {
    const idx = await makeIndexLayout(join(work, 'index'), {
      platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'],
      layers: [1000],
      seed: 'multi',
      tag: 'multi',
    });
    expect(idx.images.map((i) => i.platform)).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ]);
    const { digest } = await seedImage(`oci:${idx.dir}:multi`, `${reg.host}/lib/multi:multi`, { all: true });
    expect(digest).toBe(idx.indexDigest);
    expect(await registryDigest(reg.host, 'lib/multi', 'multi')).toBe(idx.indexDigest);
    for (const image of idx.images)
      expect(await registryDigest(reg.host, 'lib/multi', image.manifestDigest)).toBe(image.manifestDigest);
  });
});

describe('runCli', () => {
  it('runs bin/regctl --version with an isolated HOME and exit code 0', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const res = await runCli(['--version']);
    expect(res).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });
});
