// A built (or mutated) image as an ImageSource for the copy engine: manifests and configs from memory, new layers from
// temp files, base layers from the base image's own source; and a destination view that mounts base layers only.
import { UsageError } from '../errors.js';
import type { Location } from '../location/parse.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import type { Bytes, ImageDestination, ImageSource, RegistryRepo } from '../transports/types.js';
import { readLayerFile } from './layer.js';

export type BlobOrigin = { bytes: Uint8Array } | { path: string } | { source: ImageSource };

export interface MadeImage {
  root: FetchedManifest;
  children: FetchedManifest[];
  blobs: Map<Digest, BlobOrigin>;
  /** Where the base layers can be mounted from (a registry base). */
  baseRepo?: RegistryRepo;
  /** Blobs that exist in baseRepo (the only ones worth a mount request from there). */
  baseDigests: Set<Digest>;
}

async function* once(bytes: Uint8Array): Bytes {
  yield bytes;
}

export class MadeImageSource implements ImageSource {
  readonly caps = { concurrentReads: true };
  readonly registryRepo?: RegistryRepo;

  constructor(
    readonly location: Location,
    private readonly image: MadeImage,
  ) {
    this.registryRepo = image.baseRepo;
  }

  async resolve(): Promise<Descriptor | undefined> {
    return this.image.root.desc;
  }

  async getManifest(digest: Digest | undefined): Promise<FetchedManifest> {
    if (!digest || digest === this.image.root.desc.digest) return this.image.root;
    const m = this.image.children.find((c) => c.desc.digest === digest);
    if (!m) throw new UsageError(`manifest ${digest} is not part of the built image`);
    return m;
  }

  async getBlob(desc: Descriptor, opts: { offset?: number; signal: AbortSignal }): Promise<Bytes> {
    const o = this.image.blobs.get(desc.digest);
    if (!o) throw new UsageError(`blob ${desc.digest} is not part of the built image`);
    if ('bytes' in o) return once(o.bytes.subarray(opts.offset ?? 0));
    if ('path' in o) return readLayerFile(o.path, opts.offset ?? 0);
    return o.source.getBlob(desc, opts);
  }

  async close(): Promise<void> {}
}

/**
 * The destination as the copy engine sees it for a made image: mounts from the base's repository are tried for base
 * layers only (new layers and configs cannot be there); mounts from elsewhere (another destination of this run) pass.
 */
export function mountBaseOnly(dst: ImageDestination, image: MadeImage): ImageDestination {
  const base = image.baseRepo;
  const fromBase = (from: RegistryRepo | undefined) =>
    base !== undefined && from?.host === base.host && from.repository === base.repository;
  return {
    location: dst.location,
    caps: dst.caps,
    resolve: (s) => dst.resolve(s),
    tryReuse: (d, hints, s) => {
      const notThere = fromBase(hints.from) && !image.baseDigests.has(d.digest);
      return dst.tryReuse(d, notThere ? { ...hints, from: undefined } : hints, s);
    },
    putBlob: (d, open, s) => dst.putBlob(d, open, s),
    putManifest: (m, tag, s) => dst.putManifest(m, tag, s),
    commit: (s) => dst.commit(s),
    abort: () => dst.abort(),
    describe: (d) => dst.describe(d),
  };
}
