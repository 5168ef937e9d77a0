// OCI image layout directories as sources and destinations: verified blobs renamed into place, index.json upserted
// under a lock.
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { DigestError, RegctlError, UsageError, hasCode } from '../errors.js';
import type { Location } from '../location/parse.js';
import { type Digest, algorithmOf, digestOf } from '../oci/digest.js';
import { type Descriptor, type FetchedManifest, parseManifest } from '../oci/manifest.js';
import { MT } from '../oci/media-types.js';
import { TempTracker, mkdirInside, safeJoin, syncDir, tempNameFor, withLock, writeAtomic } from '../util/fs.js';
import { readRegular } from '../util/read.js';
import { DirFiles, LayoutSource, REF_NAME, blobName, pickEntry, readIndex, readJsonFile } from './layout-read.js';
import type { Bytes, ImageDestination, ImageSource, Reused } from './types.js';
import { MAX_JSON_BYTES } from '../oci/limits.js';

const OCI_LAYOUT_FILE = '{"imageLayoutVersion":"1.0.0"}';

/** Opens a layout directory for reading; the image is picked by tag, by digest, or as the only one. */
export async function openOciLayoutSource(
  loc: { path: string; tag?: string; digest?: Digest },
  signal?: AbortSignal,
): Promise<ImageSource> {
  const st = await stat(loc.path).catch(() => undefined);
  if (!st) throw new UsageError(`oci:${loc.path}: no such directory`);
  if (!st.isDirectory())
    throw new UsageError(`oci:${loc.path}: not a directory`, 'use oci-archive: or docker-archive: for a tar file');
  const files = new DirFiles(loc.path);
  if (!(await files.exists('oci-layout')))
    throw new UsageError(`oci:${loc.path}: not an OCI image layout (no oci-layout file)`);
  const marker = (await readJsonFile(files, 'oci-layout', signal)) as { imageLayoutVersion?: unknown } | null;
  if (typeof marker?.imageLayoutVersion !== 'string')
    throw new UsageError(`oci:${loc.path}: oci-layout has no imageLayoutVersion`);
  return new LayoutSource({ kind: 'oci', path: loc.path, tag: loc.tag, digest: loc.digest }, files, {
    tag: loc.tag,
    digest: loc.digest,
  });
}

/**
 * Streams `src` to blobs/ALG/HEX under `root` through a temp name, then renames it. The bytes come through the copy
 * engine's verified() (src/copy/verify.ts), which fails before the last chunk of a blob that does not match its
 * digest, so the size is checked here and the digest is not hashed a second time.
 */
async function writeVerifiedBlob(
  root: string,
  desc: Descriptor,
  src: Bytes,
  temps: TempTracker,
  signal?: AbortSignal,
): Promise<void> {
  const final = safeJoin(root, blobName(desc.digest));
  await mkdirInside(root, dirname(blobName(desc.digest)));
  await writeAtomic(final, sized(src, desc), signal, { temps, sync: false });
}

/**
 * The bytes of `src`, failing (DigestError) as soon as there are more than the descriptor's size, or at the end fewer.
 */
export async function* sized(src: Bytes, desc: Descriptor): Bytes {
  let n = 0;
  for await (const chunk of src) {
    n += chunk.byteLength;
    if (n > desc.size) throw new DigestError('SIZE_EXCEEDED', desc.digest, desc.size, n);
    yield chunk;
  }
  if (n !== desc.size) throw new DigestError('SHORT_READ', desc.digest, desc.size, n);
}

/** Checks a manifest's bytes against its descriptor before they are stored. */
function checkManifest(m: FetchedManifest): void {
  const digest = digestOf(m.bytes, algorithmOf(m.desc.digest));
  if (digest !== m.desc.digest || m.bytes.byteLength !== m.desc.size) {
    throw new DigestError('MISMATCH', m.desc.digest, m.desc.size, m.bytes.byteLength, 'manifest');
  }
}

export interface LayoutWriterOptions {
  /** Extra annotations on the index.json entry (docker-archive adds io.containerd.image.name). */
  annotations?: Record<string, string>;
  /**
   * `dir` is a staging directory for a new layout at this path: built there, renamed to it by commit() (merged into
   * it, if another writer created it meanwhile), removed by abort(). Nothing appears at the path before commit.
   */
  finalPath?: string;
}

/** Writes images into a layout directory; also the staging area of the archive destinations. */
export class OciLayoutDestination implements ImageDestination {
  readonly caps = { concurrentWrites: true, keepsIndex: true };
  readonly temps = new TempTracker();
  root?: FetchedManifest;
  private rootTag?: string;
  private committed?: { tag?: string };

  constructor(
    readonly location: Location,
    readonly dir: string,
    readonly tag?: string,
    private readonly opts: LayoutWriterOptions = {},
  ) {}

  /** The tag the root is (or will be) written under: the engine's, else the location's. */
  get effectiveTag(): string | undefined {
    return this.rootTag ?? this.tag;
  }

  async resolve(signal: AbortSignal): Promise<Descriptor | undefined> {
    if (this.tag === undefined) return undefined;
    const files = new DirFiles(this.dir);
    if (!(await files.exists('index.json'))) return undefined;
    let entry: Descriptor | undefined;
    try {
      entry = pickEntry(await readIndex(files, signal), { tag: this.tag }, this.dir);
    } catch (err) {
      if (hasCode(err, 'NOT_FOUND')) return undefined;
      throw err;
    }
    // Only trust the entry if its manifest is really there.
    return entry && (await files.size(blobName(entry.digest))) === entry.size ? entry : undefined;
  }

  /** A local destination reuses a blob it holds already (the file is there, whole). */
  async tryReuse(desc: Descriptor): Promise<Reused | undefined> {
    return (await this.hasBlob(desc)) ? 'exists' : undefined;
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    const st = await lstat(safeJoin(this.dir, blobName(desc.digest))).catch(() => undefined);
    return st !== undefined && st.isFile() && st.size === desc.size;
  }

  async putBlob(desc: Descriptor, openBytes: () => Promise<Bytes>, signal: AbortSignal): Promise<void> {
    if (await this.hasBlob(desc)) return;
    await writeVerifiedBlob(this.dir, desc, await openBytes(), this.temps, signal);
  }

  async putManifest(m: FetchedManifest, tag: string | undefined, signal: AbortSignal): Promise<void> {
    checkManifest(m);
    if (!(await this.hasBlob(m.desc))) {
      const path = safeJoin(this.dir, blobName(m.desc.digest));
      await mkdirInside(this.dir, dirname(blobName(m.desc.digest)));
      await writeAtomic(path, m.bytes, signal);
    }
    // The root comes last; the tag is given with it.
    this.root = m;
    if (tag !== undefined) this.rootTag = tag;
  }

  async commit(signal: AbortSignal): Promise<void> {
    if (!this.root) throw new RegctlError('NOTHING_TO_COMMIT', `${this.dir}: no manifest was written`);
    const tag = this.effectiveTag;
    const final = this.opts.finalPath;
    if (final === undefined) await updateIndex(this.dir, this.root.desc, tag, this.opts.annotations ?? {}, signal);
    else {
      await publishLayout(this.dir, final, this.root.desc, tag, this.opts.annotations ?? {}, signal);
      this.temps.forget(this.dir);
    }
    this.committed = { tag };
  }

  async abort(): Promise<void> {
    await this.temps.cleanup();
  }

  describe(digest: Digest): string {
    const tag = this.committed ? this.committed.tag : this.effectiveTag;
    return `oci:${(this.location as { path: string }).path}${tag ? `:${tag}` : ''}@${digest}`;
  }
}

/**
 * Adds (or replaces, for the same tag) the entry for `desc` in DIR/index.json, atomically under DIR/index.json.lock.
 */
async function updateIndex(
  dir: string,
  desc: Descriptor,
  tag: string | undefined,
  annotations: Record<string, string>,
  signal?: AbortSignal,
): Promise<void> {
  const indexPath = join(dir, 'index.json');
  await withLock(
    indexPath,
    async () => {
      let raw: Record<string, unknown> = {};
      const read = readRegular(indexPath, MAX_JSON_BYTES, { noFollow: true, signal });
      const text = await read.catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (text) {
        try {
          parseManifest(text); // refuse to rewrite an index.json we cannot read
          raw = JSON.parse(text.toString('utf8')) as typeof raw;
        } catch (err) {
          throw new RegctlError('LAYOUT_INVALID', `${indexPath} is not a valid image index; not overwriting it`, {
            cause: err,
            exitCode: 2,
          });
        }
      }
      const old = Array.isArray(raw.manifests)
        ? (raw.manifests as Array<{ digest?: string; annotations?: Record<string, string> }>)
        : [];
      const kept = old.filter((e) =>
        tag !== undefined
          ? e.annotations?.[REF_NAME] !== tag
          : !(e.digest === desc.digest && e.annotations?.[REF_NAME] === undefined),
      );
      const entry: Record<string, unknown> = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
      if (desc.platform) entry.platform = desc.platform;
      const notes = { ...annotations, ...(tag !== undefined ? { [REF_NAME]: tag } : {}) };
      if (Object.keys(notes).length) entry.annotations = notes;
      const doc = { schemaVersion: 2, mediaType: MT.ociIndex, ...raw, manifests: [...kept, entry] };
      const layoutPath = join(dir, 'oci-layout');
      if (!(await stat(layoutPath).catch(() => undefined)))
        await writeAtomic(layoutPath, Buffer.from(OCI_LAYOUT_FILE), signal);
      await writeAtomic(indexPath, Buffer.from(`${JSON.stringify(doc)}\n`), signal);
    },
    signal,
  );
}

/**
 * Puts the complete layout built in `staging` at `final`: one rename when `final` is missing or an empty directory;
 * else (another writer got there first) its verified blobs are moved in and the image added to final's index.json.
 */
async function publishLayout(
  staging: string,
  final: string,
  desc: Descriptor,
  tag: string | undefined,
  annotations: Record<string, string>,
  signal: AbortSignal,
): Promise<void> {
  await updateIndex(staging, desc, tag, annotations, signal);
  signal?.throwIfAborted();
  try {
    await rename(staging, final);
    await syncDir(dirname(final));
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!['EEXIST', 'ENOTEMPTY', 'EBUSY', 'EXDEV', 'EPERM', 'EISDIR'].includes(code)) throw err;
  }
  for (const alg of await readdir(join(staging, 'blobs')).catch(() => [] as string[])) {
    await mkdir(join(final, 'blobs', alg), { recursive: true });
    for (const name of await readdir(join(staging, 'blobs', alg))) {
      const to = join(final, 'blobs', alg, name);
      if (await stat(to).catch(() => undefined)) continue;
      const from = join(staging, 'blobs', alg, name);
      await rename(from, to).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EXDEV') throw err;
        await writeAtomic(to, createReadStream(from), signal, { sync: false });
      });
    }
  }
  await updateIndex(final, desc, tag, annotations, signal);
  await rm(staging, { recursive: true, force: true });
}

/**
 * Opens (creating if missing) a layout directory to write an image into; refuses a non-empty directory that is not a
 * layout.
 */
export async function openOciLayoutDestination(
  loc: { path: string; tag?: string },
  signal?: AbortSignal,
): Promise<ImageDestination> {
  signal?.throwIfAborted();
  const st = await stat(loc.path).catch(() => undefined);
  if (st && !st.isDirectory()) throw new UsageError(`oci:${loc.path}: exists and is not a directory`);
  if (st) {
    const names = await readdir(loc.path);
    if (names.length && !names.includes('oci-layout') && !names.includes('index.json') && !names.includes('blobs')) {
      throw new UsageError(
        `oci:${loc.path}: a non-empty directory that is not an OCI layout`,
        'write into a new or empty directory',
      );
    }
  }
  const location: Location = { kind: 'oci', path: loc.path, tag: loc.tag };
  // An existing layout gets whole, verified blobs only (each renamed into place), and its index.json last.
  if (st && (await readdir(loc.path)).length) return new OciLayoutDestination(location, loc.path, loc.tag);
  // A new layout is built beside its path and renamed there when complete: a failure or Ctrl-C leaves nothing at it.
  const parent = dirname(resolve(loc.path));
  await mkdir(parent, { recursive: true });
  const staging = tempNameFor(resolve(loc.path), 'new');
  const dest = new OciLayoutDestination(location, staging, loc.tag, { finalPath: loc.path });
  dest.temps.add(dest.dir);
  return dest;
}
