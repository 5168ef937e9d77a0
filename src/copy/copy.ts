// copyImage: resolve both sides (HEAD first), plan, move blobs largest first, write manifests children-first, tag last,
// commit.
import { RegctlError, isAbortError } from '../errors.js';
import { formatLocation } from '../location/parse.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { type Platform, hostPlatform } from '../oci/platform.js';
import type { Bytes, ImageDestination, ImageSource, RetryBudget } from '../transports/types.js';
import type { EventSink } from './events.js';
import { gzip, gzippedType, withLayers } from './compress.js';
import { compressedUpToDate } from './compressed-up-to-date.js';
import { expand, selectRoot } from './plan.js';
import type { SharedBlobs } from './shared.js';
import { Slots, runPool } from './pool.js';
import { resumable, verified } from './verify.js';

export interface CopyOptions {
  jobs: number;
  /** Transfers at once while the blobs are small (`Slots`' lightLimit); `jobs` when absent. */
  lightJobs?: number;
  platforms?: Platform[];
  /** The tag to write the root under (registry: the destination's tag; layouts: the ref name). */
  tag?: string;
  retries?: number;
  signal: AbortSignal;
  onEvent?: EventSink;
  /** Blob slots shared by several copies (sync): blob transfers of all of them, small ones included, run on them. */
  blobSlots?: Slots;
  /** Blob work shared by several copies: a blob is uploaded once per registry and mounted elsewhere. */
  shared?: SharedBlobs;
  /** With `platforms`, over an index: annotations on the sub-index, and an index even for one platform (sync). */
  subIndex?: { annotations?: Record<string, string>; alwaysIndex?: boolean };
  /** Both sides already resolved by the caller (sync's plan HEADs them): skip the HEADs of step 1. */
  resolved?: { source: Descriptor; destination: Descriptor | undefined };
}

export interface CopyResult {
  digest: Digest;
  mediaType: string;
  upToDate: boolean;
  bytesSent: number;
  blobs: { sent: number; existed: number; mounted: number };
  /** `ref@digest` of the destination, to print. */
  reference: string;
  /** The root's platforms (an index's entries, or the one image's where an index named it), when the root was read. */
  platforms?: Platform[];
}

type BlobOutcome = 'exists' | 'mounted' | 'sent';

/**
 * One blob: the destination is asked whether it can reuse it (present, mounted, placed by another copy of this run);
 * otherwise its bytes stream from the source, verified.
 */
export async function copyBlob(
  src: ImageSource,
  dst: ImageDestination,
  desc: Descriptor,
  opts: CopyOptions,
  signal: AbortSignal,
): Promise<BlobOutcome> {
  const reused = await dst.tryReuse(desc, { from: src.registryRepo, shared: opts.shared }, signal);
  if (reused) {
    opts.onEvent?.({ type: 'blob', digest: desc.digest, size: desc.size, state: reused });
    return reused;
  }
  await upload(src, dst, desc, opts, signal);
  return 'sent';
}

/** A layer gzipped while it streams into a registry; its new descriptor is known at the end. */
async function compressBlob(
  src: ImageSource,
  dst: ImageDestination,
  desc: Descriptor,
  opts: CopyOptions,
  signal: AbortSignal,
): Promise<Descriptor> {
  const emit = opts.onEvent ?? (() => {});
  emit({ type: 'blob', digest: desc.digest, size: desc.size, state: 'start' });
  const out = await dst.putBlobComputed!(
    gzippedType(desc.mediaType)!,
    async () =>
      gzip(
        verified(
          resumable((offset, budget) => src.getBlob(desc, { offset, signal, budget }), desc, {
            retries: opts.retries ?? 3,
            signal,
            onBytes: (n) => emit({ type: 'bytes', digest: desc.digest, n }),
          }),
          desc,
        ),
      ),
    signal,
  );
  emit({ type: 'blob', digest: desc.digest, size: desc.size, state: 'done' });
  return out;
}

async function upload(
  src: ImageSource,
  dst: ImageDestination,
  desc: Descriptor,
  opts: CopyOptions,
  signal: AbortSignal,
): Promise<void> {
  const emit = opts.onEvent ?? (() => {});
  emit({ type: 'blob', digest: desc.digest, size: desc.size, state: 'start' });
  let sentBefore = 0;
  await dst.putBlob(
    desc,
    async (abandon) => {
      // A restarted upload re-reads from the start: take back what the failed attempt reported.
      if (sentBefore) emit({ type: 'bytes', digest: desc.digest, n: -sentBefore });
      sentBefore = 0;
      const s = abandon ? AbortSignal.any([signal, abandon]) : signal;
      // Asked for now, while the destination opens its session; read when the upload starts (or dropped by `abandon`).
      let first: Promise<Bytes> | undefined = src.getBlob(desc, { offset: 0, signal: s });
      first.catch(() => {});
      const read = (offset: number, budget: RetryBudget): Promise<Bytes> => {
        const p = offset === 0 && first ? first : src.getBlob(desc, { offset, signal: s, budget });
        first = undefined;
        return p;
      };
      const stream = resumable(read, desc, {
        retries: opts.retries ?? 3,
        signal,
        onBytes: (n) => {
          sentBefore += n;
          emit({ type: 'bytes', digest: desc.digest, n });
        },
        onRetry: (attempt, delayMs, reason) => {
          const what = `read of blob ${desc.digest} from the source ${sourceHost(src)}`;
          emit({ type: 'retry', what, attempt, delayMs, reason });
        },
      });
      return verified(stream, desc);
    },
    signal,
  );
  emit({ type: 'blob', digest: desc.digest, size: desc.size, state: 'done' });
}

export async function copyImage(src: ImageSource, dst: ImageDestination, opts: CopyOptions): Promise<CopyResult> {
  try {
    return await copyUnguarded(src, dst, opts);
  } catch (err) {
    // Whatever failed, cancel upload sessions and remove temporary files; nothing half-written stays.
    await dst.abort().catch(() => {});
    throw isAbortError(err) && opts.signal.aborted ? (opts.signal.reason ?? err) : err;
  }
}

async function copyUnguarded(src: ImageSource, dst: ImageDestination, opts: CopyOptions): Promise<CopyResult> {
  const emit = opts.onEvent ?? (() => {});
  const signal = opts.signal;
  emit({ type: 'resolving' });
  const [existing, srcDesc] = opts.resolved
    ? [opts.resolved.destination, opts.resolved.source]
    : await Promise.all([dst.resolve(signal), src.resolve(signal)]);
  if (!srcDesc) throw new RegctlError('NOT_FOUND', `${describeSource(src)}: image not found`);
  const selecting = Boolean(opts.platforms?.length) || dst.caps.maxPlatforms === 1 || !dst.caps.keepsIndex;
  const upToDate = (digest: Digest, mediaType: string): CopyResult => {
    emit({ type: 'up-to-date', digest });
    return {
      digest,
      mediaType,
      upToDate: true,
      bytesSent: 0,
      blobs: { sent: 0, existed: 0, mounted: 0 },
      reference: dst.describe(digest),
    };
  };
  // Cheap first: the destination already holds what the source's tag names, and no selection can change the root.
  if (existing && existing.digest === srcDesc.digest && (!selecting || isImageDesc(existing)))
    return upToDate(existing.digest, existing.mediaType);

  const fetchedRoot = await src.getManifest(srcDesc.digest, signal);
  let root = await selectRoot(src, fetchedRoot, {
    platforms: opts.platforms,
    singleImage: dst.caps.maxPlatforms === 1 || !dst.caps.keepsIndex,
    defaultPlatform: hostPlatform(),
    jobs: opts.jobs,
    signal,
    where: describeSource(src),
    annotations: opts.subIndex?.annotations,
    alwaysIndex: opts.subIndex?.alwaysIndex,
  });
  const platforms = platformsOf(root);
  if (existing && existing.digest === root.desc.digest) {
    return { ...upToDate(root.desc.digest, root.desc.mediaType), platforms };
  }
  // A classic `docker save` the registry already holds gzipped: same config and diff_ids, nothing to compress or send.
  if (existing && isImageDesc(existing) && (await compressedUpToDate(src, dst, root, existing, signal))) {
    return { ...upToDate(existing.digest, existing.mediaType), platforms };
  }

  const plan = await expand(src, root, { jobs: opts.jobs, signal });
  // A classic `docker save` holds uncompressed layers: a registry gets them gzipped (new digests).
  const compress = new Set<Digest>();
  if (src.caps.compressOnPush && dst.putBlobComputed && root.manifest.kind === 'image') {
    for (const l of root.manifest.layers) if (gzippedType(l.mediaType)) compress.add(l.digest);
  }
  const compressed = new Map<Digest, Descriptor>();
  await dst.expectBlobs?.(
    plan.blobs.filter((b) => !compress.has(b.digest)),
    signal,
  );
  emit({ type: 'plan', blobs: plan.blobs.length, bytes: plan.blobs.reduce((n, b) => n + b.size, 0) });
  const counts = { sent: 0, existed: 0, mounted: 0 };
  let bytesSent = 0;
  const limit = src.caps.concurrentReads && dst.caps.concurrentWrites ? opts.jobs : 1;
  const moveBlob = async (b: Descriptor, s: AbortSignal): Promise<BlobOutcome> => {
    if (!compress.has(b.digest)) return copyBlob(src, dst, b, opts, s);
    const out = await compressBlob(src, dst, b, opts, s);
    compressed.set(b.digest, out);
    bytesSent += out.size - b.size;
    return 'sent';
  };
  const shared = opts.shared;
  const outcomes = await runPool(
    plan.blobs.map((b) => ({
      weight: b.size,
      run: (s: AbortSignal) => moveBlob(b, s),
      // Wait for another copy's upload of this blob (sync) without holding a slot.
      ...(shared ? { before: () => shared.settled(dst.location, b.digest) } : {}),
    })),
    opts.blobSlots ?? new Slots(limit, limit > 1 ? (opts.lightJobs ?? limit) : 1),
    signal,
  );
  outcomes.forEach((o, i) => {
    if (o === 'sent') {
      counts.sent++;
      bytesSent += plan.blobs[i].size;
    } else if (o === 'exists') counts.existed++;
    else counts.mounted++;
  });
  if (compressed.size) {
    root = withLayers(root, compressed);
    emit({
      type: 'warning',
      message:
        `${compressed.size} uncompressed layer${compressed.size === 1 ? ' was' : 's were'} gzipped for the registry: ` +
        `the image digest is now ${root.desc.digest}`,
    });
  }
  // Children before their index; the deepest were collected first.
  await runPool(
    plan.children.map((m) => ({
      weight: 0,
      run: async (s: AbortSignal) => {
        // Copies of one run that share a child manifest (sync) push it into a repository once.
        const push = () => dst.putManifest(m, undefined, s);
        await (shared ? shared.manifestOnce(dst.location, m.desc.digest, push) : push());
        emit({ type: 'manifest', digest: m.desc.digest, state: 'pushed' });
      },
    })),
    opts.jobs,
    signal,
  );
  await dst.putManifest(root, opts.tag, signal);
  emit({ type: 'manifest', digest: root.desc.digest, state: 'pushed' });
  // Its manifests written, this repository may now be mounted from (ECR mounts only referenced blobs).
  shared?.referenced(
    dst.location,
    plan.blobs.map((b) => compressed.get(b.digest)?.digest ?? b.digest),
  );
  await dst.commit(signal);
  return {
    digest: root.desc.digest,
    mediaType: root.desc.mediaType,
    upToDate: false,
    bytesSent,
    blobs: counts,
    reference: dst.describe(root.desc.digest),
    platforms,
  };
}

/** An index's platforms (attestations, `unknown/unknown`, left out); an image's own where its descriptor names it. */
export function platformsOf(root: FetchedManifest): Platform[] {
  if (root.manifest.kind === 'index') {
    return root.manifest.manifests.flatMap((d) => (d.platform && d.platform.os !== 'unknown' ? [d.platform] : []));
  }
  return root.desc.platform ? [root.desc.platform] : [];
}

function isImageDesc(d: Descriptor): boolean {
  return !d.mediaType.includes('index') && !d.mediaType.includes('list');
}

/** The source's host (a registry) or path (a local location), for retry lines. */
function sourceHost(src: ImageSource): string {
  const l = src.location;
  return l.kind === 'registry' ? l.ref.registry : l.path;
}

/** The source as errors name it: a registry reference, or a local path alone. */
function describeSource(src: ImageSource): string {
  const l = src.location;
  return l.kind === 'registry' ? formatLocation(l) : l.path;
}
