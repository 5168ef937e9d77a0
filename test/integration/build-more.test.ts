// regctl build over a multi-platform base, COPY --from another image (whiteouts applied), --chown names, --target; and
// regctl mutate: a new config and manifest over the same layers, every child of an index.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTree, makeContext, makeWhiteoutLayout, run } from '../support/build-fixtures.js';
import type { FaultProxy } from '../support/fault-proxy.js';
import { type IndexFixture, makeImageLayout, makeIndexLayout, seedImage } from '../support/images.js';
import type { RegistryHandle } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';
import { type ProxiedRegistry, startProxiedRegistry } from '../support/proxied.js';

let reg: RegistryHandle;
let proxy: FaultProxy;
let env: ProxiedRegistry;
let work: string;
let ctxDir: string;
let multi: IndexFixture;
let whiteout: string;
let R: string;

const INDEX = 'application/vnd.oci.image.index.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

async function manifestOf(repo: string, ref: string): Promise<Record<string, any>> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers: { accept: `${INDEX}, ${MANIFEST}` } });
  expect(res.status).toBe(200);
  return res.json() as Promise<Record<string, any>>;
}

async function configOf(repo: string, m: Record<string, any>): Promise<Record<string, any>> {
  return (await fetch(`${reg.url}/v2/${repo}/blobs/${m.config.digest}`)).json() as Promise<Record<string, any>>;
}

async function buildWith(dockerfile: string, args: string[]) {
  await writeFile(join(ctxDir, 'Dockerfile'), dockerfile);
  // One user cache for the file: base layers' directory indexes are kept there between builds.
  return runCli(['build', ...args, ctxDir], { env: { XDG_CACHE_HOME: join(work, 'cache') } });
}

/** The rootfs of a registry image, unpacked by umoci. */
async function unpack(ref: string, name: string) {
  const layout = join(work, `${name}-layout`);
  const r = await runCli(['copy', ref, `oci:${layout}:x`]);
  expect(r.code).toBe(0);
  await run('umoci', ['unpack', '--image', `${layout}:x`, join(work, `${name}-bundle`)]);
  return listTree(join(work, `${name}-bundle`, 'rootfs'));
}

beforeAll(async () => {
  env = await startProxiedRegistry('build-more');
  ({ work, reg, proxy } = env);
  R = proxy.host;
  ctxDir = join(work, 'ctx');
  await makeContext(ctxDir);
  whiteout = join(work, 'wh');
  await makeWhiteoutLayout(whiteout);
  multi = await makeIndexLayout(join(work, 'multi'), {
    platforms: ['linux/amd64', 'linux/arm64'],
    layers: [90_000, 40_000],
    seed: 'build-multi',
    tag: 'v1',
  });
  await seedImage(`oci:${multi.dir}:v1`, `${reg.host}/base/multi:v1`, { all: true });
});

afterAll(async () => {
  await env?.stop();
});

describe('regctl build, multi-platform', () => {
  it('--platform all over a 2-platform base writes a 2-platform index, each image over its own base, base layers read once (indexed)', async () => {
    proxy.reset();
    const dockerfile = `FROM ${R}/base/multi:v1\nARG TARGETARCH\nENV ARCH=$TARGETARCH\nCOPY app/ /app/\n`;
    const r = await buildWith(dockerfile, ['--platform', 'all', '-t', `${R}/built/multi:v1`]);
    expect(r.stderr).not.toMatch(/regctl:/);
    expect(r.code).toBe(0);
    const idx = await manifestOf('built/multi', 'v1');
    expect(idx.mediaType).toBe(INDEX);
    expect(idx.manifests.map((m: any) => `${m.platform.os}/${m.platform.architecture}`)).toEqual([
      'linux/amd64',
      'linux/arm64',
    ]);
    const newLayers = new Set<string>();
    for (const [i, entry] of idx.manifests.entries()) {
      const child = await manifestOf('built/multi', entry.digest);
      const baseChild = multi.images[i];
      expect(child.layers.slice(0, 2).map((l: any) => l.digest)).toEqual(baseChild.layerDigests);
      expect(child.layers).toHaveLength(3);
      newLayers.add(child.layers[2].digest);
      const cfg = await configOf('built/multi', child);
      expect(cfg.architecture).toBe(baseChild.platform.architecture);
      expect(cfg.config.Env).toContain(`ARCH=${baseChild.platform.architecture}`);
    }
    expect(newLayers.size).toBe(1);
    const baseLayers = new Set(multi.images.flatMap((i) => i.layerDigests));
    // Each base layer was read once, to index its directories (COPY needs to know what /app's parents are).
    for (const d of baseLayers) expect(proxy.count((q) => q.kind === 'blob-get' && q.ref === d)).toBe(1);
    expect(r.stderr).toMatch(/base layers read once to index their directories \(kept in the cache\): 4 /);
    expect(proxy.count((q) => q.kind === 'mount' && baseLayers.has(q.ref ?? ''))).toBe(baseLayers.size);
    // A later build over the same base reads no base layer: the indexes are in the user's cache.
    proxy.reset();
    const again = await buildWith(dockerfile.replace('/app/', '/app2/'), [
      '--platform',
      'all',
      '-t',
      `${R}/built/multi:v2`,
    ]);
    expect(again.code).toBe(0);
    expect(proxy.count((q) => q.kind === 'blob-get' && baseLayers.has(q.ref ?? ''))).toBe(0);
    expect(again.stderr).not.toMatch(/read once to index/);
  });

  it('one --platform builds that platform’s single image; a platform the base lacks is refused with exit 2', async () => {
    const arm = await buildWith(`FROM ${R}/base/multi:v1\nCOPY notes.txt /\n`, [
      '--platform',
      'linux/arm64',
      '-t',
      `${R}/built/arm:v1`,
    ]);
    expect(arm.code).toBe(0);
    const m = await manifestOf('built/arm', 'v1');
    expect(m.mediaType).toBe(MANIFEST);
    expect((await configOf('built/arm', m)).architecture).toBe('arm64');
    const bad = await buildWith(`FROM ${R}/base/multi:v1\nCOPY notes.txt /\n`, [
      '--platform',
      'linux/s390x',
      '-t',
      `${R}/built/bad:v1`,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/has no image for linux\/s390x \(it has: linux\/amd64, linux\/arm64\)/);
  });
});

describe('regctl build, stages and other images', () => {
  it('COPY --from an image takes its files with whiteouts and opaque directories applied; --chown names come from /etc/passwd', async () => {
    const r = await buildWith(
      `FROM wh AS users\nCOPY --chown=app:staff notes.txt /home/app/\nFROM scratch\n` +
        `COPY --from=wh /data /data\nCOPY --from=users /home/app/notes.txt /notes.txt\n`,
      ['--build-context', `wh=oci:${whiteout}:v1`, '-t', `${R}/built/from:v1`],
    );
    expect(r.stderr).not.toMatch(/regctl:/);
    expect(r.code).toBe(0);
    const tree = await unpack(`${reg.host}/built/from:v1`, 'from');
    expect([...tree.keys()].sort()).toEqual(['data', 'data/keep.txt', 'data/old', 'data/old/fresh.txt', 'notes.txt']);
    expect(tree.get('data/old/fresh.txt')?.uid).toBe(7);
    expect(tree.get('notes.txt')).toMatchObject({ uid: 1234, gid: 50 });
  });

  it('over a Docker-typed base writes a Docker-typed image (manifest, config and new layers)', async () => {
    const d = await makeImageLayout(join(work, 'docker'), {
      layers: [30_000],
      seed: 'build-docker',
      tag: 'v1',
      mediaTypes: 'docker',
    });
    await seedImage(`oci:${d.dir}:v1`, `${reg.host}/base/docker:v1`);
    const r = await buildWith(`FROM ${R}/base/docker:v1\nCOPY notes.txt /\n`, ['-t', `${R}/built/docker:v1`]);
    expect(r.code).toBe(0);
    const res = await fetch(`${reg.url}/v2/built/docker/manifests/v1`, {
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    const m = (await res.json()) as Record<string, any>;
    expect(m.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(m.config.mediaType).toBe('application/vnd.docker.container.image.v1+json');
    expect(m.layers.map((l: any) => l.mediaType)).toEqual(
      Array(2).fill('application/vnd.docker.image.rootfs.diff.tar.gzip'),
    );
    expect(m.layers[0].digest).toBe(d.layerDigests[0]);
  });

  it('--target builds an earlier stage, and a stage never needed is never checked', async () => {
    const r = await buildWith('FROM scratch AS first\nCOPY notes.txt /\nFROM scratch\nRUN make\n', [
      '--target',
      'first',
      '-t',
      `${R}/built/target:v1`,
    ]);
    expect(r.code).toBe(0);
    const m = await manifestOf('built/target', 'v1');
    expect(m.layers).toHaveLength(1);
  });
});

describe('regctl mutate', () => {
  it('writes a new config and manifest over the same layers, moving no layer', async () => {
    const b = await buildWith(`FROM ${R}/base/multi:v1\nCOPY app/ /app/\nCMD ["/app/run.sh"]\n`, [
      '--platform',
      'linux/amd64',
      '-t',
      `${R}/mut/app:v1`,
    ]);
    expect(b.code).toBe(0);
    const before = await manifestOf('mut/app', 'v1');
    proxy.reset();
    const r = await runCli([
      'mutate',
      `${R}/mut/app:v1`,
      '-t',
      `${R}/mut/app:v2`,
      '--label',
      'stage=prod',
      '--env',
      'MODE=fast',
      '--entrypoint',
      '["/app/run.sh"]',
      '--cmd',
      '["--port", "80"]',
      '--workdir',
      '/app',
      '--user',
      '1000',
      '--annotation',
      'org.example.note=mutated',
    ]);
    expect(r.stderr).not.toMatch(/regctl:/);
    expect(r.code).toBe(0);
    const after = await manifestOf('mut/app', 'v2');
    expect(r.stdout.trim()).toMatch(new RegExp(`^${R}/mut/app:v2@sha256:`));
    expect(after.layers).toEqual(before.layers);
    expect(after.annotations).toEqual({ 'org.example.note': 'mutated' });
    const cfg = await configOf('mut/app', after);
    expect(cfg.config).toMatchObject({
      Entrypoint: ['/app/run.sh'],
      Cmd: ['--port', '80'],
      WorkingDir: '/app',
      User: '1000',
    });
    expect(cfg.config.Labels.stage).toBe('prod');
    expect(cfg.config.Env).toContain('MODE=fast');
    expect(cfg.rootfs).toEqual((await configOf('mut/app', before)).rootfs);
    const layers = new Set(before.layers.map((l: any) => l.digest));
    expect(proxy.count((q) => (q.kind === 'blob-get' || q.kind === 'mount') && layers.has(q.ref ?? ''))).toBe(0);
    expect(proxy.stats.filter((q) => q.kind === 'upload' && q.query.includes('digest=')).length).toBe(1);
  });

  it('on an index, gives every child a new config and writes a new index', async () => {
    const before = await manifestOf('built/multi', 'v1');
    const r = await runCli(['mutate', `${R}/built/multi:v1`, '--label', 'mutated=yes']);
    expect(r.code).toBe(0);
    const after = await manifestOf('built/multi', 'v1');
    expect(after.mediaType).toBe(INDEX);
    expect(after.manifests.map((m: any) => m.platform)).toEqual(before.manifests.map((m: any) => m.platform));
    for (const [i, entry] of after.manifests.entries()) {
      expect(entry.digest).not.toBe(before.manifests[i].digest);
      const [child, old] = [
        await manifestOf('built/multi', entry.digest),
        await manifestOf('built/multi', before.manifests[i].digest),
      ];
      expect(child.layers).toEqual(old.layers);
      expect((await configOf('built/multi', child)).config.Labels.mutated).toBe('yes');
    }
  });
});
