// pull and push between the real registry and local files (docker-archive, OCI layout, oci-archive), with skopeo as the
// peer.
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultProxy } from '../support/fault-proxy.js';
import {
  type IndexFixture,
  type ImageFixture,
  makeImageLayout,
  makeIndexLayout,
  registryDigest,
  seedImage,
  skopeo,
} from '../support/images.js';
import type { RegistryHandle } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';
import { type ProxiedRegistry, startProxiedRegistry } from '../support/proxied.js';

const run = promisify(execFile);
let reg: RegistryHandle;
let proxy: FaultProxy;
let env: ProxiedRegistry;
let work: string;
let image: ImageFixture;
let index: IndexFixture;

beforeAll(async () => {
  env = await startProxiedRegistry('local-test');
  ({ work, reg, proxy } = env);
  [image, index] = await Promise.all([
    makeImageLayout(join(work, 'img'), {
      layers: [200_000, 100_000, 50_000],
      seed: 'local-img',
      tag: 'v1',
      gzipLevel: 1,
    }),
    makeIndexLayout(join(work, 'idx'), {
      platforms: ['linux/amd64', 'linux/arm64'],
      layers: [60_000],
      seed: 'local-idx',
      tag: 'v1',
      gzipLevel: 1,
    }),
  ]);
  await seedImage(`oci:${image.dir}:v1`, `${reg.host}/lib/app:v1`);
  await seedImage(`oci:${index.dir}:v1`, `${reg.host}/lib/multi:v1`, { all: true });
});

afterAll(async () => {
  await env?.stop();
});

async function skopeoInspect(ref: string): Promise<{ Digest: string; Layers: string[] }> {
  return JSON.parse((await skopeo(['inspect', '--tls-verify=false', ref])).stdout);
}

async function configDigest(ref: string): Promise<string> {
  const raw = JSON.parse((await skopeo(['inspect', '--raw', '--tls-verify=false', ref])).stdout);
  return raw.config.digest;
}

describe('registry → OCI layout → registry', () => {
  it('keeps the digest both ways, and the layout passes oci-image-tool validate', async () => {
    const dir = join(work, 'layout1');
    const pulled = await runCli(['pull', '--format', 'oci', `${reg.host}/lib/app:v1`, dir]);
    expect(pulled.stderr).not.toMatch(/regctl:/);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout.trim()).toBe(`oci:${dir}:v1@${image.manifestDigest}`);
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('v1');
    await run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=v1', dir]);
    const pushed = await runCli(['push', `oci:${dir}:v1`, `${reg.host}/back/app:v1`]);
    expect(pushed.code).toBe(0);
    expect(await registryDigest(reg.host, 'back/app', 'v1')).toBe(image.manifestDigest);
  });

  it('a whole index goes into a layout byte-exact; a re-pull adds no entry and sends nothing', async () => {
    const dir = join(work, 'layout2');
    expect((await runCli(['copy', `${reg.host}/lib/multi:v1`, `oci:${dir}:multi`])).code).toBe(0);
    expect((await runCli(['copy', `${reg.host}/lib/app:v1`, `oci:${dir}:app`])).code).toBe(0);
    const again = await runCli(['copy', `${reg.host}/lib/multi:v1`, `oci:${dir}:multi`]);
    expect(again.stderr).toMatch(/up to date/);
    const doc = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    const names = doc.manifests
      .map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'])
      .sort();
    expect(names).toEqual(['app', 'multi']);
    expect(doc.manifests.find((m: { digest: string }) => m.digest === index.indexDigest)).toBeDefined();
    expect((await runCli(['digest', `oci:${dir}:multi`])).stdout.trim()).toBe(index.indexDigest);
    expect((await skopeoInspect(`oci:${dir}:app`)).Digest).toBe(image.manifestDigest);
  });

  it('two copies into one layout at once lose no entry', async () => {
    const dir = join(work, 'layout3');
    const [a, b] = await Promise.all([
      runCli(['copy', `${reg.host}/lib/app:v1`, `oci:${dir}:one`]),
      runCli(['copy', '--platform', 'linux/arm64', `${reg.host}/lib/multi:v1`, `oci:${dir}:two`]),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const doc = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    expect(
      doc.manifests
        .map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'])
        .sort(),
    ).toEqual(['one', 'two']);
  });
});

describe('docker-archive', () => {
  it('pull to ./x.tar writes a hybrid archive skopeo reads; push keeps the digest', async () => {
    const tar = join(work, 'app.tar');
    const r = await runCli(['pull', `${reg.host}/lib/app:v1`, tar]);
    expect(r.code).toBe(0);
    expect(await configDigest(`docker-archive:${tar}`)).toBe(image.configDigest);
    // skopeo can take it on to a registry, with the same config.
    await skopeo(['copy', '--dest-tls-verify=false', `docker-archive:${tar}`, `docker://${reg.host}/viaskopeo/app:v1`]);
    expect(await configDigest(`docker://${reg.host}/viaskopeo/app:v1`)).toBe(image.configDigest);
    const pushed = await runCli(['push', tar, `${reg.host}/fromtar/app:v1`]);
    expect(pushed.code).toBe(0);
    expect(await registryDigest(reg.host, 'fromtar/app', 'v1')).toBe(image.manifestDigest);
    expect((await runCli(['inspect', '--json', tar])).stdout).toContain(image.configDigest);
  });

  it('blobs go straight to their places in the tar: blobs/ first, every blob whole and matching its name, the same bytes on every pull', async () => {
    const [a, b] = [join(work, 'placed-a.tar'), join(work, 'placed-b.tar')];
    for (const tar of [a, b])
      expect((await runCli(['pull', `${reg.host}/lib/app:v1`, `docker-archive:${tar}:lib/app:v1`])).code).toBe(0);
    const [bytesA, bytesB] = await Promise.all([readFile(a), readFile(b)]);
    expect(bytesA.equals(bytesB)).toBe(true);
    const { stdout } = await run('tar', ['tf', a]);
    const names = stdout.trim().split('\n');
    const announced = [image.configDigest, ...image.layerDigests].map((d) => `blobs/sha256/${d.slice(7)}`).sort();
    // The directories, the blobs the copy announced (sorted), then the manifest and the metadata.
    expect(names).toEqual([
      'blobs/',
      'blobs/sha256/',
      ...announced,
      `blobs/sha256/${image.manifestDigest.slice(7)}`,
      'index.json',
      'manifest.json',
      'oci-layout',
      'repositories',
    ]);
    const out = join(work, 'placed-x');
    await run('mkdir', ['-p', out]);
    await run('tar', ['xf', a, '-C', out]);
    const { createHash } = await import('node:crypto');
    for (const n of names.filter((x) => x.startsWith('blobs/sha256/') && x.length > 20)) {
      expect(
        `sha256:${createHash('sha256')
          .update(await readFile(join(out, n)))
          .digest('hex')}`,
      ).toBe(`sha256:${n.slice(13)}`);
    }
    expect(await configDigest(`docker-archive:${a}`)).toBe(image.configDigest);
  });

  it('a blob that fails verification on its way into the tar leaves no file and no temp file', async () => {
    proxy.reset();
    proxy.corruptBlob(image.layerDigests[1]);
    try {
      const dir = join(work, 'placed-bad');
      await run('mkdir', ['-p', dir]);
      const r = await runCli(['pull', `${proxy.host}/lib/app:v1`, `docker-archive:${join(dir, 'app.tar')}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/regctl: .*sha256:/);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      proxy.clearFaults();
    }
  });

  it('an index needs one platform: the host default or --platform', async () => {
    const tar = join(work, 'arm.tar');
    const arm = index.images.find((i) => i.platform.architecture === 'arm64')!;
    const r = await runCli(['pull', '--platform', 'linux/arm64', `${reg.host}/lib/multi:v1`, tar]);
    expect(r.code).toBe(0);
    expect(await configDigest(`docker-archive:${tar}`)).toBe(arm.configDigest);
  });

  it("skopeo's classic archive (uncompressed layers) is gzipped on push, says so, and keeps its config", async () => {
    const tar = join(work, 'classic.tar');
    await skopeo([
      'copy',
      '--src-tls-verify=false',
      `docker://${reg.host}/lib/app:v1`,
      `docker-archive:${tar}:lib/app:v1`,
    ]);
    const r = await runCli(['push', tar, `${reg.host}/classic/app:v1`]);
    expect(r.stderr).not.toMatch(/regctl:/);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/gzipped/);
    const pushedDigest = r.stdout.trim().split('@')[1];
    const raw = JSON.parse(
      (await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/classic/app:v1`])).stdout,
    );
    expect(raw.config.digest).toBe(image.configDigest);
    for (const l of raw.layers) expect(l.mediaType).toMatch(/gzip/);
    expect(await registryDigest(reg.host, 'classic/app', 'v1')).toBe(pushedDigest);
    // The gzip output is deterministic: a second push lands on the same digest.
    const again = await runCli(['push', tar, `${reg.host}/classic/app:v1`]);
    expect(again.stdout.trim()).toBe(r.stdout.trim());
  });

  it('a failed pull leaves nothing at the output path', async () => {
    const tar = join(work, 'broken.tar');
    proxy.corruptBlob(image.layerDigests[0]);
    try {
      const r = await runCli(['pull', `${proxy.host}/lib/app:v1`, tar]);
      expect(r.code).toBe(1);
      await expect(stat(tar)).rejects.toThrow();
      expect((await readdir(work)).filter((f) => f.startsWith('broken'))).toEqual([]);
    } finally {
      proxy.clearFaults();
    }
  });
});

describe('oci-archive', () => {
  it('round trip registry → oci-archive → registry keeps the digest; skopeo reads it', async () => {
    const tar = join(work, 'app-oci.tar');
    expect((await runCli(['pull', '--format', 'oci-archive', `${reg.host}/lib/app:v1`, tar])).code).toBe(0);
    expect((await skopeoInspect(`oci-archive:${tar}:v1`)).Digest).toBe(image.manifestDigest);
    expect((await runCli(['push', `oci-archive:${tar}:v1`, `${reg.host}/ociarch/app:v1`])).code).toBe(0);
    expect(await registryDigest(reg.host, 'ociarch/app', 'v1')).toBe(image.manifestDigest);
  });

  it('what skopeo writes as oci-archive, regctl reads and pushes', async () => {
    const tar = join(work, 'from-skopeo.tar');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/lib/app:v1`, `oci-archive:${tar}:v1`]);
    const r = await runCli(['push', tar, `${reg.host}/skarch/app:v1`]);
    expect(r.code).toBe(0);
    expect(await configDigest(`docker://${reg.host}/skarch/app:v1`)).toBe(image.configDigest);
  });
});
