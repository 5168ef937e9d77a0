// Blob work shared by the copies of one run (sync, multi-image): one upload per blob per registry, then mounts.
import type { Location } from '../location/parse.js';
import type { Digest } from '../oci/digest.js';
import type { BlobLocations, RegistryRepo } from '../transports/types.js';

/**
 * The blob-location cache of one run (containers/image's BlobInfoCache): where blobs are being, or have been, written
 * in each destination registry. Destinations consult it in tryReuse: a second image that needs the same blob in the
 * same registry waits for the first upload and mounts it instead of fetching it again.
 */
export class SharedBlobs implements BlobLocations {
  private readonly work = new Map<string, { repo: RegistryRepo; done: Promise<boolean> }>();

  private key(host: string, digest: Digest): string {
    return `${host}|${digest}`;
  }

  /** Where this blob is (or is being) written in `host`, and whether that finished well. */
  find(host: string, digest: Digest): { repo: RegistryRepo; done: Promise<boolean> } | undefined {
    return this.work.get(this.key(host, digest));
  }

  /** Waits for this run's upload of the blob into the destination's registry, if one is in flight (none: at once). */
  async settled(dst: Location, digest: Digest): Promise<void> {
    if (dst.kind === 'registry') await this.find(dst.ref.registry, digest)?.done;
  }

  private readonly running = new Map<string, Promise<void>>();

  /**
   * Takes the placement named `key` for the caller: waits for one in flight, answers undefined when that succeeded
   * (placed already), or else a function the caller settles when its own placement ends.
   */
  async take(key: string): Promise<((ok: boolean) => void) | undefined> {
    for (let running = this.running.get(key); running; running = this.running.get(key)) {
      try {
        await running;
        return undefined;
      } catch {
        if (this.running.get(key) === running) this.running.delete(key);
      }
    }
    let settle!: (ok: boolean) => void;
    const p = new Promise<void>((resolve, reject) => (settle = (ok) => (ok ? resolve() : reject(new Error(key)))));
    p.catch(() => {});
    this.running.set(key, p);
    return settle;
  }

  /**
   * Runs `push` once per key (a manifest, or a blob, in one repository) for the whole run; later callers wait for it,
   * and push themselves only if it failed. Two concurrent PUTs of one manifest make distribution's storage race (a
   * reader sees a half-written link: MANIFEST_BLOB_UNKNOWN).
   */
  async once(key: string, push: () => Promise<void>): Promise<void> {
    const settle = await this.take(key);
    if (!settle) return;
    try {
      await push();
      settle(true);
    } catch (err) {
      settle(false);
      throw err;
    }
  }

  /** Pushes a manifest into a registry destination once for the run (see once); other destinations push as asked. */
  manifestOnce(dst: Location, digest: Digest, push: () => Promise<void>): Promise<void> {
    if (dst.kind !== 'registry') return push();
    return this.once(`${dst.ref.registry}/${dst.ref.repository}@${digest}`, push);
  }

  private readonly referencedIn = new Set<string>();

  /** The image whose manifests the destination now holds references these blobs (ECR mounts only such blobs). */
  referenced(dst: Location, digests: Iterable<string>): void {
    if (dst.kind !== 'registry') return;
    for (const d of digests) this.referencedIn.add(`${dst.ref.registry}/${dst.ref.repository}@${d}`);
  }

  isReferenced(repo: RegistryRepo, digest: Digest): boolean {
    return this.referencedIn.has(`${repo.host}/${repo.repository}@${digest}`);
  }

  /** Claims the blob's upload for `repo`; answers the callback that reports how it ended. */
  claim(repo: RegistryRepo, digest: Digest): (ok: boolean) => void {
    let settle!: (ok: boolean) => void;
    const done = new Promise<boolean>((resolve) => (settle = resolve));
    this.work.set(this.key(repo.host, digest), { repo, done });
    return (ok) => {
      if (!ok) this.work.delete(this.key(repo.host, digest));
      settle(ok);
    };
  }
}
