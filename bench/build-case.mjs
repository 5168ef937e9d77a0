// Benchmark case `build`: `regctl build` of a COPY-only Dockerfile (5,000 small files + one 100 MiB file) on the
// 64-layer base into a registry, against `buildah bud --storage-driver vfs` + `buildah push` of the same Dockerfile.
//
// The base (`small`: 64 × 1 MiB) lives in the source registry and the image goes to the destination registry, so both
// tools must move the base layers (regctl copies the blobs; buildah pulls, unpacks and pushes them). The context is
// generated once into bench/.work/build-context-v1 (seeded bytes: the 100 MiB file is incompressible).
// Each fresh buildah run gets an empty storage root (no cached base), like a clean CI runner; a re-build reuses the
// root of the destination's first build. regctl's fresh run starts with an empty user cache, so it reads each base
// layer once to index its directories; its re-build reuses that cache, recomputes the layer and uploads nothing.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensureLayout } from './lib/oci-gen.mjs';
import { manifestDigest } from './lib/registry.mjs';
import { seedRegistry } from './lib/seed.mjs';
import { MiB, WORK_DIR, log } from './lib/util.mjs';

const SMALL_FILES = 5000;
const BIG_FILE = 100 * MiB;

function seeded(seed, size) {
  const key = crypto.createHash('sha256').update(seed).digest();
  const cipher = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return cipher.update(Buffer.alloc(size));
}

/** The context: 50 directories × 100 small text files (200 B – 4 KiB) and one 100 MiB binary; made once. */
function ensureContext() {
  const dir = path.join(WORK_DIR, 'build-context-v1');
  const done = path.join(WORK_DIR, 'build-context-v1.done');
  if (fs.existsSync(done)) return dir;
  const t0 = Date.now();
  fs.rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < SMALL_FILES; i++) {
    const sub = path.join(dir, 'src', `mod${String(Math.floor(i / 100)).padStart(2, '0')}`);
    if (i % 100 === 0) fs.mkdirSync(sub, { recursive: true });
    const size = 200 + ((i * 7919) % 3900);
    const text = seeded(`file-${i}`, Math.ceil(size / 2))
      .toString('hex')
      .slice(0, size);
    fs.writeFileSync(path.join(sub, `file${i}.js`), `// ${i}\n${text}\n`);
  }
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'data', 'model.bin'), seeded('big', BIG_FILE));
  fs.writeFileSync(done, '');
  log(`generated the build context (${SMALL_FILES} files + 100 MiB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return dir;
}

export function buildCase({ name, image, description, runs, targets }) {
  let roots = [];
  return {
    name,
    description,
    runs,
    targets,
    peer: {
      name: 'buildah',
      version: ['buildah', '--version'],
      argv(ctx, s, d) {
        const common = `--root ${d.root} --runroot ${d.root}-run --storage-driver vfs`;
        const local = `localhost/regctl-bench-build:${d.label}`;
        const bud =
          `buildah ${common} bud --tls-verify=false --quiet --layers=false ` +
          `-f ${s.dockerfile} -t ${local} ${s.context} >/dev/null`;
        const push = `buildah ${common} push --tls-verify=false --quiet ${local} docker://${ctx.dst.host}/${d.repo}:v1`;
        return ['sh', '-c', `${bud} && ${push}`];
      },
    },
    async setup(ctx) {
      const layout = await ensureLayout(image);
      await seedRegistry(ctx, layout, ctx.src, `bench/${image.name}`);
      const context = ensureContext();
      const dockerfile = path.join(ctx.tmpDir, 'build.Dockerfile');
      fs.writeFileSync(dockerfile, `FROM ${ctx.src.host}/bench/${image.name}:${layout.tag}\nCOPY . /app/\n`);
      // Warm the page cache (as the copy cases do for blobs): no tool pays for a cold read.
      for (const f of fs.readdirSync(context, { recursive: true })) {
        const p = path.join(context, String(f));
        if (fs.statSync(p).isFile()) fs.readFileSync(p);
      }
      return { context, dockerfile };
    },
    newDest(ctx, state, tool, label) {
      const repo = `${ctx.runId}/${name}-${tool}-${label}`;
      // regctl's fresh run starts with an empty user cache (no base layer index yet), as buildah with an empty root.
      if (tool === 'regctl') return { repo, label, cache: path.join(ctx.tmpDir, 'regctl-cache', label) };
      // buildah's vfs storage holds every layer unpacked (GiBs): keep only the newest root (a re-build reuses it).
      for (const r of roots) for (const p of [r, `${r}-run`]) fs.rmSync(p, { recursive: true, force: true });
      const root = path.join(ctx.tmpDir, 'buildah', label);
      roots = [root];
      return { repo, label, root };
    },
    regctlEnv(ctx, s, d) {
      return { ...process.env, XDG_CACHE_HOME: d.cache };
    },
    regctl(ctx, s, d) {
      return ['build', '--json', '-f', s.dockerfile, '-t', `${ctx.dst.host}/${d.repo}:v1`, s.context];
    },
    skopeo() {
      throw new Error('the build case compares against buildah (peer)');
    },
    async verify(ctx, s, d, tool, r) {
      const got = await manifestDigest(ctx.dst, d.repo, 'v1');
      if (!got) return `${d.repo}:v1 is missing`;
      if (tool !== 'regctl' || !r) return null;
      const out = JSON.parse(r.stdout);
      if (out.digest !== got) return `regctl printed ${out.digest}, the registry has ${got}`;
      const sent = out.bytesSent;
      if (d.built && sent !== 0) return `the re-build of an unchanged context sent ${sent} bytes`;
      if (d.digest && d.digest !== got) return `the re-build gave ${got}, the first build ${d.digest}`;
      d.built = true;
      d.digest = got;
      return null;
    },
  };
}
