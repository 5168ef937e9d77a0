// Fixtures for build tests: a build context with modes, links and ignored files; rootfs listings; an image with
// whiteouts.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

export const run = promisify(execFile);

export interface FsEntry {
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  target?: string;
}

/** Every entry under `root` (relative paths), not following symlinks. */
export async function listTree(root: string, rel = ''): Promise<Map<string, FsEntry>> {
  const out = new Map<string, FsEntry>();
  for (const name of await readdir(join(root, rel))) {
    const p = rel ? `${rel}/${name}` : name;
    const s = await lstat(join(root, p));
    const type = s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'file';
    const e: FsEntry = { type, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid };
    if (type === 'symlink') e.target = await readlink(join(root, p));
    out.set(p, e);
    if (type === 'dir') for (const [k, v] of await listTree(root, p)) out.set(k, v);
  }
  return out;
}

async function put(dir: string, rel: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const p = join(dir, rel);
  await mkdir(join(p, '..'), { recursive: true });
  await writeFile(p, content);
  await chmod(p, mode);
}

/** A tar (gzip'd) built with tar-stream: entries with explicit owners. */
export async function tarGz(
  entries: Array<{ name: string; content?: string; type?: 'file' | 'directory'; uid?: number; mode?: number }>,
): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    p.entry(
      {
        name: e.name,
        type: e.type ?? 'file',
        mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644),
        uid: e.uid ?? 0,
        gid: e.uid ?? 0,
        mtime: new Date(0),
      },
      e.content ?? '',
    );
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

/** The context every build test uses: app files with modes, a symlink, globbed tools, an archive, ignored files. */
export async function makeContext(dir: string): Promise<void> {
  await put(dir, 'app/server.js', 'console.log("hi")\n');
  await put(dir, 'app/run.sh', '#!/bin/sh\nexec node server.js\n', 0o755);
  await put(dir, 'app/lib/util.js', 'module.exports = {}\n', 0o600);
  await symlink('server.js', join(dir, 'app/current'));
  await put(dir, 'config.json', '{"port":8080}\n');
  await put(dir, 'bin/tool-a', 'A', 0o755);
  await put(dir, 'bin/tool-b', 'B', 0o755);
  await put(dir, 'bin/readme.md', 'not a tool');
  await put(dir, 'notes.txt', 'notes\n');
  await put(dir, 'extra.txt', 'extra\n');
  await put(dir, 'debug.log', 'ignored\n');
  await put(dir, 'secret/key.pem', 'ignored\n');
  await put(dir, 'secret/public.pem', 're-included\n');
  await writeFile(
    join(dir, 'bundle.tar.gz'),
    await tarGz([
      { name: 'share/', type: 'directory', uid: 33 },
      { name: 'share/data.txt', content: 'data', uid: 33 },
    ]),
  );
  await writeFile(join(dir, '.dockerignore'), '# not in the image\n*.log\nsecret\n!secret/public.pem\n');
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An OCI layout whose second layer deletes a file (whiteout) and replaces a directory's contents (opaque). */
export async function makeWhiteoutLayout(dir: string): Promise<void> {
  const l1 = await tarGz([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345::/home/app:/bin/sh\n' },
    { name: 'etc/group', content: 'root:x:0:\napp:x:2345:\nstaff:x:50:\n' },
    { name: 'data/', type: 'directory' },
    { name: 'data/keep.txt', content: 'keep' },
    { name: 'data/gone.txt', content: 'gone' },
    { name: 'data/old/', type: 'directory' },
    { name: 'data/old/stale.txt', content: 'stale' },
  ]);
  const l2 = await tarGz([
    { name: 'data/.wh.gone.txt' },
    { name: 'data/old/', type: 'directory' },
    { name: 'data/old/.wh..wh..opq' },
    { name: 'data/old/fresh.txt', content: 'fresh', uid: 7 },
  ]);
  const tarOf = async (gz: Buffer) => (await import('node:zlib')).gunzipSync(gz);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [sha(await tarOf(l1)), sha(await tarOf(l2))] },
    }),
  );
  const layers = [l1, l2].map((b) => ({
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    digest: sha(b),
    size: b.length,
  }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers,
    }),
  );
  await mkdir(join(dir, 'blobs/sha256'), { recursive: true });
  for (const b of [l1, l2, config, manifest]) await writeFile(join(dir, 'blobs/sha256', sha(b).slice(7)), b);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const entry = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: sha(manifest),
    size: manifest.length,
    annotations: { 'org.opencontainers.image.ref.name': 'v1' },
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
}
