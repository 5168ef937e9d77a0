// The source/destination interface every location kind implements; the copy engine knows nothing else.
import type { Location } from '../location/parse.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import type { RetryBudget } from '../registry-client/retry.js';

export type { RetryBudget };

export type Bytes = AsyncIterable<Uint8Array>;

/** A repository in a registry: where a blob can be mounted from. */
export interface RegistryRepo {
  host: string;
  repository: string;
}

export interface SourceCaps {
  /** Blobs may be read concurrently (false for a tar read sequentially). */
  concurrentReads: boolean;
  /** Uncompressed layers (a classic `docker save`) are gzipped when they go to a registry; their digests change. */
  compressOnPush?: boolean;
}

export interface DestinationCaps {
  /** Blobs may be written concurrently. */
  concurrentWrites: boolean;
  /** 1 when the destination holds one platform only (docker-archive). */
  maxPlatforms?: 1;
  /** Whether an index can be stored as such (false: copy one platform's image). */
  keepsIndex: boolean;
}

/**
 * Where the copies of one run placed blobs (containers/image's BlobInfoCache), shared by their destinations; the copy
 * engine's SharedBlobs implements it. Keys name a placement (a blob or manifest in one repository).
 */
export interface BlobLocations {
  /** Where in `host` the blob is (or is being) uploaded by this run, and whether that ended well. */
  find(host: string, digest: Digest): { repo: RegistryRepo; done: Promise<boolean> } | undefined;
  /** Whether an image whose manifests `repo` holds references the blob (ECR mounts only such blobs). */
  isReferenced(repo: RegistryRepo, digest: Digest): boolean;
  /**
   * Takes the placement named `key` for this caller, after waiting for one in flight: answers how to settle it, or
   * undefined when another caller placed it already.
   */
  take(key: string): Promise<((ok: boolean) => void) | undefined>;
  /** Records that this caller uploads the blob into `repo` (others in that registry mount it after). */
  claim(repo: RegistryRepo, digest: Digest): (ok: boolean) => void;
}

/** What the engine knows of where a blob already is, for a destination's tryReuse. */
export interface ReuseHints {
  /** The source's registry repository: a registry destination in the same registry may mount the blob from it. */
  from?: RegistryRepo;
  /** Where the copies of this run (sync, a build's several destinations) placed blobs, and placements in flight. */
  shared?: BlobLocations;
}

/** How tryReuse found a blob already in place: present already, or mounted from another repository. */
export type Reused = 'exists' | 'mounted';

/**
 * Call order for a source: resolve → getManifest (root, then children) → getBlob (any order, concurrently when
 * caps.concurrentReads) → close.
 */
export interface ImageSource {
  readonly location: Location;
  readonly caps: SourceCaps;
  /** The root descriptor without fetching the manifest body where possible (HEAD; index.json). undefined: not found. */
  resolve(signal: AbortSignal): Promise<Descriptor | undefined>;
  /** The manifest by digest, or the root one when digest is undefined. Bytes are verified against the digest. */
  getManifest(digest: Digest | undefined, signal: AbortSignal): Promise<FetchedManifest>;
  /** A blob's bytes from `offset` (for resume). Callers verify them. */
  /** `budget`: the retries of the whole blob read (a resumed read), for a source whose requests retry on their own. */
  getBlob(desc: Descriptor, opts: { offset?: number; signal: AbortSignal; budget?: RetryBudget }): Promise<Bytes>;
  /** The registry host and repository, for cross-repository mounts (registry sources only). */
  readonly registryRepo?: RegistryRepo;
  /** The name the source records for its image (a docker-archive's RepoTags), for destinations that record one. */
  readonly imageName?: string;
  close(): Promise<void>;
}

/**
 * Call order for a destination: resolve → (tryReuse, then putBlob when not reused)* → putManifest (children first,
 * root last with its tag) → commit; abort on failure or interrupt (idempotent; after abort nothing is left
 * half-written).
 */
export interface ImageDestination {
  readonly location: Location;
  readonly caps: DestinationCaps;
  /** The descriptor currently stored under the destination's tag, or undefined. */
  resolve(signal: AbortSignal): Promise<Descriptor | undefined>;
  /**
   * containers/image's TryReusingBlob: whether the blob is already here or can be made so without its bytes (a local
   * file; a registry's HEAD, a mount within one registry, a blob another copy of this run placed). undefined: the
   * caller streams it with putBlob next, which it must then call (a registry holds the placement for it till then).
   */
  tryReuse(desc: Descriptor, hints: ReuseHints, signal: AbortSignal): Promise<Reused | undefined>;
  /**
   * Stores a blob. `open` is a thunk so a failed upload can restart with fresh bytes; the bytes it yields are verified.
   * It may start reading at once (a registry source sends its GET), so a destination can call it beside its own set-up
   * (a registry's POST); `abandon`, when given and aborted, drops bytes the destination will not read after all.
   */
  putBlob(desc: Descriptor, open: (abandon?: AbortSignal) => Promise<Bytes>, signal: AbortSignal): Promise<void>;
  /**
   * Told, before any putBlob, which blobs the copy will put (sizes known): a tar destination places them in its output
   * at once and writes each straight to its place. Optional; blobs it was not told of are stored as usual.
   */
  expectBlobs?(blobs: Descriptor[], signal: AbortSignal): Promise<void>;
  /**
   * Stores a blob whose digest and size are known only once its bytes have streamed (a layer compressed on the
   * way); answers its descriptor. Registry destinations only.
   */
  putBlobComputed?(mediaType: string, open: () => Promise<Bytes>, signal: AbortSignal): Promise<Descriptor>;
  /**
   * A manifest the destination holds, by digest (registry destinations): lets a re-push of a classic `docker save`,
   * whose layers the registry holds gzipped, be told up to date by its config and diff_ids.
   */
  getManifest?(digest: Digest, signal: AbortSignal): Promise<FetchedManifest>;
  /** Stores a manifest's exact bytes; `tag` is given for the root only. */
  putManifest(m: FetchedManifest, tag: string | undefined, signal: AbortSignal): Promise<void>;
  /** Makes the written image visible (local: rename into place, update index.json under a lock). */
  commit(signal: AbortSignal): Promise<void>;
  /** Cancels upload sessions and removes temporary files. Idempotent. */
  abort(): Promise<void>;
  /** The reference to print after a copy (`host/repo@digest`, `oci:path@digest`). */
  describe(digest: Digest): string;
}
