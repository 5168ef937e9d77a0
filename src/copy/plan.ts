// Planning a copy: which manifests to write (children before root), which blobs to move, platform selection.
import { RegctlError, UsageError } from '../errors.js';
import { type Digest, digestOf } from '../oci/digest.js';
import { MT } from '../oci/media-types.js';
import {
  type Descriptor,
  type FetchedManifest,
  type IndexManifest,
  blobsOf,
  encodeManifest,
  toFetched,
} from '../oci/manifest.js';
import { type Platform, formatPlatform, isAttestationEntry, platformMatches } from '../oci/platform.js';
import type { ImageSource } from '../transports/types.js';
import { checkImagePlatform } from './image-config.js';
import { runPool } from './pool.js';

export interface CopyPlan {
  /** The manifest to write last, under the tag. */
  root: FetchedManifest;
  /** Manifests to write before the root, in dependency order (deepest first). */
  children: FetchedManifest[];
  /** Distinct blobs to move. */
  blobs: Descriptor[];
}

const MAX_DEPTH = 4;

/** Picks the index entries for the wanted platforms; each platform must be found. */
export function selectPlatforms(index: IndexManifest, want: Platform[], where: string): Descriptor[] {
  const runnable = index.manifests.filter((d) => !isAttestationEntry(d));
  const chosen: Descriptor[] = [];
  for (const p of want) {
    const candidates = runnable.filter((d) => platformMatches(p, d.platform));
    // Prefer the entry without a variant (or the default one) when the user named none.
    const match = candidates.find((d) => p.variant !== undefined || !d.platform?.variant) ?? candidates[0];
    if (!match) {
      const have = runnable.map((d) => formatPlatform(d.platform)).join(', ');
      throw new RegctlError(
        'PLATFORM_NOT_FOUND',
        `${where} has no image for ${formatPlatform(p)} (it has: ${have || 'none'})`,
        { exitCode: 2 },
      );
    }
    if (!chosen.includes(match)) chosen.push(match);
  }
  return chosen;
}

/** A new index holding only some entries of an original one, of the same media type. */
export function subIndex(
  original: FetchedManifest,
  entries: Descriptor[],
  annotations?: Record<string, string>,
): FetchedManifest {
  const isOci = original.desc.mediaType !== MT.dockerList;
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: isOci ? MT.ociIndex : MT.dockerList,
    manifests: entries,
  };
  if (annotations && Object.keys(annotations).length) doc.annotations = annotations;
  const bytes = encodeManifest(doc);
  return toFetched(bytes, doc.mediaType as string, digestOf(bytes));
}

export interface PlanOptions {
  platforms?: Platform[];
  /** The destination holds a single image (docker-archive). */
  singleImage: boolean;
  defaultPlatform: Platform;
  jobs: number;
  signal: AbortSignal;
  where: string;
  /** Annotations on a sub-index written for a platform subset (sync records the source digest there). */
  annotations?: Record<string, string>;
  /** A subset of one platform is still written as an index (of one entry), not as that platform's image. */
  alwaysIndex?: boolean;
}

/** Narrows the root to what will be copied: the whole index, a sub-index, or one platform's image (checked). */
export async function selectRoot(src: ImageSource, root: FetchedManifest, opts: PlanOptions): Promise<FetchedManifest> {
  if (root.manifest.kind !== 'index') {
    // One platform's image named with --platform: it must be that platform (docker refuses a mismatch too).
    if (opts.platforms?.length) await checkImagePlatform(src, root, opts.platforms, opts.where, opts.signal);
    return root;
  }
  const want = opts.platforms?.length ? opts.platforms : opts.singleImage ? [opts.defaultPlatform] : undefined;
  if (!want) return root;
  if (opts.singleImage && want.length > 1)
    throw new UsageError('this destination holds one platform: give one --platform');
  const entries = selectPlatforms(root.manifest, want, opts.where);
  if (entries.length === 1 && !opts.alwaysIndex) {
    const child = await src.getManifest(entries[0].digest, opts.signal);
    if (child.manifest.kind === 'index') return selectRoot(src, child, opts);
    return child;
  }
  return subIndex(root, entries, opts.annotations);
}

/** Fetches the children of an index (concurrently) and collects every distinct blob. */
export async function expand(
  src: ImageSource,
  root: FetchedManifest,
  opts: { jobs: number; signal: AbortSignal },
): Promise<CopyPlan> {
  const children: FetchedManifest[] = [];
  const blobs = new Map<Digest, Descriptor>();
  const addBlobs = (m: FetchedManifest) => {
    if (m.manifest.kind !== 'image') return;
    for (const b of blobsOf(m.manifest)) {
      if (b.mediaType.includes('foreign') || b.mediaType.includes('nondistributable')) continue;
      if (!blobs.has(b.digest)) blobs.set(b.digest, b);
    }
  };
  const walk = async (m: FetchedManifest, depth: number): Promise<void> => {
    if (m.manifest.kind === 'image') return addBlobs(m);
    if (depth > MAX_DEPTH) throw new RegctlError('MANIFEST_INVALID', 'indexes nested too deeply');
    const fetched = await runPool(
      m.manifest.manifests.map((d) => ({
        weight: 0,
        run: async (signal: AbortSignal) => {
          const child = await src.getManifest(d.digest, signal);
          if (child.desc.digest !== d.digest)
            throw new RegctlError('DIGEST_MISMATCH', `child manifest ${d.digest} does not match its digest`);
          return child;
        },
      })),
      opts.jobs,
      opts.signal,
    );
    for (const child of fetched) {
      await walk(child, depth + 1);
      children.push(child);
    }
  };
  await walk(root, 0);
  return { root, children, blobs: [...blobs.values()] };
}
