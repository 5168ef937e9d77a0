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
import { ensureLayout } from './lib/oci-gen.mjs';
import { seedRegistry } from './lib/seed.mjs';
import { verifyImage } from './lib/registry.mjs';
import { MiB } from './lib/util.mjs';

/** regctl median ≤ max × skopeo median. */
export const targetRatio = (max) => ({ type: 'ratio', max, label: `ratio ≤ ${max}` });
/** regctl median ≤ median(`node -e 0`) + ms. */
export const targetOverNode = (ms) => ({ type: 'overNode', ms, label: `≤ node -e 0 + ${ms} ms` });

export const IMAGES = {
  big: { name: 'big', tag: 'v1', seed: 'big', layers: 8, layerSize: 128 * MiB, platforms: ['linux/amd64'] },
  small: { name: 'small', tag: 'v1', seed: 'small', layers: 64, layerSize: 1 * MiB, platforms: ['linux/amd64'] },
  index: { name: 'index', tag: 'v1', seed: 'index', layers: 4, layerSize: 4 * MiB, platforms: ['linux/amd64', 'linux/arm64'] },
};

/** registry → registry copy of a generated image, seeded into ctx.src as bench/NAME:TAG. */
export function registryToRegistry({ name, image, description, runs, rss = false, targets }) {
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
      return { layout, repo, tag: layout.tag, digest: layout.digest, all: layout.isIndex };
    },
    newDest(ctx, state, tool, label) {
      return { repo: `${ctx.runId}/${name}-${tool}-${label}`, tag: state.tag };
    },
    regctl(ctx, s, d) {
      return ['copy', `${ctx.src.host}/${s.repo}:${s.tag}`, `${ctx.dst.host}/${d.repo}:${d.tag}`];
    },
    skopeo(ctx, s, d) {
      return [
        'copy',
        ...(s.all ? ['--all'] : []),
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        `docker://${ctx.src.host}/${s.repo}:${s.tag}`,
        `docker://${ctx.dst.host}/${d.repo}:${d.tag}`,
      ];
    },
    verify(ctx, s, d) {
      return verifyImage(ctx.dst, d.repo, d.tag, s.digest);
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
];
