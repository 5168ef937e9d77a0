// Blob reuse in a registry repository: HEAD, a mount within the registry, a blob another copy of this run placed.
import type { Descriptor } from '../oci/manifest.js';
import type { ReuseHints, Reused, RegistryRepo } from './types.js';

/** What reuse needs of a registry destination. */
export interface RepositoryBlobs {
  readonly here: RegistryRepo;
  /**
   * The registry mounts only blobs a manifest in the source repository already references (ECR, whose blob-mounting
   * docs and aws/containers-roadmap#2860 say so); elsewhere a mount needs only the blob.
   */
  readonly mountsReferencedOnly: boolean;
  has(desc: Descriptor, signal: AbortSignal): Promise<boolean>;
  /** A cross-repository mount within this registry; false when refused (then upload). */
  mount(desc: Descriptor, from: RegistryRepo, signal: AbortSignal): Promise<boolean>;
}

/** How a placement taken in tryReuse ends: settled by the upload that follows (true: the blob is now there). */
export type Settle = (ok: boolean) => void;

/**
 * Finds the blob in place or mounts it. With a run's shared cache, copies that need a blob in one repository place it
 * there once (upload or mount): two placements at once rewrite distribution's link file while the other copy's
 * manifest PUT reads it (MANIFEST_BLOB_UNKNOWN). Not reused: `settle` is the placement the upload must settle.
 */
export async function reuseIn(
  r: RepositoryBlobs,
  desc: Descriptor,
  hints: ReuseHints,
  signal: AbortSignal,
): Promise<{ reused?: Reused; settle?: Settle }> {
  const shared = hints.shared;
  if (!shared) return { reused: await lookFor(r, desc, hints, signal) };
  const placement = await shared.take(`blob:${r.here.host}/${r.here.repository}@${desc.digest}`);
  // Another copy of this run placed it here.
  if (!placement) return { reused: 'exists' };
  let reused: Reused | undefined;
  try {
    reused = await lookFor(r, desc, hints, signal);
  } catch (err) {
    placement(false);
    throw err;
  }
  if (reused) {
    placement(true);
    return { reused };
  }
  // This copy uploads it: the others in this registry wait for the upload, then mount.
  const claim = shared.claim(r.here, desc.digest);
  return {
    settle: (ok) => {
      claim(ok);
      placement(ok);
    },
  };
}

async function lookFor(
  r: RepositoryBlobs,
  desc: Descriptor,
  hints: ReuseHints,
  signal: AbortSignal,
): Promise<Reused | undefined> {
  const { here } = r;
  const shared = hints.shared;
  // Where mounts need a manifest referencing the blob in the repository mounted from (ECR), only a repository whose
  // image has its manifests written is asked; the others would open an upload session instead of mounting.
  const mountable = (repo: RegistryRepo) => !r.mountsReferencedOnly || Boolean(shared?.isReferenced(repo, desc.digest));
  const elsewhere = (repo: RegistryRepo | undefined): repo is RegistryRepo =>
    repo !== undefined && repo.host === here.host && repo.repository !== here.repository;
  // Another copy of this run (sync) wrote the blob into another repository of this registry: mount it without a HEAD
  // first (a mount is answered 201 even when the repository has the blob already); refused → the usual path.
  const known = shared?.find(here.host, desc.digest);
  if (known && elsewhere(known.repo) && (await known.done) && mountable(known.repo)) {
    if (await r.mount(desc, known.repo, signal)) return 'mounted';
  }
  if (await r.has(desc, signal)) return 'exists';
  if (elsewhere(hints.from) && (await r.mount(desc, hints.from, signal))) return 'mounted';
  // Another copy of this run wrote the blob into this registry (the engine waited for it, outside the limiter): mount.
  const other = shared?.find(here.host, desc.digest);
  if (other && (await other.done)) {
    // Into this very repository: that upload was answered 201, so the blob is here. Not asked again by HEAD: this
    // destination may still hold the repository for absent (it was, when this copy began) and would upload the blob
    // a second time, racing the other copy's manifest PUT on distribution's link file (MANIFEST_BLOB_UNKNOWN).
    if (other.repo.repository === here.repository) return 'exists';
    if (mountable(other.repo) && (await r.mount(desc, other.repo, signal))) return 'mounted';
  }
  return undefined;
}
