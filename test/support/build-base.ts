// A Debian-shaped base for build tests, made with `regctl build` (FROM scratch, ADD of a tar with owners): /bin ->
// usr/bin, static busybox as usr/bin/busybox and sh, /tmp 1777, /home/app 0700 owned by app (1000), /usr/local/bin;
// and a reader of the tar entries of an image's layers in an OCI layout.
import { copyFile, chmod, chown, link, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { run } from './build-fixtures.js';
import { runCli } from './run-cli.js';

export const BUSYBOX = process.env.REGCTL_TEST_BUSYBOX ?? '/bin/busybox';
export const APP_UID = 1000;

/** The base's root filesystem as a directory (run as root: owners are set), then a tar of it. */
async function baseTar(dir: string): Promise<string> {
  const root = join(dir, 'rootfs');
  for (const d of ['usr/bin', 'usr/local/bin', 'etc', 'tmp', 'home/app', 'root']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await copyFile(BUSYBOX, join(root, 'usr/bin/busybox'));
  await chmod(join(root, 'usr/bin/busybox'), 0o755);
  await symlink('busybox', join(root, 'usr/bin/sh'));
  await symlink('usr/bin', join(root, 'bin'));
  const passwd = `root:x:0:0:root:/root:/bin/sh\napp:x:${APP_UID}:${APP_UID}:app:/home/app:/bin/sh\n`;
  await writeFile(join(root, 'etc/passwd'), passwd);
  await writeFile(join(root, 'etc/group'), `root:x:0:\napp:x:${APP_UID}:\n`);
  await writeFile(join(root, 'home/app/.profile'), 'export APP=1\n');
  for (const d of ['usr', 'usr/bin', 'usr/local', 'usr/local/bin', 'etc', 'home']) await chmod(join(root, d), 0o755);
  await chmod(join(root, 'etc/passwd'), 0o644);
  await chmod(join(root, 'etc/group'), 0o644);
  await chmod(join(root, 'tmp'), 0o1777);
  await chmod(join(root, 'root'), 0o700);
  await chmod(join(root, 'home/app'), 0o700);
  await chown(join(root, 'home/app'), APP_UID, APP_UID);
  await chown(join(root, 'home/app/.profile'), APP_UID, APP_UID);
  const tar = join(dir, 'rootfs.tar');
  await run('tar', ['--sort=name', '--mtime=@0', '--numeric-owner', '-C', root, '-cf', tar, '.']);
  return tar;
}

/**
 * The build context both parity suites copy from (regctl's build-layers and docker's docker-build): files, an
 * executable, a 0700 directory with a nested one, two names of one inode.
 */
export async function writeParityContext(ctx: string): Promise<void> {
  await mkdir(join(ctx, 'dir1/sub'), { recursive: true });
  await writeFile(join(ctx, 'a.txt'), 'a\n');
  await writeFile(join(ctx, 'b.txt'), 'b\n');
  await writeFile(join(ctx, 'tool'), '#!/bin/sh\necho tool\n');
  await chmod(join(ctx, 'tool'), 0o755);
  await writeFile(join(ctx, 'dir1/one.txt'), '1\n');
  await writeFile(join(ctx, 'dir1/sub/two.txt'), '2\n');
  await chmod(join(ctx, 'dir1'), 0o700);
  await mkdir(join(ctx, 'linked'));
  await writeFile(join(ctx, 'linked/first'), 'same inode\n');
  await link(join(ctx, 'linked/first'), join(ctx, 'linked/second'));
}

/** Builds the base with regctl into `dest` (e.g. REG/base/parity:v1); returns the image reference with its digest. */
export async function makeParityBase(dir: string, dest: string): Promise<string> {
  const ctx = join(dir, 'base-ctx');
  await mkdir(ctx, { recursive: true });
  const tar = await baseTar(dir);
  await copyFile(tar, join(ctx, 'rootfs.tar'));
  const df = 'FROM scratch\nADD rootfs.tar /\nENV PATH=/usr/local/bin:/usr/bin:/bin\nCMD ["/bin/sh"]\n';
  await writeFile(join(ctx, 'Dockerfile'), df);
  const r = await runCli(['build', '-t', dest, ctx], { env: { XDG_CACHE_HOME: join(dir, 'cache') } });
  if (r.code !== 0) throw new Error(`building the parity base failed: ${r.stderr}`);
  return r.stdout.trim();
}

export interface TarEntry {
  path: string;
  type: string;
  mode: string;
  uid: number;
  gid: number;
  size: number;
  link?: string;
}

/** The entries of one gzip'd layer tar, in order (mode in octal). */
export async function tarEntries(gz: Buffer): Promise<TarEntry[]> {
  const ex = extract();
  const out: TarEntry[] = [];
  const done = (async () => {
    for await (const e of ex) {
      const h = e.header;
      const mode = ((h.mode ?? 0) & 0o7777).toString(8);
      const t: TarEntry = { path: h.name, type: h.type ?? 'file', mode, uid: h.uid ?? 0, gid: h.gid ?? 0, size: 0 };
      t.size = h.size ?? 0;
      if (h.linkname) t.link = h.linkname;
      out.push(t);
      e.resume();
    }
  })();
  ex.end(gunzipSync(gz));
  await done;
  return out;
}

/** The image tagged `tag` in an OCI layout: its manifest's layers, each as its tar entries. */
export async function layoutLayers(layout: string, tag: string): Promise<TarEntry[][]> {
  const blob = (d: string) => readFile(join(layout, 'blobs', 'sha256', d.slice(7)));
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  type Entry = { digest: string; annotations?: Record<string, string> };
  const desc = index.manifests.find((m: Entry) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!desc) throw new Error(`no ${tag} in ${layout}`);
  const m = JSON.parse((await blob(desc.digest)).toString('utf8'));
  return Promise.all(m.layers.map(async (l: { digest: string }) => tarEntries(await blob(l.digest))));
}
