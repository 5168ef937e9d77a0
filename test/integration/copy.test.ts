// Copy between registries, against the real distribution registry behind a counting proxy.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import {
  type IndexFixture,
  type ImageFixture,
  makeImageLayout,
  makeIndexLayout,
  registryDigest,
  seedImage,
} from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

let reg: RegistryHandle;
let other: RegistryHandle;
let proxy: FaultProxy;
let work: string;
let image: ImageFixture;
let dockerImage: ImageFixture;
let index: IndexFixture;
/** The registry as regctl sees it: through the counting proxy. */
let R: string;

beforeAll(async () => {
  work = await makeTempDir('copy-test');
  [reg, other] = await Promise.all([startRegistry(), startRegistry()]);
  proxy = await startFaultProxy(reg.url);
  R = proxy.host;
  [image, dockerImage, index] = await Promise.all([
    makeImageLayout(join(work, 'img'), { layers: [300_000, 200_000, 100_000], seed: 'copy-img', tag: 'v1' }),
    makeImageLayout(join(work, 'dimg'), {
      layers: [150_000, 50_000],
      seed: 'copy-docker',
      tag: 'v1',
      mediaTypes: 'docker',
    }),
    makeIndexLayout(join(work, 'idx'), {
      platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'],
      layers: [120_000, 60_000],
      seed: 'copy-idx',
      tag: 'v1',
    }),
  ]);
  await Promise.all([
    seedImage(`oci:${image.dir}:v1`, `${reg.host}/src/app:v1`),
    seedImage(`oci:${dockerImage.dir}:v1`, `${reg.host}/src/docker:v1`),
    seedImage(`oci:${index.dir}:v1`, `${reg.host}/src/multi:v1`, { all: true }),
  ]);
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([reg?.stop(), other?.stop()]);
  await removeTempDir(work);
});

describe('regctl copy between registries', () => {
  it('copies a single-platform image and prints DST@digest', async () => {
    const r = await runCli(['copy', `${R}/src/app:v1`, `${other.host}/dst/app:v1`]);
    expect(r.stderr).not.toMatch(/regctl:/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${other.host}/dst/app:v1@${image.manifestDigest}`);
    expect(await registryDigest(other.host, 'dst/app', 'v1')).toBe(image.manifestDigest);
    for (const d of [image.configDigest, ...image.layerDigests]) {
      const res = await fetch(`${other.url}/v2/dst/app/blobs/${d}`, { method: 'HEAD' });
      expect(res.status).toBe(200);
    }
  });

  it('copies a whole multi-arch index byte-identical (same digest, every child present)', async () => {
    const r = await runCli(['copy', `${R}/src/multi:v1`, `${other.host}/dst/multi:v1`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${other.host}/dst/multi:v1@${index.indexDigest}`);
    expect(await registryDigest(other.host, 'dst/multi', 'v1')).toBe(index.indexDigest);
    for (const child of index.images)
      expect(await registryDigest(other.host, 'dst/multi', child.manifestDigest)).toBe(child.manifestDigest);
    const raw = await fetch(`${other.url}/v2/dst/multi/manifests/v1`, { headers: { accept: index.indexMediaType } });
    const src = await fetch(`${reg.url}/v2/src/multi/manifests/v1`, { headers: { accept: index.indexMediaType } });
    expect(Buffer.from(await raw.arrayBuffer()).equals(Buffer.from(await src.arrayBuffer()))).toBe(true);
  });

  it('--platform copies one platform: the destination holds that child image', async () => {
    const arm = index.images.find((i) => i.platform.architecture === 'arm64')!;
    const r = await runCli(['copy', '--platform', 'linux/arm64', `${R}/src/multi:v1`, `${other.host}/dst/arm:v1`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${other.host}/dst/arm:v1@${arm.manifestDigest}`);
    expect(await registryDigest(other.host, 'dst/arm', 'v1')).toBe(arm.manifestDigest);
  });

  it('repeated --platform builds a new index of exactly those platforms', async () => {
    const r = await runCli([
      'copy',
      '--json',
      '--platform',
      'linux/amd64',
      '--platform',
      'linux/arm/v7',
      `${R}/src/multi:v1`,
      `${other.host}/dst/two:v1`,
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.digest).not.toBe(index.indexDigest);
    const res = await fetch(`${other.url}/v2/dst/two/manifests/v1`, { headers: { accept: index.indexMediaType } });
    const doc = await res.json();
    expect(doc.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture).sort()).toEqual([
      'amd64',
      'arm',
    ]);
    expect(res.headers.get('docker-content-digest')).toBe(out.digest);
  });

  it('an unknown platform is a one-line error naming the platforms the index has, exit 2', async () => {
    const r = await runCli(['copy', '--platform', 'linux/s390x', `${R}/src/multi:v1`, `${other.host}/dst/none:v1`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^regctl: .*linux\/s390x.*linux\/amd64/m);
    expect(await registryDigest(other.host, 'dst/none', 'v1').catch(() => 'missing')).toBe('missing');
  });

  it('keeps a Docker v2 schema 2 manifest and its digest', async () => {
    const r = await runCli(['copy', `${R}/src/docker:v1`, `${other.host}/dst/docker:v1`]);
    expect(r.code).toBe(0);
    expect(await registryDigest(other.host, 'dst/docker', 'v1')).toBe(dockerImage.manifestDigest);
    const res = await fetch(`${other.url}/v2/dst/docker/manifests/v1`, {
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    expect(res.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
  });

  it('a re-copy is "up to date": HEADs only, no GET and no blob bytes', async () => {
    expect((await runCli(['copy', `${R}/src/app:v1`, `${R}/again/app:v1`])).code).toBe(0);
    proxy.reset();
    const r = await runCli(['copy', `${R}/src/app:v1`, `${R}/again/app:v1`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/up to date/);
    expect(proxy.count(['manifest-get', 'blob-get', 'upload', 'mount', 'manifest-put'])).toBe(0);
    expect(proxy.count('manifest-head')).toBe(2);
  });

  it('a copy whose blobs are all there sends no blob bytes and says so', async () => {
    // Same blobs, new tag in the same repository: the tag is missing, the blobs are not.
    proxy.reset();
    const r = await runCli(['copy', `${R}/src/app:v1`, `${R}/again/app:v2`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no blob bytes were sent/);
    expect(proxy.count(['blob-get', 'upload', 'mount'])).toBe(0);
    expect(proxy.count('manifest-put')).toBe(1);
  });

  it('into a repository that does not exist yet, one tag-list request replaces every blob HEAD', async () => {
    proxy.reset();
    const r = await runCli(['copy', `${R}/src/multi:v1`, `${R}/brand-new/multi:v1`]);
    expect(r.code).toBe(0);
    expect(proxy.count('tags')).toBe(1);
    expect(proxy.count('blob-head')).toBe(0);
    expect(await registryDigest(reg.host, 'brand-new/multi', 'v1')).toBe(index.indexDigest);
  });

  it('within one registry, blobs are mounted across repositories, not downloaded', async () => {
    proxy.reset();
    const r = await runCli(['copy', `${R}/src/app:v1`, `${R}/mounted/app:v1`]);
    expect(r.code).toBe(0);
    expect(proxy.count('mount')).toBe(4);
    expect(proxy.count('blob-get')).toBe(0);
    expect(proxy.bytes('upload')).toBe(0);
    expect(await registryDigest(reg.host, 'mounted/app', 'v1')).toBe(image.manifestDigest);
  });

  it('a corrupted blob fails the copy and leaves no manifest at the destination', async () => {
    proxy.corruptBlob(image.layerDigests[1]);
    try {
      const r = await runCli(['copy', `${R}/src/app:v1`, `${other.host}/corrupt/app:v1`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`regctl: .*${image.layerDigests[1]}.*does not match its digest`));
      const head = await fetch(`${other.url}/v2/corrupt/app/manifests/v1`, { method: 'HEAD' });
      expect(head.status).toBe(404);
      const blob = await fetch(`${other.url}/v2/corrupt/app/blobs/${image.layerDigests[1]}`, { method: 'HEAD' });
      expect(blob.status).toBe(404);
    } finally {
      proxy.clearFaults();
    }
  });

  it('--json reports the digest and the blob counts', async () => {
    const r = await runCli(['copy', '--json', `${R}/src/app:v1`, `${other.host}/json/app:v1`]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      digest: image.manifestDigest,
      upToDate: false,
      blobs: { sent: 4, existed: 0, mounted: 0 },
    });
    expect(r.stderr).toBe('');
  });

  it('a missing source image is exit 1 with a one-line error', async () => {
    const r = await runCli(['copy', `${R}/src/nothing:v1`, `${other.host}/x/y:v1`]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/^regctl: .*not found/);
  });

  it('bad references are exit 2 with one line', async () => {
    const r = await runCli(['copy', 'UPPER/Case:tag', `${other.host}/x/y:v1`]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/^regctl: invalid reference/);
    const r2 = await runCli(['copy', 'only-one-arg']);
    expect(r2.code).toBe(2);
  });
});
