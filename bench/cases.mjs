// Benchmark cases.
//
// A case is a plain object:
//   name         selects it on the command line (`node bench/run.mjs big small`)
//   description  one line for --list
//   runs         { fresh, recopy }: default run counts (BENCH_RUNS overrides both)
//   rss          true: measure both tools' peak RSS on the fresh runs
//   setup(ctx)   prepares the source once (generate/seed) and returns a state object
//   newDest(ctx, state, tool, label)   a new, empty destination for one run
//   regctl(ctx, state, dest)  → argv after the regctl command (e.g. ['copy', SRC, DST])
//   skopeo(ctx, state, dest)  → argv after `skopeo`
//   verify(ctx, state, dest)  → null if the destination is right, else a message (optional)
//   targets      { fresh, recopy }: see targetRatio / targetOverNode; a missing key skips that mode
//
// ctx (built by run.mjs): { src, dst } registries ({ host, url, root, ... }), runId, tmpDir.
// New kinds (registry → docker-archive, → OCI layout, docker-archive → registry, sync, build)
// are new factories like registryToRegistry below: their newDest returns a fresh path
// under ctx.tmpDir, their setup may write a source file once.
import fs from 'node:fs';
import path from 'node:path';
import { buildCase } from './build-case.mjs';
import { startLatencyProxy } from './lib/latency-proxy.mjs';
import { ensureLayout } from './lib/oci-gen.mjs';
import { seedRegistry } from './lib/seed.mjs';
import { verifyImage } from './lib/registry.mjs';
import { ensureSyncLayout, seedSyncImages } from './lib/sync-gen.mjs';
import { ensureUsrArchive } from './lib/usr-archive.mjs';
import { KiB, MiB } from './lib/util.mjs';

/** regctl median ≤ max × skopeo median. */
export const targetRatio = (max) => ({ type: 'ratio', max, label: `ratio ≤ ${max}` });
/** regctl median ≤ median(`node -e 0`) + ms. */
export const targetOverNode = (ms) => ({ type: 'overNode', ms, label: `≤ node -e 0 + ${ms} ms` });

export const IMAGES = {
  big: { name: 'big', tag: 'v1', seed: 'big', layers: 8, layerSize: 128 * MiB, platforms: ['linux/amd64'] },
  small: { name: 'small', tag: 'v1', seed: 'small', layers: 64, layerSize: 1 * MiB, platforms: ['linux/amd64'] },
  index: {
    name: 'index',
    tag: 'v1',
    seed: 'index',
    layers: 4,
    layerSize: 4 * MiB,
    platforms: ['linux/amd64', 'linux/arm64'],
  },
  medium: { name: 'medium', tag: 'v1', seed: 'medium', layers: 8, layerSize: 16 * MiB, platforms: ['linux/amd64'] },
};

/**
 * Both registries as the tools reach them: directly, or (rttMs > 0) through proxies adding a round trip per request.
 * The proxies count round trips and connections per run (state.proxies; run.mjs reads them).
 */
async function reach(ctx, rttMs) {
  if (!rttMs) return { srcHost: ctx.src.host, dstHost: ctx.dst.host, proxies: null };
  // BENCH_RTT_CONNECT=1: a new connection costs one more RTT (TCP's handshake), as on a real network.
  const opts = { connectRtt: process.env.BENCH_RTT_CONNECT === '1' };
  const proxies = await Promise.all([startLatencyProxy(ctx.src, rttMs, opts), startLatencyProxy(ctx.dst, rttMs, opts)]);
  return { srcHost: proxies[0].host, dstHost: proxies[1].host, proxies };
}

async function stopProxies(state) {
  await Promise.all((state.proxies ?? []).map((p) => p.stop()));
}

/** registry → registry copy of a generated image, seeded into ctx.src as bench/NAME:TAG. */
export function registryToRegistry({ name, image, description, runs, rss = false, targets, rttMs = 0 }) {
  return {
    name,
    description,
    runs,
    rss,
    targets,
    async setup(ctx) {
      const layout = await ensureLayout(image);
      const repo = `bench/${image.name}`;
      await seedRegistry(ctx, layout, ctx.src, repo);
      return {
        layout,
        repo,
        tag: layout.tag,
        digest: layout.digest,
        all: layout.isIndex,
        ...(await reach(ctx, rttMs)),
      };
    },
    teardown: (ctx, state) => stopProxies(state),
    newDest(ctx, state, tool, label) {
      return { repo: `${ctx.runId}/${name}-${tool}-${label}`, tag: state.tag };
    },
    regctl(ctx, s, d) {
      return ['copy', `${s.srcHost}/${s.repo}:${s.tag}`, `${s.dstHost}/${d.repo}:${d.tag}`];
    },
    skopeo(ctx, s, d) {
      return [
        'copy',
        ...(s.all ? ['--all'] : []),
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        `docker://${s.srcHost}/${s.repo}:${s.tag}`,
        `docker://${s.dstHost}/${d.repo}:${d.tag}`,
      ];
    },
    verify(ctx, s, d) {
      return verifyImage(ctx.dst, d.repo, d.tag, s.digest);
    },
  };
}

/**
 * `regctl sync SPEC` vs `skopeo sync --src yaml`: many images sharing base layers, registry → registry. Each fresh run
 * writes under a new prefix of the destination (`PREFIX/sync-NN:v1`, as skopeo names them without --scoped).
 */
export function syncCase({ name, images, description, runs, targets, rttMs = 0 }) {
  const prefix = 'bench/sync';
  return {
    name,
    description,
    runs,
    targets,
    async setup(ctx) {
      const layout = await ensureSyncLayout({
        name: 'sync',
        images,
        tag: 'v1',
        base: [24 * MiB, 8 * MiB],
        own: [2 * MiB, 512 * KiB],
      });
      await seedSyncImages(ctx, layout, ctx.src, prefix);
      // Both tools reach the registries the same way: directly, or through proxies adding a round trip per request.
      const reached = await reach(ctx, rttMs);
      // skopeo's YAML source: one registry, every repository with its tag.
      const skopeoSpec = path.join(ctx.tmpDir, `${name}-skopeo.yaml`);
      const lines = [
        `${reached.srcHost}:`,
        '  tls-verify: false',
        '  images:',
        ...layout.images.map((i) => `    ${prefix}/${i.name}: [${layout.tag}]`),
      ];
      fs.writeFileSync(skopeoSpec, `${lines.join('\n')}\n`);
      return { layout, skopeoSpec, ...reached };
    },
    teardown: (ctx, state) => stopProxies(state),
    newDest(ctx, state, tool, label) {
      const repo = `${ctx.runId}/${name}-${tool}-${label}`;
      const spec = path.join(ctx.tmpDir, `${name}-${tool}-${label}.yaml`);
      const entries = state.layout.images.map(
        (i) =>
          `  - { source: "${state.srcHost}/${prefix}/${i.name}:${state.layout.tag}", ` +
          `target: "${state.dstHost}/${repo}/${i.name}" }`,
      );
      fs.writeFileSync(spec, `sync:\n${entries.join('\n')}\n`);
      return { repo, spec };
    },
    regctl(ctx, s, d) {
      return ['sync', d.spec];
    },
    skopeo(ctx, s, d) {
      return [
        'sync',
        '--src',
        'yaml',
        '--dest',
        'docker',
        '--dest-tls-verify=false',
        s.skopeoSpec,
        `${s.dstHost}/${d.repo}`,
      ];
    },
    async verify(ctx, s, d) {
      for (const img of s.layout.images) {
        const problem = await verifyImage(ctx.dst, `${d.repo}/${img.name}`, s.layout.tag, img.digest);
        if (problem) return problem;
      }
      return null;
    },
  };
}

/**
 * A fresh path under ctx.tmpDir for one run; the tool's earlier outputs of this case are removed (they can be 1 GiB).
 */
function freshPath(ctx, name, tool, label, ext) {
  const dir = path.join(ctx.tmpDir, 'local');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir))
    if (f.startsWith(`${name}-${tool}-`)) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  return path.join(dir, `${name}-${tool}-${label}${ext}`);
}

/** registry → a local file or layout: `regctl copy` vs `skopeo copy docker://… FORMAT:PATH`. */
export function registryToLocal({ name, image, format, description, runs, targets }) {
  return {
    name,
    description,
    runs,
    targets,
    async setup(ctx) {
      const layout = await ensureLayout(image);
      const repo = `bench/${image.name}`;
      await seedRegistry(ctx, layout, ctx.src, repo);
      return { repo, tag: layout.tag };
    },
    newDest(ctx, state, tool, label) {
      return { path: freshPath(ctx, name, tool, label, format === 'oci' ? '' : '.tar') };
    },
    regctl(ctx, s, d) {
      return [
        'copy',
        `${ctx.src.host}/${s.repo}:${s.tag}`,
        format === 'oci' ? `oci:${d.path}:${s.tag}` : `docker-archive:${d.path}`,
      ];
    },
    skopeo(ctx, s, d) {
      const dest = format === 'oci' ? `oci:${d.path}:${s.tag}` : `docker-archive:${d.path}:${s.repo}:${s.tag}`;
      return ['copy', '--src-tls-verify=false', `docker://${ctx.src.host}/${s.repo}:${s.tag}`, dest];
    },
    verify(ctx, s, d) {
      return fs.existsSync(d.path) ? null : `${d.path} was not written`;
    },
  };
}

/**
 * A docker-archive → registry. kind 'hybrid': what `regctl pull` writes (layers gzip, as the registry had them);
 * kind 'classic': what `skopeo copy … docker-archive:` writes (uncompressed layers, which both tools gzip on push);
 * kind 'usr': a classic archive of real files (lib/usr-archive.mjs: one ≈300 MiB layer of this machine's /usr).
 */
export function archiveToRegistry({ name, image, kind, description, runs, targets }) {
  return {
    name,
    description,
    runs,
    targets,
    async setup(ctx) {
      if (kind === 'usr') {
        const a = await ensureUsrArchive();
        for await (const _ of fs.createReadStream(a.file, { highWaterMark: 4 * MiB })); // warm the page cache
        return { file: a.file, tag: a.tag };
      }
      const layout = await ensureLayout(image);
      const repo = `bench/${image.name}`;
      await seedRegistry(ctx, layout, ctx.src, repo);
      const file = path.join(ctx.tmpDir, `${name}-source.tar`);
      const { execFileSync } = await import('node:child_process');
      const from = `${ctx.src.host}/${repo}:${layout.tag}`;
      if (kind === 'classic')
        execFileSync(
          'skopeo',
          ['copy', '-q', '--src-tls-verify=false', `docker://${from}`, `docker-archive:${file}:${repo}:${layout.tag}`],
          { env: ctx.skopeoEnv ? undefined : process.env },
        );
      else execFileSync(process.execPath, [path.resolve('bin/regctl'), 'copy', '-q', from, `docker-archive:${file}`]);
      return { file, tag: layout.tag };
    },
    newDest(ctx, state, tool, label) {
      return { repo: `${ctx.runId}/${name}-${tool}-${label}`, tag: state.tag };
    },
    regctl(ctx, s, d) {
      return ['copy', `docker-archive:${s.file}`, `${ctx.dst.host}/${d.repo}:${d.tag}`];
    },
    skopeo(ctx, s, d) {
      return [
        'copy',
        '--dest-tls-verify=false',
        `docker-archive:${s.file}`,
        `docker://${ctx.dst.host}/${d.repo}:${d.tag}`,
      ];
    },
  };
}

export const CASES = [
  registryToRegistry({
    name: 'big',
    image: IMAGES.big,
    description: 'registry → registry, 8 layers × 128 MiB (≈1 GiB)',
    runs: { fresh: 3, recopy: 5 },
    rss: true,
    targets: { fresh: targetRatio(0.95), recopy: targetOverNode(50) },
  }),
  registryToRegistry({
    name: 'small',
    image: IMAGES.small,
    description: 'registry → registry, 64 layers × 1 MiB',
    runs: { fresh: 5, recopy: 5 },
    targets: { fresh: targetRatio(0.6), recopy: targetRatio(0.5) },
  }),
  registryToRegistry({
    name: 'index',
    image: IMAGES.index,
    description: 'registry → registry, OCI index linux/amd64 + linux/arm64, 4 × 4 MiB each (skopeo --all)',
    runs: { fresh: 5, recopy: 5 },
    targets: { fresh: targetRatio(0.8), recopy: targetOverNode(50) },
  }),
  registryToRegistry({
    name: 'small-rtt',
    image: IMAGES.small,
    rttMs: 20,
    description: 'the small case through proxies adding a 20 ms round trip to every request (a remote registry)',
    runs: { fresh: 3, recopy: 3 },
    targets: { fresh: targetRatio(0.45), recopy: targetRatio(0.3) },
  }),
  registryToRegistry({
    name: 'index-rtt',
    image: IMAGES.index,
    rttMs: 20,
    description: 'the index case through proxies adding a 20 ms round trip to every request (a remote registry)',
    runs: { fresh: 3, recopy: 3 },
    targets: { fresh: targetRatio(0.5), recopy: targetRatio(0.5) },
  }),
  syncCase({
    name: 'sync',
    images: 20,
    description: 'sync of 20 images sharing 32 MiB of base layers (+2.5 MiB each) vs skopeo sync --src yaml',
    runs: { fresh: 5, recopy: 5 },
    targets: { fresh: targetRatio(0.5), recopy: targetRatio(0.2) },
  }),
  syncCase({
    name: 'sync-rtt',
    images: 20,
    rttMs: 20,
    description: 'the sync case through proxies adding a 20 ms round trip to every request (a remote registry)',
    runs: { fresh: 3, recopy: 3 },
    targets: { fresh: targetRatio(0.5), recopy: targetRatio(0.2) },
  }),
  registryToLocal({
    name: 'to-oci',
    image: IMAGES.big,
    format: 'oci',
    description: 'registry → OCI layout, 8 layers × 128 MiB',
    runs: { fresh: 3 },
    targets: { fresh: targetRatio(0.7) },
  }),
  registryToLocal({
    name: 'to-archive',
    image: IMAGES.big,
    format: 'docker-archive',
    description: 'registry → docker-archive, 8 layers × 128 MiB',
    runs: { fresh: 3 },
    targets: { fresh: targetRatio(0.7) },
  }),
  archiveToRegistry({
    name: 'from-archive',
    image: IMAGES.medium,
    kind: 'hybrid',
    description: 'docker-archive with gzip layers (regctl pull) → registry, 8 × 16 MiB',
    runs: { fresh: 5 },
    targets: { fresh: targetRatio(1.0) },
  }),
  archiveToRegistry({
    name: 'from-classic',
    image: IMAGES.medium,
    kind: 'classic',
    description: 'classic docker-archive, uncompressed layers (skopeo) → registry, 8 × 16 MiB',
    runs: { fresh: 3 },
    targets: { fresh: targetRatio(1.5) },
  }),
  archiveToRegistry({
    name: 'from-classic-usr',
    kind: 'usr',
    description:
      'classic docker-archive of real files (≈300 MiB of /usr: text, binaries, .gz/.jar) → registry, 1 layer',
    runs: { fresh: 3 },
    targets: { fresh: targetRatio(1.5) },
  }),
  buildCase({
    name: 'build',
    image: IMAGES.small,
    description:
      'regctl build (COPY of 5,000 files + 100 MiB on the 64-layer base) → registry, vs buildah bud (vfs) + push',
    runs: { fresh: 3, recopy: 3 },
    targets: { fresh: targetRatio(0.2), recopy: targetRatio(0.2) },
  }),
];
