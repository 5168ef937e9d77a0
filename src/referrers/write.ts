// Copies the referrers of copied manifests with the copy engine, by digest, and records them at the destination:
// through its referrers API where it honours `subject`, else in the fallback tag's index, merged with what is there.
import pLimit from 'p-limit';
import { type AppContext, destinationDeps, sourceDeps } from '../context.js';
import { isAbortError } from '../errors.js';
import type { ImageRef } from '../location/reference.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { isNotFound } from '../registry-client/client.js';
import type { ImageSource } from '../transports/types.js';
import { type Direct, type Referrer, RepoReferrers, discoverTree } from './discover.js';
import { fallbackTag, mergeFallback } from './fallback-index.js';

export interface ReferrersCopyOptions {
  types?: readonly string[];
  jobs: number;
  signal: AbortSignal;
  warn: (message: string) => void;
}

export interface ReferrersCopyResult {
  found: number;
  copied: number;
  existed: number;
  bytesSent: number;
  /** Fallback tag indexes written at the destination. */
  indexes: number;
}

/** A source whose root manifest is already fetched (discovery read it to check its subject): not asked again. */
class Prefetched implements ImageSource {
  constructor(
    private readonly inner: ImageSource,
    private readonly m: FetchedManifest,
  ) {}
  get location() {
    return this.inner.location;
  }
  get caps() {
    return this.inner.caps;
  }
  get registryRepo() {
    return this.inner.registryRepo;
  }
  async resolve() {
    return this.m.desc;
  }
  getManifest(digest: Digest | undefined, signal: AbortSignal) {
    if (digest === undefined || digest === this.m.desc.digest) return Promise.resolve(this.m);
    return this.inner.getManifest(digest, signal);
  }
  getBlob(desc: Descriptor, opts: { offset?: number; signal: AbortSignal }) {
    return this.inner.getBlob(desc, opts);
  }
  close() {
    return this.inner.close();
  }
}

/**
 * The referrers of `roots` (the copied root and its children) in `src`, copied to `dst`. Subjects before their
 * referrers; a referrer the destination lists already is not touched (a re-run sends nothing); cosign's tags are
 * copied as tags (cosign finds them by name).
 */
export async function copyReferrers(
  ctx: AppContext,
  src: ImageRef,
  dst: ImageRef,
  roots: readonly Digest[],
  opts: ReferrersCopyOptions,
): Promise<ReferrersCopyResult> {
  const [{ openSource, openDestination }, { copyImage }, { SharedBlobs }] = await Promise.all([
    import('../transports/open.js'),
    import('../copy/copy.js'),
    import('../copy/shared.js'),
  ]);
  // Referrers share blobs (the empty config `{}` of every OCI 1.1 artifact): each is placed in the repository once, as
  // sync does, or two uploads at once race distribution's link file against a manifest PUT (MANIFEST_BLOB_UNKNOWN).
  const shared = new SharedBlobs();
  const from = new RepoReferrers(ctx.client('src'), { registry: src.registry, repository: src.repository });
  const dstClient = ctx.client('dst');
  const to = new RepoReferrers(dstClient, { registry: dst.registry, repository: dst.repository });
  // What the destination lists for a subject, asked once: referrers it holds are followed, not fetched again.
  const listings = new Map<Digest, Promise<Direct>>();
  const listing = (subject: Digest): Promise<Direct> => {
    let p = listings.get(subject);
    if (!p) {
      p = to.direct(subject, opts.signal).catch((err) => {
        if (isAbortError(err) || opts.signal.aborted) throw err;
        // A destination fallback tag that is not an index: its referrers are still copied, the tag left alone.
        opts.warn(`${to.name()}: ${(err as Error).message}; the referrers are copied, that tag is left as it is`);
        return { api: true, entries: [] };
      });
      listings.set(subject, p);
    }
    return p;
  };
  const present = async (subject: Digest, desc: Descriptor, tag?: string): Promise<boolean> => {
    if (!tag) return (await listing(subject)).entries.some((e) => e.desc?.digest === desc.digest);
    const there = await dstClient.headManifest(to.repo, tag, opts.signal).catch(() => undefined);
    return there?.digest === desc.digest;
  };
  const tree = await discoverTree(from, roots, { ...opts, present });
  const result: ReferrersCopyResult = { found: tree.length, copied: 0, existed: 0, bytesSent: 0, indexes: 0 };
  const limit = pLimit(Math.max(1, opts.jobs));
  const maxDepth = tree.reduce((n, r) => Math.max(n, r.depth), 0);
  for (let depth = 1; depth <= maxDepth; depth++) {
    const bySubject = new Map<Digest, Referrer[]>();
    for (const r of tree.filter((t) => t.depth === depth)) {
      bySubject.set(r.subject, [...(bySubject.get(r.subject) ?? []), r]);
    }
    await Promise.all(
      [...bySubject].map(async ([subject, refs]) => {
        const there = await listing(subject);
        const toIndex: Descriptor[] = [];
        await Promise.all(
          refs.map((r) =>
            limit(async () => {
              if (!r.manifest) {
                result.existed++;
                return;
              }
              const ref = { ...src, tag: undefined, digest: r.desc.digest };
              const source = new Prefetched(await openSource({ kind: 'registry', ref }, sourceDeps(ctx)), r.manifest);
              try {
                const target = r.tag
                  ? { ...dst, tag: r.tag, digest: undefined }
                  : { ...dst, tag: undefined, digest: r.desc.digest };
                const dest = await openDestination({ kind: 'registry', ref: target }, destinationDeps(ctx));
                const out = await copyImage(source, dest, { jobs: opts.jobs, tag: r.tag, signal: opts.signal, shared });
                if (out.upToDate) result.existed++;
                else {
                  result.copied++;
                  result.bytesSent += out.bytesSent;
                }
                if (r.tag) return;
                // "A client that pushes an image manifest with a defined subject field MUST verify the referrers API
                // is available or fallback to updating the image index pushed to a tag described by the referrers
                // tag schema" (spec.md, Unavailable Referrers API): OCI-Subject on the PUT answer says it is.
                const acked = dstClient.subjectAcks.has(`${dst.registry}/${dst.repository}@${r.desc.digest}`);
                if (!there.api || (!out.upToDate && !acked)) toIndex.push(r.desc);
              } finally {
                await source.close();
              }
            }),
          ),
        );
        // The API answered yet did not take a subject: the fallback tag may hold entries of other tools; keep them.
        const existing = there.api && toIndex.length ? await readFallback(to, subject, opts.signal) : there.fallback;
        if (existing && existing.manifest.kind !== 'index') {
          opts.warn(
            `${to.name()}:${fallbackTag(subject)} is not an image index, so not a referrers list: left as it is`,
          );
          return;
        }
        const merged = mergeFallback(existing, toIndex);
        if (merged) {
          await dstClient.putManifest(to.repo, fallbackTag(subject), merged, opts.signal);
          result.indexes++;
        }
      }),
    );
  }
  return result;
}

async function readFallback(at: RepoReferrers, subject: Digest, signal: AbortSignal) {
  try {
    return await at.client.getManifest(at.repo, fallbackTag(subject), signal);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The copied root and, for an index, its children: what referrers may point at. */
export async function copiedDigests(
  ctx: AppContext,
  dst: ImageRef,
  digest: Digest,
  mediaType: string,
  signal: AbortSignal,
): Promise<Digest[]> {
  if (!mediaType.includes('index') && !mediaType.includes('list')) return [digest];
  // Read from the destination (the same bytes): a copy found up to date by HEAD asks the source for nothing more.
  const m = await ctx.client('dst').getManifest({ registry: dst.registry, repository: dst.repository }, digest, signal);
  return [digest, ...(m.manifest.kind === 'index' ? m.manifest.manifests.map((d) => d.digest) : [])];
}
