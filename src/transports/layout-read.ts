// Reading an OCI image layout held in a directory or a tar: index.json, picking an image by tag or digest, blobs by
// digest.
import { lstat } from 'node:fs/promises';
import { RegctlError, UsageError } from '../errors.js';
import type { Location } from '../location/parse.js';
import { type Digest, algorithmOf, hexOf, isDigest } from '../oci/digest.js';
import {
  type Descriptor,
  type FetchedManifest,
  type IndexManifest,
  parseManifest,
  toFetched,
} from '../oci/manifest.js';
import { safeJoin, unsafePath } from '../util/fs.js';
import { readRegular, streamRegular } from '../util/read.js';
import type { TarIndex } from './tar-index.js';
import type { Bytes, ImageSource } from './types.js';
import { MAX_JSON_BYTES } from '../oci/limits.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME = 'io.containerd.image.name';

/** The files of a layout, wherever they are stored. */
export interface LayoutFiles {
  readonly where: string;
  exists(name: string, signal?: AbortSignal): Promise<boolean>;
  size(name: string, signal?: AbortSignal): Promise<number | undefined>;
  readBytes(name: string, cap: number, signal?: AbortSignal): Promise<Uint8Array>;
  /** The bytes from `start`; with `size`, a file of any other size is refused before a byte is read. */
  open(name: string, start: number, signal?: AbortSignal, size?: number): Promise<Bytes>;
}

function notFound(where: string, name: string): RegctlError {
  return new RegctlError('NOT_FOUND', `${where}: ${name} is missing`, { exitCode: 2 });
}

/**
 * A layout directory: every file is opened without following a symbolic link, must be a regular file whose directory
 * resolves inside the layout, and is read with a cap (index.json as /dev/zero or a FIFO is refused, not read forever).
 */
export class DirFiles implements LayoutFiles {
  constructor(readonly where: string) {}

  async size(name: string): Promise<number | undefined> {
    const st = await lstat(safeJoin(this.where, name)).catch(() => undefined);
    return st?.isFile() ? st.size : undefined;
  }

  async exists(name: string): Promise<boolean> {
    return (await this.size(name)) !== undefined;
  }

  private opts(name: string) {
    return { noFollow: true, within: this.where, what: `${this.where}: ${name}` };
  }

  async readBytes(name: string, cap: number, signal?: AbortSignal): Promise<Uint8Array> {
    const path = safeJoin(this.where, name);
    return readRegular(path, cap, { ...this.opts(name), signal }).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? notFound(this.where, name) : err;
    });
  }

  async open(name: string, start: number, signal?: AbortSignal, size?: number): Promise<Bytes> {
    const path = safeJoin(this.where, name);
    return streamRegular(path, { ...this.opts(name), start, size, signal }).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? notFound(this.where, name) : err;
    });
  }
}

export class TarFiles implements LayoutFiles {
  readonly where: string;
  constructor(
    readonly tar: TarIndex,
    private readonly root = '',
  ) {
    this.where = tar.path;
  }

  private name(n: string): string {
    return this.root ? `${this.root}/${n}` : n;
  }

  async size(name: string): Promise<number | undefined> {
    return this.tar.resolve(this.name(name))?.size;
  }

  async exists(name: string): Promise<boolean> {
    return this.tar.has(this.name(name));
  }

  async readBytes(name: string, cap: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (!this.tar.has(this.name(name))) throw notFound(this.where, name);
    return this.tar.readBytes(this.name(name), cap, signal);
  }

  async open(name: string, start: number, signal?: AbortSignal, size?: number): Promise<Bytes> {
    const entry = this.tar.resolve(this.name(name));
    if (!entry) throw notFound(this.where, name);
    if (size !== undefined && entry.size !== size) {
      const why = `${this.where}: ${name} is ${entry.size} bytes, but its descriptor says ${size}`;
      throw new RegctlError('SIZE_MISMATCH', why, { exitCode: 2 });
    }
    return this.tar.open(this.name(name), { start, signal });
  }
}

/** `blobs/ALG/HEX`, only for a validated digest. */
export function blobName(digest: string): string {
  if (!isDigest(digest)) throw unsafePath(`invalid digest ${JSON.stringify(String(digest).slice(0, 140))}`);
  return `blobs/${algorithmOf(digest)}/${hexOf(digest)}`;
}

export async function readJsonFile(files: LayoutFiles, name: string, signal?: AbortSignal): Promise<unknown> {
  const bytes = await files.readBytes(name, MAX_JSON_BYTES, signal);
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new RegctlError('LAYOUT_INVALID', `${files.where}: ${name} is not valid JSON`, { exitCode: 2 });
  }
}

/** index.json, parsed (descriptors validated). */
export async function readIndex(files: LayoutFiles, signal?: AbortSignal): Promise<IndexManifest> {
  const bytes = await files.readBytes('index.json', MAX_JSON_BYTES, signal);
  let m;
  try {
    m = parseManifest(bytes);
  } catch (err) {
    throw new RegctlError('LAYOUT_INVALID', `${files.where}: index.json: ${(err as Error).message}`, { exitCode: 2 });
  }
  if (m.kind !== 'index')
    throw new RegctlError('LAYOUT_INVALID', `${files.where}: index.json is not an image index`, { exitCode: 2 });
  return m;
}

export function tagsOf(index: IndexManifest): string[] {
  return index.manifests.map((d) => d.annotations?.[REF_NAME]).filter((t): t is string => typeof t === 'string');
}

/** The entry for a tag (the last one written wins), a digest, or the only image. */
export function pickEntry(
  index: IndexManifest,
  sel: { tag?: string; digest?: Digest },
  where: string,
): Descriptor | undefined {
  const list = index.manifests;
  if (sel.digest) return list.find((d) => d.digest === sel.digest);
  const tags = tagsOf(index);
  const available = tags.length ? `tags: ${[...new Set(tags)].join(', ')}` : 'it has no tags';
  if (sel.tag !== undefined) {
    const byRef = list.filter((d) => d.annotations?.[REF_NAME] === sel.tag);
    const hit = byRef.length ? byRef : list.filter((d) => d.annotations?.[CONTAINERD_NAME] === sel.tag);
    if (hit.length) return hit[hit.length - 1];
    throw new RegctlError('NOT_FOUND', `${where}: no image tagged ${JSON.stringify(sel.tag)} (${available})`, {
      exitCode: 2,
    });
  }
  if (list.length === 1) return list[0];
  if (list.length === 0) throw new RegctlError('NOT_FOUND', `${where}: the layout holds no image`, { exitCode: 2 });
  throw new UsageError(`${where} holds ${list.length} images; name one by tag or digest (${available})`);
}

/** An ImageSource over a layout's files: index.json picks the root; manifests and blobs come from blobs/ALG/HEX. */
export class LayoutSource implements ImageSource {
  readonly caps = { concurrentReads: true };
  private root?: Promise<Descriptor>;
  private rootDesc?: Descriptor;

  constructor(
    readonly location: Location,
    private readonly files: LayoutFiles,
    private readonly sel: { tag?: string; digest?: Digest },
    private readonly cleanup: () => Promise<void> = async () => {},
  ) {}

  resolve(signal: AbortSignal): Promise<Descriptor> {
    this.root ??= this.findRoot(signal).then((d) => (this.rootDesc = d));
    return this.root;
  }

  private async findRoot(signal: AbortSignal): Promise<Descriptor> {
    const index = await readIndex(this.files, signal);
    const entry = pickEntry(index, this.sel, this.files.where);
    if (entry) return entry;
    // A digest that is not a top-level entry: any manifest blob in the layout (a child of an index, say).
    const digest = this.sel.digest as Digest;
    const name = blobName(digest);
    if (!(await this.files.exists(name, signal))) {
      throw new RegctlError('NOT_FOUND', `${this.files.where}: no manifest ${digest} in the layout`, { exitCode: 2 });
    }
    const fetched = toFetched(await this.files.readBytes(name, MAX_JSON_BYTES, signal), undefined, digest);
    return fetched.desc;
  }

  async getManifest(digest: Digest | undefined, signal: AbortSignal): Promise<FetchedManifest> {
    const want = digest ?? (await this.resolve(signal)).digest;
    const bytes = await this.files.readBytes(blobName(want), MAX_JSON_BYTES, signal);
    return toFetched(bytes, this.rootDesc?.digest === want ? this.rootDesc.mediaType : undefined, want);
  }

  async getBlob(desc: Descriptor, opts: { offset?: number; signal: AbortSignal }): Promise<Bytes> {
    return this.files.open(blobName(desc.digest), opts.offset ?? 0, opts.signal, desc.size);
  }

  async close(): Promise<void> {
    await this.cleanup();
  }
}
