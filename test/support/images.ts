// Reproducible fixture images: seeded layer bytes → OCI image layouts on disk, pushed to registries with skopeo.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { makeTempDir, removeTempDir } from './lifecycle.js';

export { registryDigest } from './http.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageOptions {
  /** uncompressed content size of the one file in each layer */
  layers: number[];
  seed: number | string;
  platform?: Platform;
  /** org.opencontainers.image.ref.name in index.json; default 'latest' */
  tag?: string;
  mediaTypes?: 'oci' | 'docker';
  /** gzip level of the layers; default 0 (stored: random bytes do not compress, and 128 MiB gzip in ~0.2 s) */
  gzipLevel?: number;
}

export interface ImageFixture {
  dir: string;
  tag: string;
  manifestDigest: string;
  manifestSize: number;
  manifestMediaType: string;
  configDigest: string;
  layerDigests: string[];
  /** compressed sizes, as in the manifest */
  layerSizes: number[];
  diffIds: string[];
  platform: Platform;
}

export interface IndexOptions extends Omit<ImageOptions, 'platform'> {
  /** e.g. ['linux/amd64', 'linux/arm64', 'linux/arm/v7'] or Platform objects */
  platforms: Array<Platform | string>;
  /** the same layer bytes in every platform image (configs still differ); default false */
  sharedLayers?: boolean;
}

export interface IndexFixture {
  dir: string;
  tag: string;
  /** the index digest (same as indexDigest) */
  manifestDigest: string;
  indexDigest: string;
  indexSize: number;
  indexMediaType: string;
  images: Omit<ImageFixture, 'dir' | 'tag'>[];
}

const MT = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    index: 'application/vnd.oci.image.index.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  },
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
} as const;
const REF_NAME = 'org.opencontainers.image.ref.name';
const FIXED_TIME = '2000-01-01T00:00:00Z';
const FIXED_MTIME = 946684800;

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Fill `out` with xorshift128 output seeded by sha256(seed): fast (≈ 0.1 s per 128 MiB) and reproducible. */
export function fillSeeded(out: Uint8Array, seed: string): void {
  const s = createHash('sha256').update(seed).digest();
  let x = s.readUInt32LE(0) | 1,
    y = s.readUInt32LE(4),
    z = s.readUInt32LE(8),
    w = s.readUInt32LE(12);
  const next = (): number => {
    const t = x ^ (x << 11);
    x = y;
    y = z;
    z = w;
    w = w ^ (w >>> 19) ^ (t ^ (t >>> 8));
    return w;
  };
  const words = out.byteLength >>> 2;
  const aligned = out.byteOffset % 4 === 0;
  const u32 = aligned ? new Uint32Array(out.buffer, out.byteOffset, words) : new Uint32Array(words);
  for (let i = 0; i < words; i++) u32[i] = next();
  if (!aligned) out.set(new Uint8Array(u32.buffer, 0, words * 4));
  for (let i = words * 4; i < out.byteLength; i++) out[i] = next() & 0xff;
}

function writeField(buf: Buffer, off: number, len: number, value: string): void {
  buf.write(value, off, len, 'ascii');
}

const octal = (n: number, width: number): string => `${n.toString(8).padStart(width - 1, '0')}\0`;

/** A ustar archive with one regular file of seeded bytes (mode 0644, uid/gid 0, fixed mtime). */
export function makeLayerTar(name: string, size: number, seed: string): Buffer {
  const padded = Math.ceil(size / 512) * 512;
  const buf = Buffer.from(new ArrayBuffer(512 + padded + 1024)); // zero-filled, 4-byte aligned data at 512
  writeField(buf, 0, 100, name);
  writeField(buf, 100, 8, octal(0o644, 8));
  writeField(buf, 108, 8, octal(0, 8));
  writeField(buf, 116, 8, octal(0, 8));
  writeField(buf, 124, 12, octal(size, 12));
  writeField(buf, 136, 12, octal(FIXED_MTIME, 12));
  writeField(buf, 148, 8, '        ');
  writeField(buf, 156, 1, '0');
  writeField(buf, 257, 6, 'ustar\0');
  writeField(buf, 263, 2, '00');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += buf[i];
  writeField(buf, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  fillSeeded(buf.subarray(512, 512 + size), seed);
  return buf;
}

async function putBlob(dir: string, bytes: Uint8Array): Promise<{ digest: string; size: number }> {
  const digest = sha256(bytes);
  const path = join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const exists = await stat(path).then(
    (s) => s.size === bytes.byteLength,
    () => false,
  );
  if (!exists) await writeFile(path, bytes);
  return { digest, size: bytes.byteLength };
}

async function initLayout(dir: string): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
}

/** Add (or replace, by ref name) one entry of index.json. */
async function tagInIndex(dir: string, desc: object, tag: string): Promise<void> {
  const path = join(dir, 'index.json');
  const old = await readFile(path, 'utf8').then(
    (t) => JSON.parse(t) as { manifests?: Array<{ annotations?: Record<string, string> }> },
    () => undefined,
  );
  const kept = (old?.manifests ?? []).filter((m) => m.annotations?.[REF_NAME] !== tag);
  const entry = { ...desc, annotations: { [REF_NAME]: tag } };
  const index = { schemaVersion: 2, mediaType: MT.oci.index, manifests: [...kept, entry] };
  await writeFile(path, JSON.stringify(index));
}

export function parsePlatform(p: Platform | string): Platform {
  if (typeof p !== 'string') return p;
  const [os, architecture, variant] = p.split('/');
  if (!os || !architecture) throw new Error(`bad platform ${p}`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

const platformString = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** Write the blobs of one image (layers, config, manifest) into the layout; no index.json entry. */
async function writeImage(
  dir: string,
  o: ImageOptions & { layerSeed: string },
): Promise<Omit<ImageFixture, 'dir' | 'tag'>> {
  const mt = MT[o.mediaTypes ?? 'oci'];
  const platform = o.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers: Array<{ digest: string; size: number }> = [];
  const diffIds: string[] = [];
  for (const [i, size] of o.layers.entries()) {
    const tar = makeLayerTar(`layer-${i}.bin`, size, `${o.layerSeed}:layer:${i}`);
    diffIds.push(sha256(tar));
    layers.push(await putBlob(dir, gzipSync(tar, { level: o.gzipLevel ?? 0 })));
  }
  const config = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created: FIXED_TIME,
    config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Labels: { 'org.regctl.test.seed': String(o.seed) } },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: o.layers.map((_, i) => ({ created: FIXED_TIME, created_by: `regctl test fixture layer ${i}` })),
  };
  const cfg = await putBlob(dir, Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: mt.manifest,
    config: { mediaType: mt.config, digest: cfg.digest, size: cfg.size },
    layers: layers.map((l) => ({ mediaType: mt.layer, digest: l.digest, size: l.size })),
  };
  const m = await putBlob(dir, Buffer.from(JSON.stringify(manifest)));
  return {
    manifestDigest: m.digest,
    manifestSize: m.size,
    manifestMediaType: mt.manifest,
    configDigest: cfg.digest,
    layerDigests: layers.map((l) => l.digest),
    layerSizes: layers.map((l) => l.size),
    diffIds,
    platform,
  };
}

/** An OCI image layout in `dir` (created or extended) holding one image tagged `tag` (default 'latest'). */
export async function makeImageLayout(dir: string, opts: ImageOptions): Promise<ImageFixture> {
  await initLayout(dir);
  const tag = opts.tag ?? 'latest';
  const img = await writeImage(dir, { ...opts, layerSeed: String(opts.seed) });
  await tagInIndex(dir, { mediaType: img.manifestMediaType, digest: img.manifestDigest, size: img.manifestSize }, tag);
  return { dir, tag, ...img };
}

/** An OCI image layout in `dir` holding a multi-platform index (or Docker manifest list) tagged `tag`. */
export async function makeIndexLayout(dir: string, opts: IndexOptions): Promise<IndexFixture> {
  await initLayout(dir);
  const tag = opts.tag ?? 'latest';
  const mt = MT[opts.mediaTypes ?? 'oci'];
  const images: IndexFixture['images'] = [];
  for (const p of opts.platforms.map(parsePlatform)) {
    const layerSeed = opts.sharedLayers ? String(opts.seed) : `${opts.seed}/${platformString(p)}`;
    images.push(await writeImage(dir, { ...opts, platform: p, layerSeed }));
  }
  const index = {
    schemaVersion: 2,
    mediaType: mt.index,
    manifests: images.map((i) => ({
      mediaType: i.manifestMediaType,
      digest: i.manifestDigest,
      size: i.manifestSize,
      platform: i.platform,
    })),
  };
  const idx = await putBlob(dir, Buffer.from(JSON.stringify(index)));
  await tagInIndex(dir, { mediaType: mt.index, digest: idx.digest, size: idx.size }, tag);
  return {
    dir,
    tag,
    manifestDigest: idx.digest,
    indexDigest: idx.digest,
    indexSize: idx.size,
    indexMediaType: mt.index,
    images,
  };
}

export interface SeedOptions {
  /** copy every platform of an index (skopeo --all) */
  all?: boolean;
  /** convert the manifest (skopeo --format); without it digests are preserved (--preserve-digests) */
  format?: 'v2s2' | 'oci';
  /** 'user:password' for the destination */
  creds?: string;
}

const run = promisify(execFile);

/** Isolated skopeo: own HOME / auth file, plain HTTP to the loopback registry. */
export async function skopeo(args: string[], timeoutMs = 120_000): Promise<{ stdout: string; stderr: string }> {
  const home = await makeTempDir('skopeo');
  const env = {
    ...process.env,
    HOME: home,
    XDG_RUNTIME_DIR: home,
    XDG_CONFIG_HOME: home,
    REGISTRY_AUTH_FILE: join(home, 'auth.json'),
    DOCKER_CONFIG: home,
  };
  try {
    return await run('skopeo', args, { env, timeout: timeoutMs, maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`skopeo ${args.join(' ')} failed: ${e.stderr || e.message}`);
  } finally {
    await removeTempDir(home);
  }
}

/**
 * skopeo 1.9 resolves `oci:DIR:TAG` only to OCI media types; for a Docker-typed entry, stage the same bytes as a
 * `dir:` transport directory (hard links) so the push still preserves digests. Undefined when not needed.
 */
async function dockerTypedAsDir(layoutRef: string, stage: string): Promise<string | undefined> {
  const m = /^oci:(.+):([^:/]+)$/.exec(layoutRef);
  if (!m) return undefined;
  const [, dir, tag] = m as unknown as [string, string, string];
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: Array<{ mediaType: string; digest: string; annotations?: Record<string, string> }>;
  };
  const desc = index.manifests.find((d) => d.annotations?.[REF_NAME] === tag);
  if (!desc || desc.mediaType.startsWith('application/vnd.oci.')) return undefined;
  const blob = (digest: string): string => join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const place = async (digest: string, name: string): Promise<void> => {
    await link(blob(digest), join(stage, name)).catch(() => copyFile(blob(digest), join(stage, name)));
  };
  await writeFile(join(stage, 'version'), 'Directory Transport Version: 1.1\n');
  await place(desc.digest, 'manifest.json');
  type M = { manifests?: Array<{ digest: string }>; config?: { digest: string }; layers?: Array<{ digest: string }> };
  const root = JSON.parse(await readFile(blob(desc.digest), 'utf8')) as M;
  const images: M[] = [root];
  for (const child of root.manifests ?? []) {
    await place(child.digest, `${child.digest.slice('sha256:'.length)}.manifest.json`);
    images.push(JSON.parse(await readFile(blob(child.digest), 'utf8')) as M);
  }
  const blobs = new Set(
    images.flatMap((i) => [...(i.config ? [i.config.digest] : []), ...(i.layers ?? []).map((l) => l.digest)]),
  );
  for (const d of blobs) await place(d, d.slice('sha256:'.length));
  return `dir:${stage}`;
}

/** Push `oci:DIR:TAG` (any skopeo source) to `HOST/repo:tag`; returns the pushed manifest digest. */
export async function seedImage(layoutRef: string, dest: string, opts: SeedOptions = {}): Promise<{ digest: string }> {
  const tmp = await makeTempDir('seed');
  try {
    const stage = join(tmp, 'src');
    await mkdir(stage);
    const source = (await dockerTypedAsDir(layoutRef, stage)) ?? layoutRef;
    const digestFile = join(tmp, 'digest');
    const args = ['copy', '--quiet', '--dest-tls-verify=false', '--digestfile', digestFile];
    if (opts.all) args.push('--all');
    if (opts.format) args.push('--format', opts.format);
    else args.push('--preserve-digests');
    args.push(...(opts.creds ? ['--dest-creds', opts.creds] : ['--dest-no-creds']));
    args.push(source, dest.includes('://') ? dest : `docker://${dest}`);
    await skopeo(args);
    return { digest: (await readFile(digestFile, 'utf8')).trim() };
  } finally {
    await removeTempDir(tmp);
  }
}
