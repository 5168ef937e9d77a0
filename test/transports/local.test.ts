// Local transports: round trips through oci, oci-archive and docker-archive destinations and sources, index.json
// upserts under concurrency, abort cleanliness, classic and Docker 25+ docker save layouts, hostile archives refused.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { verified } from '../../src/copy/verify.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../../src/copy/copy.js';
import { DigestError, RegctlError, UsageError } from '../../src/errors.js';
import type { Digest } from '../../src/oci/digest.js';
import { MT } from '../../src/oci/media-types.js';
import { toFetched } from '../../src/oci/manifest.js';
import { openDockerArchiveDestination, openDockerArchiveSource } from '../../src/transports/docker-archive.js';
import { openOciArchiveDestination, openOciArchiveSource } from '../../src/transports/oci-archive.js';
import {
  type OciLayoutDestination,
  openOciLayoutDestination,
  openOciLayoutSource,
} from '../../src/transports/oci-layout.js';
import { detectLocalKind, kindForWrite } from '../../src/transports/sniff.js';
import {
  makeImageLayout,
  makeIndexLayout,
  makeLayerTar,
  type ImageFixture,
  type IndexFixture,
} from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type TarItem, collect, makeTar, never, readAll, sameContent, transfer } from './local-helpers.js';

const run = promisify(execFile);
const sha = (b: Uint8Array): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;

let tmp: string;
let img: ImageFixture;
let img2: ImageFixture;
let idx: IndexFixture;

beforeAll(async () => {
  tmp = await makeTempDir('local');
  img = await makeImageLayout(join(tmp, 'fix-img'), { layers: [3000, 70_000], seed: 'img', tag: 't1', gzipLevel: 6 });
  img2 = await makeImageLayout(join(tmp, 'fix-img2'), {
    layers: [1000],
    seed: 'img2',
    tag: 't2',
    mediaTypes: 'docker',
  });
  idx = await makeIndexLayout(join(tmp, 'fix-idx'), {
    layers: [2000],
    seed: 'idx',
    tag: 'multi',
    platforms: ['linux/amd64', 'linux/arm64'],
  });
});
afterAll(async () => removeTempDir(tmp));

async function index(
  dir: string,
): Promise<{ manifests: Array<{ digest: string; annotations?: Record<string, string> }> }> {
  return JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
}

async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.includes('.tmp-') || n.includes('.staging-'));
}

describe('oci layout destination and source', () => {
  it('round-trips an image: manifest bytes, digests and blob bytes equal', async () => {
    const out = join(tmp, 'rt-oci');
    const src = await openOciLayoutSource({ path: img.dir, tag: 't1' });
    const dst = await openOciLayoutDestination({ path: out });
    const root = await transfer(src, dst, { tag: 'copy' });
    expect(root.desc.digest).toBe(img.manifestDigest);
    expect(dst.describe(root.desc.digest)).toBe(`oci:${out}:copy@${img.manifestDigest}`);
    const back = await openOciLayoutSource({ path: out, tag: 'copy' });
    expect(await back.resolve(never())).toMatchObject({ digest: img.manifestDigest, size: img.manifestSize });
    await sameContent(src, back);
    expect(await readFile(join(out, 'oci-layout'), 'utf8')).toContain('imageLayoutVersion');
    expect(await leftovers(join(out, 'blobs', 'sha256'))).toEqual([]);
  });

  it('keeps an OCI index byte-exact, children included', async () => {
    const out = join(tmp, 'rt-idx');
    const src = await openOciLayoutSource({ path: idx.dir });
    const root = await transfer(src, await openOciLayoutDestination({ path: out, tag: 'multi' }));
    expect(root.desc.digest).toBe(idx.indexDigest);
    const back = await openOciLayoutSource({ path: out, tag: 'multi' });
    const got = await back.getManifest(undefined, never());
    expect(Buffer.from(got.bytes)).toEqual(await readFile(join(idx.dir, 'blobs', 'sha256', idx.indexDigest.slice(7))));
    await sameContent(src, back);
  });

  it('two writers of one new layout: the first renames its staging into place, the second merges into it', async () => {
    const out = join(tmp, 'racing');
    const [d1, d2] = [
      await openOciLayoutDestination({ path: out, tag: 'a' }),
      await openOciLayoutDestination({ path: out, tag: 'b' }),
    ];
    await transfer(await openOciLayoutSource({ path: img.dir }), d1);
    await transfer(await openOciLayoutSource({ path: img2.dir }), d2);
    expect((await index(out)).manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'])).toEqual([
      'a',
      'b',
    ]);
    await sameContent(
      await openOciLayoutSource({ path: img2.dir }),
      await openOciLayoutSource({ path: out, tag: 'b' }),
    );
    await sameContent(await openOciLayoutSource({ path: img.dir }), await openOciLayoutSource({ path: out, tag: 'a' }));
    expect((await readdir(tmp)).filter((n) => n.startsWith('.racing'))).toEqual([]);
  });

  it('holds several images; a source without a tag names the tags it has', async () => {
    const out = join(tmp, 'several');
    await transfer(
      await openOciLayoutSource({ path: img.dir }),
      await openOciLayoutDestination({ path: out, tag: 'a' }),
    );
    await transfer(
      await openOciLayoutSource({ path: img2.dir }),
      await openOciLayoutDestination({ path: out, tag: 'b' }),
    );
    expect((await index(out)).manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'])).toEqual([
      'a',
      'b',
    ]);
    expect((await (await openOciLayoutSource({ path: out, tag: 'b' })).resolve(never()))?.digest).toBe(
      img2.manifestDigest,
    );
    const byDigest = await openOciLayoutSource({ path: out, digest: img.manifestDigest as Digest });
    expect((await byDigest.resolve(never()))?.digest).toBe(img.manifestDigest);
    const any = await openOciLayoutSource({ path: out });
    await expect(any.resolve(never())).rejects.toThrow(/holds 2 images.*tags: a, b/);
    const missing = await openOciLayoutSource({ path: out, tag: 'zzz' });
    await expect(missing.resolve(never())).rejects.toThrow(/no image tagged "zzz" \(tags: a, b\)/);
  });

  it('re-committing a tag replaces its entry: no duplicates, other entries kept', async () => {
    const out = join(tmp, 'recommit');
    await transfer(
      await openOciLayoutSource({ path: img.dir }),
      await openOciLayoutDestination({ path: out, tag: 'x' }),
    );
    await transfer(
      await openOciLayoutSource({ path: img2.dir }),
      await openOciLayoutDestination({ path: out, tag: 'keep' }),
    );
    await transfer(
      await openOciLayoutSource({ path: img.dir }),
      await openOciLayoutDestination({ path: out, tag: 'x' }),
    );
    await transfer(
      await openOciLayoutSource({ path: img2.dir }),
      await openOciLayoutDestination({ path: out, tag: 'x' }),
    );
    const entries = (await index(out)).manifests;
    expect(entries.map((m) => [m.annotations?.['org.opencontainers.image.ref.name'], m.digest])).toEqual([
      ['keep', img2.manifestDigest],
      ['x', img2.manifestDigest],
    ]);
    const dst = await openOciLayoutDestination({ path: out, tag: 'x' });
    expect((await dst.resolve(never()))?.digest).toBe(img2.manifestDigest);
  });

  it('two destinations in one process writing one layout at once lose no entry', async () => {
    const out = join(tmp, 'concurrent');
    const tags = Array.from({ length: 8 }, (_, i) => `c${i}`);
    await Promise.all(
      tags.map(async (t, i) =>
        transfer(
          await openOciLayoutSource({ path: i % 2 ? img.dir : img2.dir }),
          await openOciLayoutDestination({ path: out, tag: t }),
        ),
      ),
    );
    const names = (await index(out)).manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']);
    expect(names.sort()).toEqual(tags);
    expect(await readdir(out)).not.toContain('index.json.lock');
  });

  it('two processes committing into one layout at once lose no entry', async () => {
    // The processes run the built layout module from dist/ (`npm run build` comes before the tests, as for bin/regctl).
    const build = join(process.cwd(), 'dist');
    const out = join(tmp, 'procs');
    const layoutModule = JSON.stringify(join(build, 'transports', 'oci-layout.js'));
    const script = `
      const { openOciLayoutDestination, openOciLayoutSource } = await import(${layoutModule});
      const { blobsOf } = await import(${JSON.stringify(join(build, 'oci', 'manifest.js'))});
      const signal = new AbortController().signal;
      const [, dir, from, prefix] = process.argv;
      const src = await openOciLayoutSource({ path: from });
      const root = await src.getManifest(undefined, signal);
      for (let i = 0; i < 10; i++) {
        const dst = await openOciLayoutDestination({ path: dir, tag: prefix + i });
        for (const b of blobsOf(root.manifest)) await dst.putBlob(b, () => src.getBlob(b, { signal }), signal);
        await dst.putManifest(root, undefined, signal);
        await dst.commit(signal);
      }`;
    await Promise.all(
      ['p', 'q', 'r'].map((p, i) =>
        run(process.execPath, ['--input-type=module', '-e', script, out, i % 2 ? img.dir : img2.dir, p]),
      ),
    );
    const names = (await index(out)).manifests.map(
      (m) => m.annotations?.['org.opencontainers.image.ref.name'] as string,
    );
    expect(names.length).toBe(30);
    expect(new Set(names).size).toBe(30);
  });

  it('bytes that fail verification leave no blob and no temp; sizes are checked on write', async () => {
    const out = join(tmp, 'badblob');
    const dst = await openOciLayoutDestination({ path: out });
    const bytes = Buffer.from('not what the digest says');
    const desc = { mediaType: MT.ociLayer, digest: sha(Buffer.from('other')), size: bytes.length };
    // The interface's contract: callers hand over verified() bytes (the engine always does).
    await expect(
      dst.putBlob(
        desc,
        async () =>
          verified(
            (async function* () {
              yield bytes;
            })(),
            desc,
          ),
        never(),
      ),
    ).rejects.toBeInstanceOf(DigestError);
    const long = { ...desc, size: 3 };
    await expect(dst.putBlob(long, async () => [bytes], never())).rejects.toThrow(/more than/);
    // A new layout is staged beside its path until commit: nothing is at the path yet.
    expect(await readdir(join((dst as OciLayoutDestination).dir, 'blobs', 'sha256'))).toEqual([]);
    expect(await readdir(out).catch(() => 'missing')).toBe('missing');
    const m = toFetched(Buffer.from('{"schemaVersion":2,"manifests":[]}'), MT.ociIndex);
    await expect(
      dst.putManifest({ ...m, desc: { ...m.desc, digest: sha(Buffer.from('x')) } }, 't', never()),
    ).rejects.toBeInstanceOf(DigestError);
  });

  it('refuses a non-empty directory that is not a layout, and a layout with hostile digests', async () => {
    const notLayout = join(tmp, 'notlayout');
    await mkdir(notLayout);
    await writeFile(join(notLayout, 'important.txt'), 'x');
    await expect(openOciLayoutDestination({ path: notLayout })).rejects.toBeInstanceOf(UsageError);
    const evil = join(tmp, 'evil-layout');
    await mkdir(evil);
    await writeFile(join(evil, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(
      join(evil, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: MT.ociManifest, digest: 'sha256:../../etc/passwd', size: 1 }],
      }),
    );
    const src = await openOciLayoutSource({ path: evil });
    await expect(src.resolve(never())).rejects.toBeInstanceOf(RegctlError);
    await expect(
      src.getBlob(
        { mediaType: MT.ociLayer, digest: 'sha256:../../../etc/passwd' as Digest, size: 1 },
        { signal: never() },
      ),
    ).rejects.toBeInstanceOf(RegctlError);
  });
});

describe('oci-archive', () => {
  it('round-trips an image and an index through an archive, byte-exact', async () => {
    for (const [fix, tag, digest] of [
      [img.dir, 'one', img.manifestDigest],
      [idx.dir, 'multi', idx.indexDigest],
    ] as const) {
      const out = join(tmp, `rt-${tag}.tar`);
      const src = await openOciLayoutSource({ path: fix });
      const dst = await openOciArchiveDestination({ path: out, tag });
      await transfer(src, dst);
      expect(dst.describe(digest as Digest)).toBe(`oci-archive:${out}:${tag}@${digest}`);
      const back = await openOciArchiveSource({ path: out, tag });
      expect((await back.resolve(never()))?.digest).toBe(digest);
      await sameContent(src, back);
      expect(await detectLocalKind(out)).toBe('oci-archive');
    }
    expect(await leftovers(tmp)).toEqual([]);
  });

  it('packs deterministically: the same image gives the same archive bytes', async () => {
    const a = join(tmp, 'det-a.tar');
    const b = join(tmp, 'det-b.tar');
    await transfer(
      await openOciLayoutSource({ path: img.dir }),
      await openOciArchiveDestination({ path: a, tag: 'd' }),
    );
    await transfer(
      await openOciLayoutSource({ path: img.dir }),
      await openOciArchiveDestination({ path: b, tag: 'd' }),
    );
    expect(sha(await readFile(a))).toBe(sha(await readFile(b)));
  });

  it('abort leaves nothing at the output path and no staging beside it', async () => {
    const dir = join(tmp, 'abort');
    const out = join(dir, 'out.tar');
    const src = await openOciLayoutSource({ path: img.dir });
    for (const open of [
      () => openOciArchiveDestination({ path: out, tag: 'x' }),
      () => openDockerArchiveDestination({ path: out }),
    ]) {
      const dst = await open();
      const { blobs } = await collect(src);
      await dst.putBlob(blobs[0], async () => src.getBlob(blobs[0], { signal: never() }), never());
      await dst.abort();
      await dst.abort();
      expect(await readdir(dir)).toEqual([]);
    }
  });

  it('a failed commit (aborted signal) leaves nothing at the output path', async () => {
    const dir = join(tmp, 'abort2');
    const out = join(dir, 'out.tar');
    const src = await openOciLayoutSource({ path: img.dir });
    const dst = await openOciArchiveDestination({ path: out, tag: 'x' });
    const { root, blobs } = await collect(src);
    for (const b of blobs) await dst.putBlob(b, async () => src.getBlob(b, { signal: never() }), never());
    await dst.putManifest(root, undefined, never());
    const ac = new AbortController();
    ac.abort();
    await expect(dst.commit(ac.signal)).rejects.toBeDefined();
    await dst.abort();
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('docker-archive', () => {
  it('writes a hybrid (OCI layout + manifest.json + repositories) and reads it back with the digest kept', async () => {
    const out = join(tmp, 'hybrid.tar');
    const src = await openOciLayoutSource({ path: img.dir });
    const dst = await openDockerArchiveDestination({ path: out }, { defaultName: 'docker.io/library/alpine:3.20' });
    expect(dst.caps).toEqual({ concurrentWrites: true, maxPlatforms: 1, keepsIndex: false });
    await transfer(src, dst, { tag: 'ignored' });
    expect(dst.describe(img.manifestDigest as Digest)).toBe(`docker-archive:${out}:alpine:3.20@${img.manifestDigest}`);
    const list = (await run('tar', ['-tf', out])).stdout.trim().split('\n');
    expect(list.slice(-4)).toEqual(['index.json', 'manifest.json', 'oci-layout', 'repositories']);
    const x = join(tmp, 'hybrid-x');
    await mkdir(x);
    await run('tar', ['-xf', out, '-C', x]);
    const mj = JSON.parse(await readFile(join(x, 'manifest.json'), 'utf8'));
    expect(mj).toEqual([
      {
        Config: `blobs/sha256/${img.configDigest.slice(7)}`,
        RepoTags: ['alpine:3.20'],
        Layers: img.layerDigests.map((d) => `blobs/sha256/${d.slice(7)}`),
      },
    ]);
    expect(JSON.parse(await readFile(join(x, 'repositories'), 'utf8'))).toEqual({
      alpine: { '3.20': img.layerDigests[1].slice(7) },
    });
    expect((await index(x)).manifests[0].annotations).toEqual({
      'io.containerd.image.name': 'docker.io/library/alpine:3.20',
      'org.opencontainers.image.ref.name': '3.20',
    });
    const back = await openDockerArchiveSource({ path: out, name: 'alpine:3.20' });
    expect((await back.resolve(never()))?.digest).toBe(img.manifestDigest);
    await sameContent(src, back);
    expect(await detectLocalKind(out)).toBe('docker-archive');
    await expect(openDockerArchiveSource({ path: out, name: 'other:1' })).rejects.toThrow(
      /no image named other:1 \(it has: alpine:3.20\)/,
    );
  });

  it('refuses an index: a docker-archive holds one image', async () => {
    const dst = await openDockerArchiveDestination({ path: join(tmp, 'idx.tar'), name: 'x/y:z' });
    const src = await openOciLayoutSource({ path: idx.dir });
    await expect(dst.putManifest(await src.getManifest(undefined, never()), undefined, never())).rejects.toThrow(
      /one image/,
    );
    await dst.abort();
  });

  it('reads a classic docker save: uncompressed layers, synthesised Docker v2 manifest, deterministic', async () => {
    const dir = join(tmp, 'classic');
    const layers = [makeLayerTar('a.bin', 1500, 'c1'), makeLayerTar('b.bin', 900, 'c2')];
    const gz = gzipSync(makeLayerTar('c.bin', 100, 'c3'));
    const diffIds = [sha(layers[0]), sha(layers[1]), sha(makeLayerTar('c.bin', 100, 'c3'))];
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } }),
    );
    const cfgHex = sha(config).slice(7);
    await mkdir(join(dir, 'l1'), { recursive: true });
    await mkdir(join(dir, 'l2'));
    await mkdir(join(dir, 'l3'));
    await mkdir(join(dir, 'dup'));
    await writeFile(join(dir, 'l1', 'layer.tar'), layers[0]);
    await writeFile(join(dir, 'l2', 'layer.tar'), layers[1]);
    await writeFile(join(dir, 'l3', 'layer.tar'), gz);
    await symlink('../l1/layer.tar', join(dir, 'dup', 'layer.tar'));
    await writeFile(join(dir, `${cfgHex}.json`), config);
    const items = [
      {
        Config: `${cfgHex}.json`,
        RepoTags: ['busybox:latest', 'ghcr.io/o/r:t'],
        Layers: ['l1/layer.tar', 'l2/layer.tar', 'l3/layer.tar'],
      },
      { Config: `${cfgHex}.json`, RepoTags: ['other:1'], Layers: ['dup/layer.tar'] },
    ];
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(items));
    await writeFile(join(dir, 'repositories'), '{}');
    const out = join(tmp, 'classic.tar');
    await run('tar', ['-cf', out, '-C', dir, '.']);
    const src = await openDockerArchiveSource({ path: out, name: 'docker.io/library/busybox' });
    const m = await src.getManifest(undefined, never());
    expect(m.manifest).toMatchObject({
      kind: 'image',
      mediaType: MT.dockerManifest,
      config: { mediaType: MT.dockerConfig, digest: sha(config), size: config.length },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: diffIds[0], size: layers[0].length },
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: diffIds[1], size: layers[1].length },
        { mediaType: MT.dockerLayerGzip, digest: sha(gz), size: gz.length },
      ],
    });
    const again = await (
      await openDockerArchiveSource({ path: out, name: 'busybox:latest' })
    ).getManifest(undefined, never());
    expect(again.desc.digest).toBe(m.desc.digest);
    const { blobs } = await collect(src);
    const bytes = await readAll(await src.getBlob(blobs[1], { signal: never() }));
    expect(sha(bytes)).toBe(diffIds[0]);
    expect(sha(await readAll(await src.getBlob(blobs[1], { offset: 1000, signal: never() })))).toBe(
      sha(layers[0].subarray(1000)),
    );
    const viaLink = await openDockerArchiveSource({ path: out, name: 'other:1' });
    expect((await viaLink.getManifest(undefined, never())).manifest).toMatchObject({
      layers: [{ digest: diffIds[0] }],
    });
    expect((await (await openDockerArchiveSource({ path: out, name: 'ghcr.io/o/r:t' })).resolve(never()))?.digest).toBe(
      m.desc.digest,
    );
    await expect(openDockerArchiveSource({ path: out })).rejects.toThrow(
      /holds 2 images.*busybox:latest, ghcr.io\/o\/r:t, other:1/,
    );
  });

  it('reads a Docker 25+ save (OCI layout inside, legacy dirs as symlinks) with the registry digest preserved', async () => {
    const dir = join(tmp, 'd25');
    await run('cp', ['-r', img.dir, dir]);
    const layerDirs = img.layerDigests.map((d) => d.slice(7));
    for (const h of layerDirs) {
      await mkdir(join(dir, h));
      await symlink(`../blobs/sha256/${h}`, join(dir, h, 'layer.tar'));
    }
    const items = [
      {
        Config: `blobs/sha256/${img.configDigest.slice(7)}`,
        RepoTags: ['d25:v1'],
        Layers: layerDirs.map((h) => `${h}/layer.tar`),
      },
    ];
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(items));
    const out = join(tmp, 'd25.tar');
    await run('tar', ['-cf', out, '-C', dir, '.']);
    const src = await openDockerArchiveSource({ path: out });
    expect((await src.resolve(never()))?.digest).toBe(img.manifestDigest);
    await sameContent(await openOciLayoutSource({ path: img.dir }), src);
  });
});

describe('sniffing bare paths', () => {
  it('detects an OCI layout directory and refuses what is no image', async () => {
    expect(await detectLocalKind(img.dir)).toBe('oci');
    await expect(detectLocalKind(tmp)).rejects.toBeInstanceOf(UsageError);
    await expect(detectLocalKind(join(tmp, 'nope'))).rejects.toBeInstanceOf(UsageError);
    const junk = join(tmp, 'junk.bin');
    await writeFile(join(tmp, 'junk.bin'), Buffer.alloc(2048, 7));
    await expect(detectLocalKind(junk)).rejects.toThrow(/not a docker-archive, oci-archive or OCI layout/);
    expect(kindForWrite('./x.tar')).toBe('docker-archive');
    expect(kindForWrite('./X.TAR')).toBe('docker-archive');
    expect(kindForWrite('./layout')).toBe('oci');
    expect((await stat(img.dir)).isDirectory()).toBe(true);
  });
});

describe('hostile archives are refused with a RegctlError, never read outside the archive', () => {
  const manifestJson = JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l/layer.tar'] }]);
  const cases: Array<[string, TarItem[], { truncateBy?: number }?]> = [
    [
      'an absolute entry name',
      [
        { name: 'manifest.json', body: manifestJson },
        { name: '/etc/passwd', body: 'x' },
      ],
    ],
    [
      'a .. entry name',
      [
        { name: 'manifest.json', body: manifestJson },
        { name: 'ok/../../up', body: 'x' },
      ],
    ],
    [
      'a pax long path escaping',
      [
        { name: 'manifest.json', body: manifestJson },
        { name: `${'d'.repeat(120)}/../../../${'e'.repeat(40)}`, body: 'x' },
      ],
    ],
    [
      'a symlink escaping the root',
      [
        { name: 'manifest.json', body: manifestJson },
        { name: 'l', type: 'symlink', linkname: '../../etc' },
      ],
    ],
    [
      'an absolute symlink',
      [
        { name: 'manifest.json', body: manifestJson },
        { name: 'l/layer.tar', type: 'symlink', linkname: '/etc/passwd' },
      ],
    ],
    [
      'a hard link escaping',
      [
        { name: 'manifest.json', body: manifestJson },
        { name: 'h', type: 'link', linkname: '../outside' },
      ],
    ],
    [
      'a truncated tar',
      [
        { name: 'manifest.json', body: manifestJson },
        { name: 'big', body: Buffer.alloc(4000, 1) },
      ],
      { truncateBy: 1024 + 2000 },
    ],
    ['a manifest.json over 4 MiB', [{ name: 'manifest.json', body: Buffer.alloc(4 * 1024 * 1024 + 1, 0x20) }]],
    [
      'a Config path escaping',
      [{ name: 'manifest.json', body: JSON.stringify([{ Config: '../../etc/passwd', RepoTags: [], Layers: [] }]) }],
    ],
    [
      'a Config path absolute',
      [{ name: 'manifest.json', body: JSON.stringify([{ Config: '/etc/passwd', RepoTags: [], Layers: [] }]) }],
    ],
    [
      'a layer path escaping',
      [
        {
          name: 'manifest.json',
          body: JSON.stringify([{ Config: 'c.json', RepoTags: [], Layers: ['../../x/layer.tar'] }]),
        },
        { name: 'c.json', body: '{}' },
      ],
    ],
    ['manifest.json not a list', [{ name: 'manifest.json', body: '{"Config":1}' }]],
  ];
  it.each(cases)('docker-archive with %s', async (_what, items, opts) => {
    const path = join(tmp, `hostile-${Math.random().toString(36).slice(2)}.tar`);
    await makeTar(path, items, opts);
    const err = await openDockerArchiveSource({ path }).then(
      async (src) =>
        src.resolve(never()).then(
          () => undefined,
          (e: unknown) => e,
        ),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RegctlError);
    expect((err as RegctlError).exitCode).toBe(2);
    expect(['UNSAFE_PATH', 'TAR_INVALID', 'TOO_LARGE']).toContain((err as RegctlError).code);
  });

  it('a GNU long name (L) with .. is refused', async () => {
    const path = join(tmp, 'gnu-long.tar');
    const long = Buffer.from(`${'z'.repeat(120)}/../../../evil\0`);
    const block = (name: string, size: number, flag: string): Buffer => {
      const h = Buffer.alloc(512);
      h.write(name, 0);
      h.write('0000644\0', 100);
      h.write('0000000\0', 108);
      h.write('0000000\0', 116);
      h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
      h.write('00000000000\0', 136);
      h.write(flag, 156);
      h.write('ustar  \0', 257);
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (const b of h) sum += b;
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
      return h;
    };
    const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);
    await writeFile(
      path,
      Buffer.concat([
        block('././@LongLink', long.length, 'L'),
        long,
        pad(long.length),
        block('short', 1, '0'),
        Buffer.from('x'),
        pad(1),
        Buffer.alloc(1024),
      ]),
    );
    await expect(openDockerArchiveSource({ path })).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
  });

  it('an oci-archive whose index.json holds a malformed digest', async () => {
    const path = join(tmp, 'bad-digest.tar');
    const index = {
      schemaVersion: 2,
      manifests: [{ mediaType: MT.ociManifest, digest: 'sha256:../../../etc/passwd', size: 10 }],
    };
    await makeTar(path, [
      { name: 'oci-layout', body: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'index.json', body: JSON.stringify(index) },
    ]);
    const src = await openOciArchiveSource({ path });
    await expect(src.resolve(never())).rejects.toThrow(/invalid digest/);
    const short = { schemaVersion: 2, manifests: [{ mediaType: MT.ociManifest, digest: 'sha256:abcd', size: 10 }] };
    await makeTar(path, [
      { name: 'oci-layout', body: '{}' },
      { name: 'index.json', body: JSON.stringify(short) },
    ]);
    await expect((await openOciArchiveSource({ path })).resolve(never())).rejects.toBeInstanceOf(RegctlError);
  });

  it('a manifest or layer whose bytes do not match its digest fails verification', async () => {
    const dir = join(tmp, 'tampered');
    await run('cp', ['-r', img.dir, dir]);
    const layerPath = join(dir, 'blobs', 'sha256', img.layerDigests[0].slice(7));
    const bytes = await readFile(layerPath);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(layerPath, bytes);
    const out = join(tmp, 'tampered.tar');
    await run('tar', ['-cf', out, '-C', dir, '.']);
    const src = await openOciArchiveSource({ path: out, tag: 't1' });
    await expect(
      transfer(src, await openOciLayoutDestination({ path: join(tmp, 'tampered-out') })),
    ).rejects.toBeInstanceOf(DigestError);
    const mPath = join(dir, 'blobs', 'sha256', img.manifestDigest.slice(7));
    await writeFile(mPath, Buffer.concat([await readFile(mPath), Buffer.from(' ')]));
    await run('tar', ['-cf', `${out}2`, '-C', dir, '.']);
    // Through the copy engine: the failure aborts the destination and nothing is left at the output path.
    const dest = join(tmp, 'tampered-dest');
    await mkdir(dest);
    for (const open of [
      () => openDockerArchiveDestination({ path: join(dest, 'o.tar') }),
      () => openOciArchiveDestination({ path: join(dest, 'p.tar') }),
    ]) {
      const copy = copyImage(await openOciArchiveSource({ path: out, tag: 't1' }), await open(), {
        jobs: 4,
        signal: never(),
      });
      await expect(copy).rejects.toBeInstanceOf(DigestError);
    }
    expect(await readdir(dest)).toEqual([]);
    const src2 = await openOciArchiveSource({ path: `${out}2`, tag: 't1' });
    await expect(src2.getManifest(undefined, never())).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });
});
