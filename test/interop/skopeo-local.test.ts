// Interop with skopeo 1.9 and oci-image-tool: archives and layouts skopeo writes are read by our sources, ours are read
// by them.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../src/oci/digest.js';
import { MT } from '../../src/oci/media-types.js';
import { openDockerArchiveDestination, openDockerArchiveSource } from '../../src/transports/docker-archive.js';
import { openOciArchiveDestination, openOciArchiveSource } from '../../src/transports/oci-archive.js';
import { openOciLayoutDestination, openOciLayoutSource } from '../../src/transports/oci-layout.js';
import { detectLocalKind } from '../../src/transports/sniff.js';
import { type ImageFixture, type IndexFixture, makeImageLayout, makeIndexLayout, skopeo } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { collect, never, readAll, sameContent, transfer } from '../transports/local-helpers.js';
import { verified } from '../../src/copy/verify.js';

const run = promisify(execFile);
let tmp: string;
let img: ImageFixture;
let idx: IndexFixture;

beforeAll(async () => {
  tmp = await makeTempDir('skopeo-local');
  img = await makeImageLayout(join(tmp, 'fix'), { layers: [5000, 40_000], seed: 'interop', tag: 't', gzipLevel: 6 });
  idx = await makeIndexLayout(join(tmp, 'fix-idx'), {
    layers: [3000],
    seed: 'interop-idx',
    tag: 'multi',
    platforms: ['linux/amd64', 'linux/arm64'],
  });
});
afterAll(async () => removeTempDir(tmp));

async function rawManifest(ref: string): Promise<{ config?: { digest: string }; manifests?: unknown[] }> {
  return JSON.parse((await skopeo(['inspect', '--raw', ref])).stdout);
}

describe('skopeo writes, regctl reads', () => {
  it('docker-archive from skopeo: our source synthesises a manifest whose layers verify', async () => {
    const out = join(tmp, 'skopeo-docker.tar');
    await skopeo(['copy', `oci:${img.dir}:t`, `docker-archive:${out}:example.com/ns/name:t`]);
    expect(await detectLocalKind(out)).toBe('docker-archive');
    const src = await openDockerArchiveSource({ path: out, name: 'example.com/ns/name:t' });
    const { root, blobs } = await collect(src);
    expect(root.manifest.kind === 'image' && root.manifest.config.digest).toBe(img.configDigest);
    // skopeo stores layers uncompressed: their digests are the diff IDs.
    expect(root.manifest.kind === 'image' && root.manifest.layers.map((l) => l.digest)).toEqual(img.diffIds);
    for (const b of blobs) await readAll(verified(await src.getBlob(b, { signal: never() }), b));
    // And through a layout destination, read back equal.
    const layout = join(tmp, 'from-skopeo-docker');
    await transfer(src, await openOciLayoutDestination({ path: layout, tag: 'x' }));
    await sameContent(src, await openOciLayoutSource({ path: layout, tag: 'x' }));
  });

  it('oci-archive from skopeo, an image and an index: digests preserved', async () => {
    const one = join(tmp, 'skopeo-oci.tar');
    await skopeo(['copy', `oci:${img.dir}:t`, `oci-archive:${one}:t`]);
    const src = await openOciArchiveSource({ path: one, tag: 't' });
    expect((await src.resolve(never()))?.digest).toBe(img.manifestDigest);
    await sameContent(await openOciLayoutSource({ path: img.dir }), src);
    const many = join(tmp, 'skopeo-oci-idx.tar');
    await skopeo(['copy', '--all', `oci:${idx.dir}:multi`, `oci-archive:${many}:multi`]);
    const isrc = await openOciArchiveSource({ path: many });
    expect((await isrc.resolve(never()))?.digest).toBe(idx.indexDigest);
    await sameContent(await openOciLayoutSource({ path: idx.dir }), isrc);
  });

  it('oci layout from skopeo with two tags: picked by tag', async () => {
    const layout = join(tmp, 'skopeo-layout');
    await skopeo(['copy', `oci:${img.dir}:t`, `oci:${layout}:one`]);
    await skopeo(['copy', '--all', `oci:${idx.dir}:multi`, `oci:${layout}:two`]);
    expect((await (await openOciLayoutSource({ path: layout, tag: 'one' })).resolve(never()))?.digest).toBe(
      img.manifestDigest,
    );
    expect((await (await openOciLayoutSource({ path: layout, tag: 'two' })).resolve(never()))?.digest).toBe(
      idx.indexDigest,
    );
  });
});

describe('regctl writes, skopeo and oci-image-tool read', () => {
  it('our docker-archive: skopeo inspects it (config digest equal) and copies it out whole', async () => {
    const out = join(tmp, 'ours-docker.tar');
    await transfer(
      await openOciLayoutSource({ path: img.dir }),
      await openDockerArchiveDestination({ path: out, name: 'ghcr.io/o/r:v1' }),
    );
    expect((await rawManifest(`docker-archive:${out}`)).config?.digest).toBe(img.configDigest);
    expect((await rawManifest(`docker-archive:${out}:ghcr.io/o/r:v1`)).config?.digest).toBe(img.configDigest);
    const back = join(tmp, 'ours-docker-out');
    await skopeo(['copy', `docker-archive:${out}`, `oci:${back}:x`]);
    // skopeo rewrote the manifest (decompressed layers); the image content, by diff IDs, is the same.
    const copied = await collect(await openOciLayoutSource({ path: back, tag: 'x' }));
    const cfg = copied.root.manifest.kind === 'image' ? copied.root.manifest.config.digest : '';
    const config = JSON.parse(await readFile(join(back, 'blobs', 'sha256', cfg.slice(7)), 'utf8'));
    expect(config.rootfs.diff_ids).toEqual(img.diffIds);
    // The OCI half of the hybrid: skopeo reads it as an oci-archive, digest preserved.
    expect((await skopeo(['inspect', '--format', '{{.Digest}}', `oci-archive:${out}:v1`])).stdout.trim()).toBe(
      img.manifestDigest,
    );
  });

  it('our docker-archive of a docker-typed image with no name: skopeo reads it', async () => {
    const dockerTyped = await makeImageLayout(join(tmp, 'fix-docker'), {
      layers: [1200],
      seed: 'dt',
      tag: 'd',
      mediaTypes: 'docker',
      gzipLevel: 1,
    });
    const out = join(tmp, 'ours-docker-unnamed.tar');
    await transfer(
      await openOciLayoutSource({ path: dockerTyped.dir }),
      await openDockerArchiveDestination({ path: out }),
    );
    expect((await rawManifest(`docker-archive:${out}`)).config?.digest).toBe(dockerTyped.configDigest);
    const src = await openDockerArchiveSource({ path: out });
    const m = await src.getManifest(undefined, never());
    expect(m.desc.digest).toBe(dockerTyped.manifestDigest);
    expect(m.desc.mediaType).toBe(MT.dockerManifest);
  });

  it('our oci layout (image + index): skopeo reads exact bytes and oci-image-tool validates it', async () => {
    const layout = join(tmp, 'ours-layout');
    await transfer(
      await openOciLayoutSource({ path: img.dir }),
      await openOciLayoutDestination({ path: layout, tag: 'img' }),
    );
    await transfer(
      await openOciLayoutSource({ path: idx.dir }),
      await openOciLayoutDestination({ path: layout, tag: 'idx' }),
    );
    const raw = (await skopeo(['inspect', '--raw', `oci:${layout}:img`])).stdout;
    expect(raw).toBe(await readFile(join(img.dir, 'blobs', 'sha256', img.manifestDigest.slice(7)), 'utf8'));
    expect((await rawManifest(`oci:${layout}:idx`)).manifests?.length).toBe(2);
    for (const ref of ['img', 'idx']) {
      const r = await run('oci-image-tool', ['validate', '--type', 'image', '--ref', `name=${ref}`, layout]);
      expect(r.stdout + r.stderr).toMatch(/Validation succeeded/);
    }
    await skopeo(['copy', '--all', `oci:${layout}:idx`, `oci:${join(tmp, 'relayout')}:idx`]);
  });

  it('our oci-archive: skopeo reads it by tag, digest equal', async () => {
    const out = join(tmp, 'ours-oci.tar');
    const dst = await openOciArchiveDestination({ path: out, tag: 'v2' });
    await transfer(await openOciLayoutSource({ path: img.dir }), dst);
    expect((await skopeo(['inspect', '--format', '{{.Digest}}', `oci-archive:${out}:v2`])).stdout.trim()).toBe(
      img.manifestDigest,
    );
    expect((await rawManifest(`oci-archive:${out}:v2`)).config?.digest).toBe(img.configDigest);
    const x = join(tmp, 'ours-oci-x');
    await run('mkdir', [x]);
    await run('tar', ['-xf', out, '-C', x]);
    const r = await run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=v2', x]);
    expect(r.stdout + r.stderr).toMatch(/Validation succeeded/);
    expect(dst.describe(img.manifestDigest as Digest)).toContain('oci-archive:');
  });
});
