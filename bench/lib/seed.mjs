// Seeding generated OCI layouts into a registry with skopeo.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { manifestDigest } from './registry.mjs';
import { runTimed } from './proc.mjs';
import { log } from './util.mjs';

/**
 * Makes `repo:layout.tag` on `reg` the layout's image (skip if already there, as with the
 * persistent source registry of a previous run), then reads its blob files once so that the
 * first timed run does not pay for a cold page cache.
 */
export async function seedRegistry(ctx, layout, reg, repo) {
  const have = await manifestDigest(reg, repo, layout.tag);
  if (have === layout.digest) {
    log(`${reg.name}: ${repo}:${layout.tag} already seeded`);
  } else {
    const t0 = Date.now();
    const argv = [
      'skopeo',
      'copy',
      '--quiet',
      ...(layout.isIndex ? ['--all'] : []),
      '--dest-tls-verify=false',
      `oci:${layout.dir}:${layout.tag}`,
      `docker://${reg.host}/${repo}:${layout.tag}`,
    ];
    const res = await runTimed(argv, { env: await ctx.skopeoEnv('seed') });
    if (!res.ok) throw new Error(`seeding ${repo} failed: ${argv.join(' ')}\n${res.stderr}`);
    const now = await manifestDigest(reg, repo, layout.tag);
    if (now !== layout.digest) throw new Error(`seeding ${repo}: registry has ${now}, layout has ${layout.digest}`);
    log(`${reg.name}: seeded ${repo}:${layout.tag} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  await warmBlobs(layout, reg);
}

export async function warmBlobs(layout, reg) {
  const dir = path.join(layout.dir, 'blobs', 'sha256');
  const buf = Buffer.allocUnsafe(4 << 20);
  for (const hex of await fsp.readdir(dir)) {
    if (!/^[0-9a-f]{64}$/.test(hex)) continue;
    const file = path.join(reg.root, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    let fd;
    try {
      fd = fs.openSync(file, 'r');
      while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    } catch {
      /* not a blob of this registry (e.g. an index-only blob): ignore */
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}
