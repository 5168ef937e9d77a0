// The sync benchmark's images: N images sharing base layers, written as one OCI layout (cached) and seeded one
// repository each.
//
// Layout: bench/.work/images/sync-KEY, index.json names each image by its repository name (sync-00, sync-01, …).
// Every image = the shared base layers + a few layers of its own, so a mirror fetches the base once when it is careful.
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { MT, REF_NAME, writeJsonBlob, writeLayer } from './oci-gen.mjs';
import { manifestDigest } from './registry.mjs';
import { runTimed } from './proc.mjs';
import { warmBlobs } from './seed.mjs';
import { WORK_DIR, log } from './util.mjs';

const GEN_VERSION = 1;

/**
 * spec: { name, images, tag, base: [bytes…], own: [bytes…] }
 * Returns { dir, tag, images: [{ name, digest }] }.
 */
export async function ensureSyncLayout(spec) {
  const key = crypto
    .createHash('sha256')
    .update(JSON.stringify({ GEN_VERSION, ...spec }))
    .digest('hex')
    .slice(0, 12);
  const dir = path.join(WORK_DIR, 'images', `${spec.name}-${key}`);
  const doneFile = path.join(dir, 'bench-sync-layout.json');
  try {
    return { ...JSON.parse(await fsp.readFile(doneFile, 'utf8')), dir };
  } catch {
    /* not generated yet */
  }
  await fsp.mkdir(path.dirname(dir), { recursive: true });
  const tmp = await fsp.mkdtemp(path.join(path.dirname(dir), `.tmp-${spec.name}-`));
  try {
    const t0 = Date.now();
    log(`generating ${spec.images} images sharing ${spec.base.length} base layers in ${dir}`);
    await fsp.mkdir(path.join(tmp, 'blobs', 'sha256'), { recursive: true });
    await fsp.writeFile(path.join(tmp, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const base = [];
    for (const [i, size] of spec.base.entries()) base.push(await writeLayer(tmp, `${spec.name}/base/${i}`, size, i));
    const images = [];
    const entries = [];
    for (let n = 0; n < spec.images; n++) {
      const name = `sync-${String(n).padStart(2, '0')}`;
      const own = [];
      for (const [i, size] of spec.own.entries())
        own.push(await writeLayer(tmp, `${spec.name}/${name}/${i}`, size, base.length + i));
      const layers = [...base, ...own];
      const config = await writeJsonBlob(tmp, {
        created: '2024-01-01T00:00:00Z',
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: { 'bench.image': name } },
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      });
      const manifest = await writeJsonBlob(tmp, {
        schemaVersion: 2,
        mediaType: MT.manifest,
        config: { mediaType: MT.config, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: MT.layer, digest: l.digest, size: l.size })),
      });
      images.push({ name, digest: manifest.digest });
      entries.push({
        mediaType: MT.manifest,
        digest: manifest.digest,
        size: manifest.size,
        annotations: { [REF_NAME]: name },
      });
    }
    await fsp.writeFile(
      path.join(tmp, 'index.json'),
      JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: entries }),
    );
    const info = { tag: spec.tag, images };
    await fsp.writeFile(path.join(tmp, 'bench-sync-layout.json'), JSON.stringify(info, null, 2));
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.rename(tmp, dir);
    log(`generated ${spec.images} images in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { ...info, dir };
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Pushes each image to `reg` as `prefix/NAME:tag` with skopeo, unless it is there already. */
export async function seedSyncImages(ctx, layout, reg, prefix) {
  let seeded = 0;
  for (const img of layout.images) {
    const repo = `${prefix}/${img.name}`;
    if ((await manifestDigest(reg, repo, layout.tag)) === img.digest) continue;
    const argv = [
      'skopeo',
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${layout.dir}:${img.name}`,
      `docker://${reg.host}/${repo}:${layout.tag}`,
    ];
    const res = await runTimed(argv, { env: await ctx.skopeoEnv('seed') });
    if (!res.ok) throw new Error(`seeding ${repo} failed: ${argv.join(' ')}\n${res.stderr}`);
    if ((await manifestDigest(reg, repo, layout.tag)) !== img.digest)
      throw new Error(`seeding ${repo}: digest differs from the layout`);
    seeded++;
  }
  log(
    `${reg.name}: ${seeded ? `seeded ${seeded}` : `all ${layout.images.length} already seeded`} ` +
      `sync images under ${prefix}/`,
  );
  await warmBlobs(layout, reg);
}
