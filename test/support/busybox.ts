// Runnable image fixtures from Debian's static busybox (busybox-static): an OCI layout, or a docker build context.
//
// API
//   BUSYBOX_BIN                       the static binary (/bin/busybox; REGCTL_TEST_BUSYBOX overrides)
//   hostPlatform(): Platform          linux/<node's arch in OCI spelling>
//   makeBusyboxLayout(dir, opts?)     an OCI layout in `dir` with one image tagged opts.tag ('latest'): a single gzip
//                                     layer of bin/ (0755), bin/busybox (0755), bin/sh -> busybox, plus opts.files;
//                                     config Env PATH=/bin, Cmd ['/bin/busybox','echo','hello from busybox'] unless
//                                     opts.config says otherwise. Reproducible (fixed mtimes, root owner).
//   makeBusyboxContext(dir, dockerfile)  a build context: bin/busybox (0755) and the given Dockerfile text
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import type { Platform } from './images.js';

export const BUSYBOX_BIN = process.env.REGCTL_TEST_BUSYBOX ?? '/bin/busybox';
export const BUSYBOX_GREETING = 'hello from busybox';

const FIXED_TIME = '2000-01-01T00:00:00Z';
const MTIME = new Date(FIXED_TIME);
const REF_NAME = 'org.opencontainers.image.ref.name';
const MT = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  },
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
} as const;

/** The container config fields the fixtures set (OCI image-spec config.config). */
export interface ContainerConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  Labels?: Record<string, string>;
}

export interface BusyboxOptions {
  tag?: string;
  mediaTypes?: 'oci' | 'docker';
  /** fields replacing the defaults (Env PATH=/bin, Cmd echo greeting) */
  config?: ContainerConfig;
  /** extra regular files (path → content, mode 0644) in the layer, e.g. to make images differ */
  files?: Record<string, string>;
}

export interface BusyboxFixture {
  dir: string;
  tag: string;
  manifestDigest: string;
  manifestMediaType: string;
  /** the image ID docker shows for it */
  configDigest: string;
  layerDigest: string;
  diffId: string;
  platform: Platform;
}

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export function hostPlatform(): Platform {
  const arch: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

async function layerTar(files: Record<string, string>): Promise<Buffer> {
  const busybox = await readFile(BUSYBOX_BIN);
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  const base = { uid: 0, gid: 0, mtime: MTIME };
  p.entry({ ...base, name: 'bin/', type: 'directory', mode: 0o755 });
  p.entry({ ...base, name: 'bin/busybox', mode: 0o755 }, busybox);
  p.entry({ ...base, name: 'bin/sh', type: 'symlink', linkname: 'busybox', mode: 0o777 });
  for (const name of Object.keys(files).sort()) p.entry({ ...base, name, mode: 0o644 }, files[name]);
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function putBlob(dir: string, bytes: Uint8Array): Promise<{ digest: string; size: number }> {
  const digest = sha256(bytes);
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
  return { digest, size: bytes.byteLength };
}

export async function makeBusyboxLayout(dir: string, opts: BusyboxOptions = {}): Promise<BusyboxFixture> {
  const mt = MT[opts.mediaTypes ?? 'oci'];
  const tag = opts.tag ?? 'latest';
  const platform = hostPlatform();
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const tar = await layerTar(opts.files ?? {});
  const diffId = sha256(tar);
  const layer = await putBlob(dir, gzipSync(tar, { level: 6 }));
  const config = {
    architecture: platform.architecture,
    os: platform.os,
    created: FIXED_TIME,
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/busybox', 'echo', BUSYBOX_GREETING], ...opts.config },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: FIXED_TIME, created_by: 'regctl test fixture: static busybox' }],
  };
  const cfg = await putBlob(dir, Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: mt.manifest,
    config: { mediaType: mt.config, digest: cfg.digest, size: cfg.size },
    layers: [{ mediaType: mt.layer, digest: layer.digest, size: layer.size }],
  };
  const m = await putBlob(dir, Buffer.from(JSON.stringify(manifest)));
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: mt.manifest, digest: m.digest, size: m.size, annotations: { [REF_NAME]: tag } }],
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
  return {
    dir,
    tag,
    manifestDigest: m.digest,
    manifestMediaType: mt.manifest,
    configDigest: cfg.digest,
    layerDigest: layer.digest,
    diffId,
    platform,
  };
}

export async function makeBusyboxContext(dir: string, dockerfile: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await copyFile(BUSYBOX_BIN, join(dir, 'bin', 'busybox'));
  await chmod(join(dir, 'bin', 'busybox'), 0o755);
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
}
