// Test helpers for the local transports: a minimal copy loop through the interface, byte readers, hostile tar builders.
import { pack } from 'tar-stream';
import { writeFile } from 'node:fs/promises';
import { verified } from '../../src/copy/verify.js';
import type { Digest } from '../../src/oci/digest.js';
import { type Descriptor, type FetchedManifest, blobsOf } from '../../src/oci/manifest.js';
import type { Bytes, ImageDestination, ImageSource } from '../../src/transports/types.js';

export const never = (): AbortSignal => new AbortController().signal;

export async function readAll(bytes: Bytes): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of bytes) parts.push(c);
  return Buffer.concat(parts);
}

/** Every manifest (children first, root last) and every distinct blob of the source's root. */
export async function collect(
  src: ImageSource,
  digest?: Digest,
): Promise<{ root: FetchedManifest; children: FetchedManifest[]; blobs: Descriptor[] }> {
  const signal = never();
  const root = await src.getManifest(digest, signal);
  const children: FetchedManifest[] = [];
  const blobs = new Map<string, Descriptor>();
  const visit = async (m: FetchedManifest): Promise<void> => {
    if (m.manifest.kind === 'index') {
      for (const c of m.manifest.manifests) {
        const cm = await src.getManifest(c.digest, signal);
        await visit(cm);
        children.push(cm);
      }
    } else for (const b of blobsOf(m.manifest)) blobs.set(b.digest, b);
  };
  await visit(root);
  return { root, children, blobs: [...blobs.values()] };
}

/** Writes the source's image into the destination by calling the interface directly, in the documented order. */
export async function transfer(
  src: ImageSource,
  dst: ImageDestination,
  opts: { tag?: string; digest?: Digest } = {},
): Promise<FetchedManifest> {
  const signal = never();
  const { root, children, blobs } = await collect(src, opts.digest);
  await Promise.all(
    blobs.map(async (b) => {
      if (await dst.tryReuse(b, {}, signal)) return;
      await dst.putBlob(b, async () => verified(await src.getBlob(b, { signal }), b), signal);
    }),
  );
  for (const m of children) await dst.putManifest(m, undefined, signal);
  await dst.putManifest(root, opts.tag, signal);
  await dst.commit(signal);
  return root;
}

/** Asserts helper: the bytes of every blob and manifest of `a` equal those read from `b`. */
export async function sameContent(a: ImageSource, b: ImageSource): Promise<{ root: FetchedManifest }> {
  const ca = await collect(a);
  const cb = await collect(b);
  if (Buffer.compare(Buffer.from(ca.root.bytes), Buffer.from(cb.root.bytes)) !== 0)
    throw new Error('root manifest bytes differ');
  if (ca.children.length !== cb.children.length) throw new Error('children differ');
  for (const [i, c] of ca.children.entries())
    if (c.desc.digest !== cb.children[i].desc.digest) throw new Error('child differs');
  for (const blob of ca.blobs) {
    const x = await readAll(await a.getBlob(blob, { signal: never() }));
    const y = await readAll(verified(await b.getBlob(blob, { signal: never() }), blob));
    if (Buffer.compare(x, y) !== 0) throw new Error(`blob ${blob.digest} differs`);
  }
  return { root: ca.root };
}

export type TarItem =
  | { name: string; body: string | Buffer }
  | { name: string; type: 'symlink' | 'link'; linkname: string }
  | { name: string; type: 'directory' };

/** A tar written with tar-stream (pax headers for long names), optionally cut short. */
export async function makeTar(path: string, items: TarItem[], opts: { truncateBy?: number } = {}): Promise<void> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => p.on('end', resolve));
  for (const it of items) {
    if ('body' in it) p.entry({ name: it.name }, it.body);
    else if (it.type === 'directory') p.entry({ name: it.name, type: 'directory' });
    else p.entry({ name: it.name, type: it.type, linkname: it.linkname });
  }
  p.finalize();
  await done;
  let all = Buffer.concat(chunks);
  if (opts.truncateBy) all = all.subarray(0, all.length - opts.truncateBy);
  await writeFile(path, all);
}
