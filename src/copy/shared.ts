// Blob work shared by the copies of one run (sync, multi-image): one upload per blob per registry, then mounts.
import type { Digest } from '../oci/digest.js';
import type { RegistryRepo } from '../transports/types.js';

/**
 * Remembers where blobs are being, or have been, written in each destination registry. A second image that
 * needs the same blob in the same registry waits for the first upload and mounts it instead of fetching it again.
 */
export class SharedBlobs {
  private readonly work = new Map<string, { repo: RegistryRepo; done: Promise<boolean> }>();

  private key(host: string, digest: Digest): string {
    return `${host}|${digest}`;
  }

  /** Where this blob is (or is being) written in `host`, and whether that finished well. */
  find(host: string, digest: Digest): { repo: RegistryRepo; done: Promise<boolean> } | undefined {
    return this.work.get(this.key(host, digest));
  }

  private readonly manifests = new Map<string, Promise<void>>();

  /**
   * Runs `push` once per key (a manifest, or a blob, in one repository) for the whole run; later callers wait for it,
   * and push themselves only if it failed. Two concurrent PUTs of one manifest make distribution's storage race (a reader
   * sees a half-written link: MANIFEST_BLOB_UNKNOWN).
   */
  async once(key: string, push: () => Promise<void>): Promise<void> {
    for (let running = this.manifests.get(key); running; running = this.manifests.get(key)) {
      try {
        await running;
        return;
      } catch {
        if (this.manifests.get(key) === running) this.manifests.delete(key);
      }
    }
    const p = push();
    this.manifests.set(key, p);
    await p;
  }

  private readonly referencedIn = new Set<string>();

  /** The image whose manifests `repo` now holds references these blobs (ECR mounts only such blobs). */
  referenced(repo: RegistryRepo, digests: Iterable<string>): void {
    for (const d of digests) this.referencedIn.add(`${repo.host}/${repo.repository}@${d}`);
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
