// Reading `docker save` tarballs (classic, Docker 25+ OCI-in-tar, hybrids): pick an image, keep or synthesise its
// manifest.
import { createHash } from 'node:crypto';
import { RegctlError, UsageError } from '../errors.js';
import type { Location } from '../location/parse.js';
import { parseReference } from '../location/reference.js';
import { type Digest, digestOf, isDigest } from '../oci/digest.js';
import { type Descriptor, type FetchedManifest, toFetched } from '../oci/manifest.js';
import { MT } from '../oci/media-types.js';
import { LayoutSource, TarFiles, blobName, readIndex } from './layout-read.js';
import { loadTar } from './oci-archive.js';
import { type TarIndex, tarError } from './tar-index.js';
import type { Bytes, ImageSource } from './types.js';
import { MAX_JSON_BYTES } from '../oci/limits.js';

const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';

interface ManifestItem {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

/** Docker's short form of a reference: `docker.io/library/alpine:3.20` → `alpine:3.20`; a missing tag is `latest`. */
export function familiarName(text: string): { familiar: string; full: string; repo: string; tag: string } {
  const ref = parseReference(text);
  if (ref.digest && !ref.tag) throw new UsageError(`${text}: a docker-archive records names with a tag, not a digest`);
  const tag = ref.tag ?? 'latest';
  const repo =
    ref.registry === 'docker.io' ? ref.repository.replace(/^library\//, '') : `${ref.registry}/${ref.repository}`;
  return { familiar: `${repo}:${tag}`, full: `${ref.registry}/${ref.repository}:${tag}`, repo, tag };
}

function tryFamiliar(text: string): string {
  try {
    return familiarName(text).familiar;
  } catch {
    return text;
  }
}

function parseItems(doc: unknown, path: string): ManifestItem[] {
  const bad = (): never => {
    throw tarError(path, 'manifest.json is not a docker save manifest');
  };
  if (!Array.isArray(doc)) bad();
  return (doc as unknown[]).map((raw) => {
    const it = raw as Record<string, unknown>;
    if (typeof it !== 'object' || it === null || typeof it.Config !== 'string' || !Array.isArray(it.Layers)) bad();
    if (!(it.Layers as unknown[]).every((l) => typeof l === 'string')) bad();
    const tags = Array.isArray(it.RepoTags) ? it.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    return { Config: it.Config as string, Layers: it.Layers as string[], RepoTags: tags };
  });
}

function pickItem(items: ManifestItem[], name: string | undefined, path: string): ManifestItem {
  const all = items.flatMap((i) => i.RepoTags);
  const available = all.length ? `it has: ${all.join(', ')}` : 'it has no names';
  if (name !== undefined) {
    const want = familiarName(name).familiar;
    const hit = items.find((i) => i.RepoTags.some((t) => tryFamiliar(t) === want));
    if (!hit)
      throw new RegctlError('NOT_FOUND', `docker-archive:${path}: no image named ${want} (${available})`, {
        exitCode: 2,
      });
    return hit;
  }
  if (items.length === 1) return items[0];
  if (!items.length) throw tarError(path, 'manifest.json lists no image');
  throw new UsageError(
    `docker-archive:${path} holds ${items.length} images; name one as docker-archive:${path}:NAME:TAG (${available})`,
  );
}

async function sha256Of(stream: AsyncIterable<Uint8Array>): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk);
  return `sha256:${hash.digest('hex')}` as Digest;
}

function digestFromName(name: string): Digest | undefined {
  const m = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(name);
  const d = m ? `${m[1]}:${m[2]}` : '';
  return isDigest(d) ? d : undefined;
}

export class DockerArchiveSource implements ImageSource {
  readonly caps = { concurrentReads: true, compressOnPush: true };
  private built?: Promise<FetchedManifest>;
  /** Where each blob of the chosen image lies in the tar. */
  private readonly names = new Map<string, string>();

  constructor(
    readonly location: Location,
    private readonly tar: TarIndex,
    private readonly item: ManifestItem,
  ) {}

  private root(signal: AbortSignal): Promise<FetchedManifest> {
    this.built ??= this.build(signal);
    return this.built;
  }

  /** The image's first name in manifest.json (or the one asked for), kept when it is written again. */
  get imageName(): string | undefined {
    const asked = this.location.kind === 'docker-archive' ? this.location.name : undefined;
    return asked ?? this.item.RepoTags[0];
  }

  async resolve(signal: AbortSignal): Promise<Descriptor> {
    return (await this.root(signal)).desc;
  }

  private async build(signal: AbortSignal): Promise<FetchedManifest> {
    const configBytes = await this.tar.readBytes(this.item.Config, MAX_JSON_BYTES, signal);
    const configDigest = digestOf(configBytes);
    this.names.set(configDigest, this.item.Config);
    const kept = this.tar.has('index.json') ? await this.findOciManifest(configDigest, signal) : undefined;
    if (kept) return kept;
    let diffIds: unknown[] = [];
    try {
      const rootfs = (JSON.parse(Buffer.from(configBytes).toString('utf8')) as { rootfs?: { diff_ids?: unknown[] } })
        .rootfs;
      if (Array.isArray(rootfs?.diff_ids)) diffIds = rootfs.diff_ids;
    } catch {
      throw tarError(this.tar.path, `${this.item.Config} is not valid JSON`);
    }
    const layers: Descriptor[] = [];
    let zstd = false;
    for (const [i, name] of this.item.Layers.entries()) {
      const entry = this.tar.resolve(name);
      if (!entry) throw tarError(this.tar.path, `layer ${name} named in manifest.json is missing`);
      const head = await this.tar.readHead(name, 4, signal);
      const gzip = head[0] === 0x1f && head[1] === 0x8b;
      const isZstd = head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd;
      zstd ||= isZstd;
      const diffId = diffIds[i];
      // The digest is claimed by the blob's name or the config's diff_id, or computed; the copy engine verifies it as
      // it streams.
      const digest =
        digestFromName(entry.name) ??
        (!gzip && !isZstd && typeof diffId === 'string' && isDigest(diffId)
          ? diffId
          : await sha256Of(this.tar.open(name, { signal })));
      this.names.set(digest, name);
      const kind = gzip ? 'gzip' : isZstd ? 'zstd' : 'tar';
      layers.push({ mediaType: kind, digest, size: entry.size });
    }
    const oci = zstd;
    const layerType = (k: string): string =>
      oci
        ? k === 'gzip'
          ? MT.ociLayerGzip
          : k === 'zstd'
            ? MT.ociLayerZstd
            : MT.ociLayer
        : k === 'gzip'
          ? MT.dockerLayerGzip
          : DOCKER_LAYER;
    const mediaType = oci ? MT.ociManifest : MT.dockerManifest;
    const doc = {
      schemaVersion: 2,
      mediaType,
      config: { mediaType: oci ? MT.ociConfig : MT.dockerConfig, size: configBytes.byteLength, digest: configDigest },
      layers: layers.map((l) => ({ mediaType: layerType(l.mediaType), size: l.size, digest: l.digest })),
    };
    return toFetched(Buffer.from(JSON.stringify(doc)), mediaType);
  }

  /**
   * Docker 25+ keeps the registry's manifest (and maybe its index) in blobs/: use those bytes so digests are preserved.
   */
  private async findOciManifest(configDigest: Digest, signal: AbortSignal): Promise<FetchedManifest | undefined> {
    const files = new TarFiles(this.tar);
    const index = await readIndex(files, signal).catch(() => undefined);
    if (!index) return undefined;
    const read = async (d: Descriptor): Promise<FetchedManifest | undefined> =>
      this.tar.has(blobName(d.digest))
        ? toFetched(await files.readBytes(blobName(d.digest), MAX_JSON_BYTES, signal), d.mediaType, d.digest)
        : undefined;
    const complete = (m: FetchedManifest): boolean =>
      m.manifest.kind === 'image' &&
      [m.manifest.config, ...m.manifest.layers].every((b) => this.tar.has(blobName(b.digest)));
    for (const entry of index.manifests) {
      const m = await read(entry).catch(() => undefined);
      if (!m) continue;
      if (m.manifest.kind === 'image') {
        if (m.manifest.config.digest === configDigest && complete(m)) return m;
        continue;
      }
      let match: FetchedManifest | undefined;
      let whole = true;
      for (const child of m.manifest.manifests) {
        const c = await read(child).catch(() => undefined);
        if (!c || !complete(c)) whole = false;
        if (c && c.manifest.kind === 'image' && c.manifest.config.digest === configDigest && complete(c)) match = c;
      }
      if (match) return whole ? m : match;
    }
    return undefined;
  }

  async getManifest(digest: Digest | undefined, signal: AbortSignal): Promise<FetchedManifest> {
    const root = await this.root(signal);
    if (digest === undefined || digest === root.desc.digest) return root;
    return toFetched(await this.tar.readBytes(blobName(digest), MAX_JSON_BYTES, signal), undefined, digest);
  }

  async getBlob(desc: Descriptor, opts: { offset?: number; signal: AbortSignal }): Promise<Bytes> {
    await this.root(opts.signal);
    const name = this.names.get(desc.digest) ?? blobName(desc.digest);
    if (!this.tar.has(name))
      throw new RegctlError('NOT_FOUND', `docker-archive:${this.tar.path}: no blob ${desc.digest}`, { exitCode: 2 });
    return this.tar.open(name, { start: opts.offset ?? 0, signal: opts.signal });
  }

  async close(): Promise<void> {}
}

/** One image of a `docker save` tarball, as `regctl inspect` lists them. */
export interface ArchiveImage {
  /** RepoTags as docker wrote them (`docker save` of several images) */
  names: string[];
  /** the config digest: the image ID docker shows */
  id: Digest;
  platform?: string;
  created?: string;
  layers: number;
}

/** The images docker's manifest.json lists, in its order; undefined for a tar without one (an OCI layout). */
export async function listDockerArchive(path: string, signal?: AbortSignal): Promise<ArchiveImage[] | undefined> {
  const tar = await loadTar('docker-archive', path, signal);
  if (!tar.has('manifest.json')) return undefined;
  const out: ArchiveImage[] = [];
  for (const item of parseItems(await tar.readJson('manifest.json', signal), path)) {
    if (!tar.resolve(item.Config)) throw tarError(path, `config ${item.Config} named in manifest.json is missing`);
    const bytes = await tar.readBytes(item.Config, MAX_JSON_BYTES, signal);
    let cfg: { os?: unknown; architecture?: unknown; variant?: unknown; created?: unknown } = {};
    try {
      cfg = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof cfg;
    } catch {
      throw tarError(path, `${item.Config} is not valid JSON`);
    }
    const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
    const platform = [str(cfg.os), str(cfg.architecture), str(cfg.variant)].filter(Boolean).join('/') || undefined;
    const layers = item.Layers.length;
    out.push({ names: item.RepoTags, id: digestOf(bytes), platform, created: str(cfg.created), layers });
  }
  return out;
}

/** Opens a docker-archive for reading: the image named `NAME:TAG`, or the only one. */
export async function openDockerArchiveSource(
  loc: { path: string; name?: string },
  signal?: AbortSignal,
): Promise<ImageSource> {
  const tar = await loadTar('docker-archive', loc.path, signal);
  const location: Location = { kind: 'docker-archive', path: loc.path, name: loc.name };
  if (!tar.has('manifest.json')) {
    if (!tar.has('index.json'))
      throw new UsageError(`docker-archive:${loc.path}: no manifest.json in the archive (not a docker save tarball)`);
    // An OCI layout in a tar without docker's manifest: read it as such, the name selecting by ref or containerd name.
    const tag = loc.name === undefined ? undefined : familiarName(loc.name).full;
    return new LayoutSource(location, new TarFiles(tar), { tag });
  }
  const items = parseItems(await tar.readJson('manifest.json', signal), loc.path);
  return new DockerArchiveSource(location, tar, pickItem(items, loc.name, loc.path));
}
