// Hostile or broken registry answers: each is a clear one-line error (exit 1) that commits nothing, never a crash or a
// hang.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FaultProxy, type ProxyRequest, type ProxyResponse, startFaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, registryDigest, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { type CliResult, runCli } from '../support/run-cli.js';

let src: RegistryHandle;
let dst: RegistryHandle;
let A: FaultProxy;
let work: string;
let image: ImageFixture;
let manifestBytes: Buffer;
let n = 0;

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

const isTagHead = (r: ProxyRequest): boolean => r.kind === 'manifest-head' && r.repo === 'src/app' && r.ref === 'v1';
const isManifestGet =
  (ref: string) =>
  (r: ProxyRequest): boolean =>
    r.kind === 'manifest-get' && r.ref === ref;

/** Serve `body` as the manifest of src/app:v1: the tag's HEAD names its digest, the GET by that digest answers it. */
function serveManifest(body: Buffer, contentType: string, opts: { digest?: string; chunked?: boolean } = {}): void {
  const digest = opts.digest ?? sha256(body);
  A.rewrite(
    isTagHead,
    (res) => ({
      status: 200,
      headers: {
        ...res.headers,
        'docker-content-digest': digest,
        'content-type': contentType,
        'content-length': String(body.length),
      },
      body: Buffer.alloc(0),
    }),
    10,
  );
  A.rewrite(
    isManifestGet(digest),
    () => ({
      status: 200,
      headers: { 'docker-content-digest': digest, 'content-type': contentType },
      body,
      ...(opts.chunked ? { chunked: true } : {}),
    }),
    10,
  );
}

async function copyFails(): Promise<{ r: CliResult; line: string; repo: string }> {
  const repo = `hostile/r${++n}`;
  const r = await runCli(['copy', `${A.host}/src/app:v1`, `${dst.host}/${repo}:v1`], { timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(1);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('regctl: '));
  expect(errors, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at |TypeError|RangeError|SyntaxError|Unexpected token/m);
  expect(r.stdout).toBe('');
  // Nothing committed at the destination.
  const head = await fetch(`${dst.url}/v2/${repo}/manifests/v1`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } });
  expect(head.status).toBe(404);
  return { r, line: errors[0], repo };
}

beforeAll(async () => {
  work = await makeTempDir('hostile-test');
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  A = await startFaultProxy(src.url);
  image = await makeImageLayout(join(work, 'img'), { layers: [120_000, 60_000], seed: 'hostile-img', tag: 'v1' });
  await seedImage(`oci:${image.dir}:v1`, `${src.host}/src/app:v1`);
  manifestBytes = Buffer.from(
    await (await fetch(`${src.url}/v2/src/app/manifests/v1`, { headers: { accept: OCI_MANIFEST } })).arrayBuffer(),
  );
});

afterAll(async () => {
  await A?.stop();
  await Promise.all([src?.stop(), dst?.stop()]);
  await removeTempDir(work);
});

beforeEach(() => {
  A.clearFaults();
  A.reset();
});

describe('hostile manifests', () => {
  it('a manifest that is not JSON (an HTML page) is a one-line error', async () => {
    serveManifest(Buffer.from('<html><body>Welcome to the captive portal</body></html>'), 'text/html');
    const { line } = await copyFails();
    expect(line).toMatch(/^regctl: manifest .*src\/app@sha256:[0-9a-f]{64}: manifest is not valid JSON$/);
  });

  it('JSON that is not a manifest object is a one-line error', async () => {
    serveManifest(Buffer.from('[1,2,3]'), OCI_MANIFEST);
    const { line } = await copyFails();
    expect(line).toMatch(/manifest is not a JSON object/);
  });

  it('a Content-Type that contradicts a manifest without its own mediaType is a one-line error', async () => {
    const doc = JSON.parse(manifestBytes.toString('utf8')) as Record<string, unknown>;
    delete doc.mediaType;
    serveManifest(Buffer.from(JSON.stringify(doc)), OCI_INDEX);
    const { line } = await copyFails();
    expect(line).toMatch(/index has no manifests array/);
  });

  it("a Content-Type that disagrees with the manifest's own mediaType: the verified bytes win, digest and type are kept", async () => {
    A.rewrite(isTagHead, (res) => ({ ...res, headers: { ...res.headers, 'content-type': OCI_INDEX } }), 10);
    A.rewrite(
      isManifestGet(image.manifestDigest),
      (res) => ({ ...res, headers: { ...res.headers, 'content-type': 'application/octet-stream' } }),
      10,
    );
    const repo = `hostile/r${++n}`;
    const r = await runCli(['copy', `${A.host}/src/app:v1`, `${dst.host}/${repo}:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(await registryDigest(dst.host, repo, 'v1')).toBe(image.manifestDigest);
    const res = await fetch(`${dst.url}/v2/${repo}/manifests/v1`, {
      method: 'HEAD',
      headers: { accept: `${OCI_MANIFEST}, ${OCI_INDEX}` },
    });
    expect(res.headers.get('content-type')).toBe(OCI_MANIFEST);
  });

  it('a HEAD without Docker-Content-Digest falls back to a GET, and the digest is computed from the bytes', async () => {
    A.rewrite(
      isTagHead,
      (res) => {
        const headers = { ...res.headers };
        delete headers['docker-content-digest'];
        return { ...res, headers };
      },
      10,
    );
    const r = await runCli(['copy', `${A.host}/src/app:v1`, `${dst.host}/nodigest/app:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${dst.host}/nodigest/app:v1@${sha256(manifestBytes)}`);
    expect(A.count('manifest-get')).toBeGreaterThanOrEqual(1);
  });

  it('a Docker-Content-Digest that does not match the bytes is a one-line digest error', async () => {
    const fake = `sha256:${'ab'.repeat(32)}`;
    serveManifest(manifestBytes, OCI_MANIFEST, { digest: fake });
    const { line } = await copyFails();
    expect(line).toMatch(new RegExp(`does not match its digest ${fake}`));
  });

  it('a malformed Docker-Content-Digest is refused before it becomes a URL', async () => {
    A.rewrite(
      isTagHead,
      (res) => ({ ...res, headers: { ...res.headers, 'docker-content-digest': 'sha256:../../../v2/_catalog' } }),
      10,
    );
    const { line } = await copyFails();
    expect(line).toMatch(/Docker-Content-Digest/);
    expect(A.stats.filter((s) => s.path.includes('..') || s.kind === 'catalog')).toEqual([]);
  });

  it('a manifest naming a blob by a malformed digest is refused before it becomes a URL', async () => {
    const doc = JSON.parse(manifestBytes.toString('utf8')) as { layers: Array<{ digest: string }> };
    doc.layers[0].digest = 'sha256:../../../../etc/passwd';
    serveManifest(Buffer.from(JSON.stringify(doc)), OCI_MANIFEST);
    const { line } = await copyFails();
    expect(line).toMatch(/invalid digest/);
    expect(A.count('blob-get')).toBe(0);
  });

  it('a manifest over 4 MiB (Content-Length said up front) is refused with a one-line error', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
    manifestBytes.copy(big);
    serveManifest(big, OCI_MANIFEST);
    const { line } = await copyFails();
    expect(line).toMatch(/4 MiB/);
  });

  it('a manifest over 4 MiB sent chunked (no Content-Length) is cut off at the cap', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
    manifestBytes.copy(big);
    serveManifest(big, OCI_MANIFEST, { chunked: true });
    const { line } = await copyFails();
    expect(line).toMatch(/4 MiB/);
  });
});

describe('hostile blobs', () => {
  const blobGet =
    (digest: string) =>
    (r: ProxyRequest): boolean =>
      r.kind === 'blob-get' && r.ref === digest;
  const reshape =
    (fn: (b: Buffer) => Buffer, chunked = false) =>
    (res: ProxyResponse): ProxyResponse => ({ ...res, body: fn(res.body), chunked });

  it('a blob longer than its descriptor is a one-line error and nothing is committed', async () => {
    const d = image.layerDigests[0];
    A.rewrite(
      blobGet(d),
      reshape((b) => Buffer.concat([b, Buffer.alloc(1000, 1)])),
      20,
    );
    const { line, repo } = await copyFails();
    expect(line).toMatch(new RegExp(`${d}: more than the expected ${image.layerSizes[0]} bytes`));
    expect((await fetch(`${dst.url}/v2/${repo}/blobs/${d}`, { method: 'HEAD' })).status).toBe(404);
  });

  it('a blob longer than its descriptor, sent chunked, is cut off too', async () => {
    const d = image.layerDigests[1];
    A.rewrite(
      blobGet(d),
      reshape((b) => Buffer.concat([b, Buffer.alloc(100_000, 1)]), true),
      20,
    );
    const { line } = await copyFails();
    expect(line).toMatch(new RegExp(`${d}: more than the expected`));
  });

  it('a blob shorter than its descriptor is a one-line error and nothing is committed', async () => {
    const d = image.layerDigests[0];
    A.rewrite(
      blobGet(d),
      reshape((b) => b.subarray(0, b.length - 1000)),
      20,
    );
    const { line, repo } = await copyFails();
    expect(line).toMatch(new RegExp(`${d}: ${image.layerSizes[0] - 1000} bytes, expected ${image.layerSizes[0]}`));
    expect((await fetch(`${dst.url}/v2/${repo}/blobs/${d}`, { method: 'HEAD' })).status).toBe(404);
  });

  it('a resumed download answered from the wrong offset is a one-line error, not a corrupt blob', async () => {
    const d = image.layerDigests[0];
    A.dropAfter(blobGet(d), 50_000);
    // Slow enough that the break comes while regctl reads (bytes that arrive before the upload session is open wait in
    // a buffer, and a dropped connection takes them along: the read would restart at 0, with no Range to answer).
    A.slowBody(500_000, blobGet(d));
    A.rewrite(
      (r) => blobGet(d)(r) && r.headers.range !== undefined,
      (res) => ({
        ...res,
        headers: { ...res.headers, 'content-range': `bytes 0-${res.body.length - 1}/${image.layerSizes[0]}` },
      }),
      20,
    );
    const { line } = await copyFails();
    expect(line).toMatch(/range from the wrong offset/);
  });

  it('a redirect loop ends after the hop cap with a one-line error', async () => {
    const d = image.layerDigests[0];
    A.rewrite(
      blobGet(d),
      () => ({ status: 307, headers: { location: `/v2/src/app/blobs/${d}` }, body: Buffer.alloc(0) }),
      100,
    );
    const { line } = await copyFails();
    expect(line).toMatch(/redirects/);
    expect(A.count(blobGet(d))).toBeLessThan(30);
  });
});

describe('hostile error answers', () => {
  it('a 500 with a megabyte of HTML is still one short line', async () => {
    A.rewrite(
      isManifestGet(image.manifestDigest),
      () => ({
        status: 500,
        headers: { 'content-type': 'text/html' },
        body: Buffer.from(`<html>${'<p>oops</p>\n'.repeat(100_000)}</html>`),
      }),
      10,
    );
    const repo = `hostile/r${++n}`;
    const r = await runCli(['copy', '--retries', '0', `${A.host}/src/app:v1`, `${dst.host}/${repo}:v1`]);
    expect(r.code).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('regctl: '));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/500 server error/);
    expect(errors[0].length).toBeLessThan(400);
  });
});
