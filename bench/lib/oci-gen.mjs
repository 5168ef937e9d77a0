// Reproducible synthetic images written as OCI image layouts.
//
// Each layer is a gzip'd tar holding one file of pseudo-random (incompressible) bytes.
// The bytes come from AES-256-CTR over zeros keyed by sha256(seed/platform/layer): a seeded,
// very fast PRNG, so the same parameters always give the same digests.
// Layouts are cached under bench/.work/images/NAME-KEY where KEY hashes the parameters and
// GEN_VERSION; a layout is built in a temp dir and renamed into place when complete.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { MiB, WORK_DIR, log } from './util.mjs';

const GEN_VERSION = 1;
const CHUNK = 1 * MiB;
export const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};
export const REF_NAME = 'org.opencontainers.image.ref.name';
const CREATED = '2024-01-01T00:00:00Z';

/**
 * spec: { name, tag, seed, layers, layerSize, platforms: ['linux/amd64', ...] }
 * One platform → the layout's tag names an image manifest; several → an image index.
 * Returns { dir, tag, digest, mediaType, isIndex, key }.
 */
export async function ensureLayout(spec) {
  const key = crypto
    .createHash('sha256')
    .update(JSON.stringify({ GEN_VERSION, ...spec }))
    .digest('hex')
    .slice(0, 12);
  const imagesDir = path.join(WORK_DIR, 'images');
  const dir = path.join(imagesDir, `${spec.name}-${key}`);
  const doneFile = path.join(dir, 'bench-layout.json');
  try {
    const info = JSON.parse(await fsp.readFile(doneFile, 'utf8'));
    return { ...info, dir, key };
  } catch {
    /* not cached yet */
  }
  await fsp.mkdir(imagesDir, { recursive: true });
  const tmp = await fsp.mkdtemp(path.join(imagesDir, `.tmp-${spec.name}-`));
  try {
    const t0 = Date.now();
    log(
      `generating image "${spec.name}" ` +
        `(${spec.platforms.length} platform(s) × ${spec.layers} × ${spec.layerSize / MiB} MiB) in ${dir}`,
    );
    const info = await writeLayout(tmp, spec);
    await fsp.writeFile(path.join(tmp, 'bench-layout.json'), JSON.stringify(info, null, 2));
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.rename(tmp, dir);
    log(`generated "${spec.name}" in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${info.digest}`);
    return { ...info, dir, key };
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function writeLayout(dir, spec) {
  const blobs = path.join(dir, 'blobs', 'sha256');
  await fsp.mkdir(blobs, { recursive: true });
  await fsp.writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  const manifests = [];
  for (const platform of spec.platforms) {
    manifests.push(await writeImage(dir, spec, platform));
  }
  let top;
  if (manifests.length === 1) {
    top = manifests[0];
  } else {
    const index = {
      schemaVersion: 2,
      mediaType: MT.index,
      manifests: manifests.map((m) => ({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        platform: m.platform,
      })),
    };
    top = { ...(await writeJsonBlob(dir, index)), mediaType: MT.index };
  }
  const indexJson = {
    schemaVersion: 2,
    mediaType: MT.index,
    manifests: [
      { mediaType: top.mediaType, digest: top.digest, size: top.size, annotations: { [REF_NAME]: spec.tag } },
    ],
  };
  await fsp.writeFile(path.join(dir, 'index.json'), JSON.stringify(indexJson));
  return {
    tag: spec.tag,
    digest: top.digest,
    mediaType: top.mediaType,
    isIndex: manifests.length > 1,
    spec,
  };
}

async function writeImage(dir, spec, platform) {
  const [os, architecture, variant] = platform.split('/');
  // Two layers at a time: zlib runs on the libuv thread pool, so this uses both cores.
  const layers = new Array(spec.layers);
  let next = 0;
  const worker = async () => {
    while (next < spec.layers) {
      const i = next++;
      layers[i] = await writeLayer(dir, `${spec.seed}/${platform}/${i}`, spec.layerSize, i);
    }
  };
  await Promise.all([worker(), worker()]);

  const config = {
    created: CREATED,
    architecture,
    os,
    ...(variant ? { variant } : {}),
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: CREATED, created_by: `bench layer ${i}` })),
  };
  const cfg = await writeJsonBlob(dir, config);
  const manifest = {
    schemaVersion: 2,
    mediaType: MT.manifest,
    config: { mediaType: MT.config, digest: cfg.digest, size: cfg.size },
    layers: layers.map((l) => ({ mediaType: MT.layer, digest: l.digest, size: l.size })),
  };
  const m = await writeJsonBlob(dir, manifest);
  return {
    ...m,
    mediaType: MT.manifest,
    platform: { architecture, os, ...(variant ? { variant } : {}) },
  };
}

export async function writeJsonBlob(dir, obj) {
  const buf = Buffer.from(JSON.stringify(obj));
  const hex = crypto.createHash('sha256').update(buf).digest('hex');
  await fsp.writeFile(path.join(dir, 'blobs', 'sha256', hex), buf);
  return { digest: `sha256:${hex}`, size: buf.length };
}

/** A ustar header for one regular file. */
function tarHeader(name, size) {
  const h = Buffer.alloc(512, 0);
  const put = (str, off, len) => h.write(str, off, len, 'ascii');
  const oct = (n, len) => n.toString(8).padStart(len - 1, '0') + '\0';
  put(name, 0, 100);
  put(oct(0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8); // uid
  put(oct(0, 8), 116, 8); // gid
  put(oct(size, 12), 124, 12);
  put(oct(Date.parse(CREATED) / 1000, 12), 136, 12); // mtime
  put('        ', 148, 8); // checksum placeholder
  put('0', 156, 1); // regular file
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** Writes one layer blob; returns { digest, size, diffId }. */
export async function writeLayer(dir, seed, size, i) {
  const key = crypto.createHash('sha256').update(`regctl-bench:${seed}`).digest();
  const iv = Buffer.alloc(16, 0);
  const cipher = crypto.createCipheriv('aes-256-ctr', key, iv);
  const zeros = Buffer.alloc(CHUNK, 0);
  const diff = crypto.createHash('sha256');
  const comp = crypto.createHash('sha256');
  let compSize = 0;

  async function* tarStream() {
    const emit = (b) => {
      diff.update(b);
      return b;
    };
    yield emit(tarHeader(`bench/layer-${String(i).padStart(3, '0')}.bin`, size));
    let left = size;
    while (left > 0) {
      const n = Math.min(left, CHUNK);
      yield emit(cipher.update(n === CHUNK ? zeros : zeros.subarray(0, n)));
      left -= n;
    }
    const pad = (512 - (size % 512)) % 512;
    yield emit(Buffer.alloc(pad + 1024, 0)); // padding + end-of-archive
  }

  const hashOut = new Transform({
    transform(chunk, _enc, cb) {
      comp.update(chunk);
      compSize += chunk.length;
      cb(null, chunk);
    },
  });
  const tmp = path.join(dir, 'blobs', 'sha256', `.tmp-layer-${i}-${crypto.randomBytes(4).toString('hex')}`);
  await pipeline(tarStream(), zlib.createGzip({ level: 1 }), hashOut, fs.createWriteStream(tmp));
  const hex = comp.digest('hex');
  await fsp.rename(tmp, path.join(dir, 'blobs', 'sha256', hex));
  return { digest: `sha256:${hex}`, size: compSize, diffId: `sha256:${diff.digest('hex')}` };
}
