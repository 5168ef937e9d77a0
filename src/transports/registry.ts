// Registry source and destination over RegistryClient: HEAD-first resolve, Range-aware reads, fresh-session uploads.
import { DigestError, RegctlError, hasCode, isAbortError } from '../errors.js';
import type { Location } from '../location/parse.js';
import { type ImageRef, formatReference } from '../location/reference.js';
import { type Digest, hashOf } from '../oci/digest.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { RegistryClient, type Repo } from '../registry-client/client.js';
import { hasOciCode } from '../registry-client/errors.js';
import { RetryBudget } from '../registry-client/retry.js';
import { type Settle, reuseIn } from './registry-reuse.js';
import type { Bytes, ImageDestination, ImageSource, RegistryRepo, ReuseHints, Reused } from './types.js';

async function* skip(body: AsyncIterable<Uint8Array>, n: number): Bytes {
  let left = n;
  for await (const chunk of body) {
    if (left >= chunk.byteLength) {
      left -= chunk.byteLength;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

export class RegistrySource implements ImageSource {
  readonly location: Location;
  readonly caps = { concurrentReads: true };
  readonly registryRepo: { host: string; repository: string };
  private readonly repo: Repo;

  constructor(
    private readonly client: RegistryClient,
    readonly ref: ImageRef,
  ) {
    this.location = { kind: 'registry', ref };
    this.repo = { registry: ref.registry, repository: ref.repository };
    this.registryRepo = { host: ref.registry, repository: ref.repository };
  }

  private reference(): string {
    return this.ref.digest ?? this.ref.tag ?? 'latest';
  }

  async resolve(signal: AbortSignal): Promise<Descriptor | undefined> {
    return this.client.headManifest(this.repo, this.reference(), signal);
  }

  getManifest(digest: Digest | undefined, signal: AbortSignal): Promise<FetchedManifest> {
    return this.client.getManifest(this.repo, digest ?? this.reference(), signal);
  }

  async getBlob(
    desc: Descriptor,
    opts: { offset?: number; signal: AbortSignal; budget?: RetryBudget },
  ): Promise<Bytes> {
    const want = opts.offset ?? 0;
    const { body, offset } = await this.client.getBlob(this.repo, desc, opts);
    return offset === want ? body : skip(body, want - offset);
  }

  async close(): Promise<void> {}
}

export interface RegistryDestinationOptions {
  retries: number;
  /**
   * The registry is ECR (its host pattern or the hosts config, decided by the caller): each blob goes up in one
   * streamed PATCH, and only blobs a manifest references are mounted.
   */
  ecr?: boolean;
  /** Called when a registry answers NAME_UNKNOWN on push; true when the repository now exists (ECR create-on-push). */
  onMissingRepository?: (repo: Repo, signal: AbortSignal) => Promise<boolean>;
  /**
   * ECR: whether the repository exists (DescribeRepositories). ECR hangs up on an upload POST into a repository that
   * does not exist (aws/containers-roadmap#1970): a dropped POST is asked about before it is sent again.
   */
  repositoryExists?: (repo: Repo, signal: AbortSignal) => Promise<boolean>;
}

export class RegistryDestination implements ImageDestination {
  readonly location: Location;
  readonly caps = { concurrentWrites: true, keepsIndex: true };
  private readonly here: RegistryRepo;
  /** ECR mounts only blobs a manifest of the repository mounted from references. */
  private readonly mountsReferencedOnly: boolean;
  private readonly repo: Repo;
  private readonly sessions = new Set<string>();
  /** Set by resolve() when the tag is missing: whether the whole repository is (no blob can be there). */
  private absent?: Promise<boolean>;
  /** Blobs this destination uploaded or mounted: present whatever `absent` said. */
  private readonly written = new Set<string>();
  private readonly uploadMode: 'put' | 'patch';
  /** Upload sessions a refused mount opened (202), by digest: the blob is uploaded into them. */
  private readonly mountSessions = new Map<string, string>();
  /** Set once the repository that resolve() found missing has been created (before the first upload). */
  private ensured?: Promise<void>;
  /** Placements tryReuse took for this run (a blob not reused), settled by the putBlob that follows. */
  private readonly placements = new Map<string, Settle>();

  constructor(
    private readonly client: RegistryClient,
    readonly ref: ImageRef,
    private readonly opts: RegistryDestinationOptions,
  ) {
    this.location = { kind: 'registry', ref };
    this.repo = { registry: ref.registry, repository: ref.repository };
    this.here = { host: ref.registry, repository: ref.repository };
    const ecr = Boolean(opts.ecr);
    this.uploadMode = ecr ? 'patch' : 'put';
    this.mountsReferencedOnly = ecr;
  }

  async resolve(signal: AbortSignal): Promise<Descriptor | undefined> {
    const reference = this.ref.tag ?? this.ref.digest;
    if (!reference) return undefined;
    const found = await this.client.headManifest(this.repo, reference, signal, true);
    // The tag is missing: one request tells whether the repository exists at all. A repository that does not
    // exist holds no blob, so the blob HEADs that would each answer 404 are skipped.
    if (!found) this.absent = this.client.repositoryMissing(this.repo, signal).catch(() => false);
    return found;
  }

  getManifest(digest: Digest, signal: AbortSignal): Promise<FetchedManifest> {
    return this.client.getManifest(this.repo, digest, signal);
  }

  async tryReuse(desc: Descriptor, hints: ReuseHints, signal: AbortSignal): Promise<Reused | undefined> {
    const blobs = {
      here: this.here,
      mountsReferencedOnly: this.mountsReferencedOnly,
      has: (d: Descriptor, s: AbortSignal) => this.hasBlob(d, s),
      mount: (d: Descriptor, from: RegistryRepo, s: AbortSignal) => this.mountBlob(d, from, s),
    };
    const { reused, settle } = await reuseIn(blobs, desc, hints, signal);
    if (settle) {
      this.placements.get(desc.digest)?.(false);
      this.placements.set(desc.digest, settle);
    }
    return reused;
  }

  private async hasBlob(desc: Descriptor, signal: AbortSignal): Promise<boolean> {
    if (this.written.has(desc.digest)) return true;
    if (this.absent && (await this.absent)) return false;
    // Ask with push scope so the token also covers the upload that may follow.
    return this.client.hasBlob(this.repo, desc.digest, signal, [`repository:${this.repo.repository}:pull,push`]);
  }

  private async mountBlob(desc: Descriptor, origin: RegistryRepo, signal: AbortSignal): Promise<boolean> {
    if (origin.host !== this.repo.registry || origin.repository === this.repo.repository) return false;
    await this.ensureRepository(signal);
    try {
      const from = { registry: origin.host, repository: origin.repository };
      const answer = await this.client.mountBlob(this.repo, from, desc.digest, signal);
      if (answer.mounted) {
        this.written.add(desc.digest);
        return true;
      }
      // A refused mount answered 202 opened an upload session: the upload that follows goes into it.
      if (answer.session) this.keepSession(desc.digest, answer.session);
      return false;
    } catch (err) {
      if (isAbortError(err)) throw err;
      return false;
    }
  }

  private keepSession(digest: string, location: string): void {
    const previous = this.mountSessions.get(digest);
    if (previous) {
      this.sessions.delete(previous);
      void this.client.cancelUpload(this.repo, previous, AbortSignal.timeout(5000)).catch(() => {});
    }
    this.mountSessions.set(digest, location);
    this.sessions.add(location);
  }

  async putBlob(desc: Descriptor, open: (abandon?: AbortSignal) => Promise<Bytes>, signal: AbortSignal): Promise<void> {
    const settle = this.placements.get(desc.digest);
    this.placements.delete(desc.digest);
    try {
      await this.upload(desc, open, signal);
      settle?.(true);
    } catch (err) {
      settle?.(false);
      throw err;
    }
  }

  private async upload(
    desc: Descriptor,
    open: (abandon?: AbortSignal) => Promise<Bytes>,
    signal: AbortSignal,
  ): Promise<void> {
    // One budget for the whole upload: the requests' own retries and the fresh sessions below draw on it together.
    const budget = new RetryBudget(this.opts.retries);
    for (let attempt = 0; ; attempt++) {
      // The source's bytes are asked for beside the POST that opens the session: one round trip instead of two.
      const abandon = new AbortController();
      const bytes = open(abandon.signal);
      let location: string;
      const fromMount = attempt === 0 ? this.mountSessions.get(desc.digest) : undefined;
      this.mountSessions.delete(desc.digest);
      try {
        location = fromMount ?? (await this.startUpload(signal, budget));
      } catch (err) {
        abandon.abort(err);
        await bytes.catch(() => {});
        throw err;
      }
      this.sessions.add(location);
      try {
        await this.client.finishUpload(this.repo, location, desc, await bytes, this.uploadMode, signal, budget);
        this.sessions.delete(location);
        this.written.add(desc.digest);
        return;
      } catch (err) {
        // A source answer the failed upload did not read to its end would hold its connection: let it go.
        abandon.abort(err);
        this.sessions.delete(location);
        await this.client.cancelUpload(this.repo, location, AbortSignal.timeout(5000)).catch(() => {});
        if (isAbortError(err) || err instanceof DigestError || !isTransient(err) || !budget.take()) throw err;
      }
    }
  }

  /** A blob whose digest is known only at the end (a layer gzipped on the way): one chunked PATCH, then PUT. */
  async putBlobComputed(mediaType: string, open: () => Promise<Bytes>, signal: AbortSignal): Promise<Descriptor> {
    const budget = new RetryBudget(this.opts.retries);
    for (;;) {
      const location = await this.startUpload(signal, budget);
      this.sessions.add(location);
      const hash = hashOf('sha256');
      let size = 0;
      const body = await open();
      async function* measured(): Bytes {
        for await (const chunk of body) {
          hash.update(chunk);
          size += chunk.byteLength;
          yield chunk;
        }
      }
      let digest: Digest | undefined;
      try {
        const digestOf = () => (digest = `sha256:${hash.digest('hex')}` as Digest);
        await this.client.finishUploadStreaming(this.repo, location, measured(), digestOf, signal, budget);
        this.sessions.delete(location);
        this.written.add(digest!);
        return { mediaType, digest: digest!, size };
      } catch (err) {
        this.sessions.delete(location);
        await this.client.cancelUpload(this.repo, location, AbortSignal.timeout(5000)).catch(() => {});
        if (isAbortError(err) || err instanceof DigestError || !isTransient(err) || !budget.take()) throw err;
      }
    }
  }

  /**
   * Runs a push step; a repository that does not exist (ECR's NAME_UNKNOWN) is created once, then the step runs again.
   */
  private async orCreateRepository<T>(step: () => Promise<T>, signal: AbortSignal): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (this.opts.onMissingRepository && hasOciCode(err, 'NAME_UNKNOWN')) {
        if (await this.opts.onMissingRepository(this.repo, signal)) return step();
      }
      throw err;
    }
  }

  /**
   * Before the first upload or mount: a repository that resolve() found missing (its tag list said NAME_UNKNOWN) is
   * created first, where the registry creates on push (ECR), instead of waiting for an answer ECR never gives.
   */
  private ensureRepository(signal: AbortSignal): Promise<void> {
    const create = this.opts.onMissingRepository;
    if (!create || !this.absent) return Promise.resolve();
    this.ensured ??= (async () => {
      if (await this.absent) await create(this.repo, signal);
    })();
    this.ensured.catch(() => (this.ensured = undefined));
    return this.ensured;
  }

  private async startUpload(signal: AbortSignal, budget: RetryBudget): Promise<string> {
    await this.ensureRepository(signal);
    const exists = this.opts.repositoryExists;
    const open = () => this.client.startUpload(this.repo, signal, exists ? { retry: false } : { budget });
    return this.orCreateRepository(async () => {
      try {
        return await open();
      } catch (err) {
        // ECR hangs up (no status) on a POST into a repository that does not exist: ask before sending it again.
        if (!exists || !hasCode(err, 'NETWORK') || isAbortError(err)) throw err;
        if (!(await exists(this.repo, signal))) {
          if (!(await this.opts.onMissingRepository?.(this.repo, signal))) throw err;
        }
        return open();
      }
    }, signal);
  }

  async putManifest(m: FetchedManifest, tag: string | undefined, signal: AbortSignal): Promise<void> {
    try {
      await this.orCreateRepository(() => this.client.putManifest(this.repo, tag ?? m.desc.digest, m, signal), signal);
    } catch (err) {
      // ECR's tag immutability: the copy HEADed the tag first, so this is a different image under an existing tag.
      if (tag && hasOciCode(err, 'TAG_INVALID') && err.status === 400) {
        throw new RegctlError(
          'TAG_INVALID',
          `${formatReference({ ...this.ref, tag, digest: undefined })}: ` +
            `the tag already names another image and the repository's tags are immutable`,
          {
            hint: 'push under a new tag (or set the repository to MUTABLE tags)',
            cause: err,
          },
        );
      }
      throw err;
    }
  }

  /** Sessions that refused mounts opened and no upload used are given back. */
  async commit(): Promise<void> {
    const unused = [...this.mountSessions.values()];
    this.mountSessions.clear();
    for (const l of unused) this.sessions.delete(l);
    const cancel = (l: string) => this.client.cancelUpload(this.repo, l, AbortSignal.timeout(5000)).catch(() => {});
    await Promise.all(unused.map(cancel));
  }

  async abort(): Promise<void> {
    for (const settle of this.placements.values()) settle(false);
    this.placements.clear();
    this.mountSessions.clear();
    const open = [...this.sessions];
    this.sessions.clear();
    await Promise.all(
      open.map((l) => this.client.cancelUpload(this.repo, l, AbortSignal.timeout(5000)).catch(() => {})),
    );
  }

  describe(digest: Digest): string {
    return formatReference({ ...this.ref, digest: undefined }, {}) + `@${digest}`;
  }
}

/** An upload failure worth a fresh session: network errors and 5xx/429, not refusals. */
function isTransient(err: unknown): boolean {
  if (err instanceof RegctlError) {
    const status = (err as { status?: number }).status;
    return err.code === 'NETWORK' || (status !== undefined && (status >= 500 || status === 429 || status === 408));
  }
  return true;
}
