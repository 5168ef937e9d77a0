// Finds what points at a manifest: the referrers API where the registry has it, else the referrers tag schema and
// cosign's tags; recursive (a signature of an SBOM), each referrer fetched and checked, loops and floods cut off.
import pLimit from 'p-limit';
import { RegctlError, isAbortError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { isIndexType } from '../oci/media-types.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { type RegistryClient, type Repo, isNotFound } from '../registry-client/client.js';
import { fetchReferrers } from '../registry-client/referrers.js';
import { COSIGN_SUFFIXES, fallbackTag, referrerDescriptor } from './fallback-index.js';

export type Via = 'api' | 'tag' | 'cosign';

/** A referrer as listed (not yet fetched). */
export interface Listed {
  desc?: Descriptor;
  via: Via;
  /** cosign's tag that holds it */
  tag?: string;
}

/** What a repository says points at one digest. */
export interface Direct {
  /** The registry answered the referrers API (else the tag schema was read). */
  api: boolean;
  entries: Listed[];
  /** The fallback tag's index as stored, when there is one. */
  fallback?: FetchedManifest;
}

/**
 * A referrer found and checked: its manifest fetched, its subject the digest it was listed for. No manifest: the
 * destination holds it already (`present`), so it was not fetched (a Docker Hub GET counts a pull; a HEAD does not).
 */
export interface Referrer {
  desc: Descriptor;
  manifest?: FetchedManifest;
  subject: Digest;
  /** 1: points at a copied manifest; 2: at a referrer of one; … */
  depth: number;
  via: Via;
  tag?: string;
}

export interface DiscoverOptions {
  signal: AbortSignal;
  warn: (message: string) => void;
  /** Only referrers of these artifact types at depth 1 (their own referrers all come along). */
  types?: readonly string[];
  maxDepth?: number;
  maxReferrers?: number;
  /** A listing that fails is an error, not a warning (prune: an unknown referrer must not be deleted). */
  strict?: boolean;
  /** Whether the destination holds this referrer already (then it is not fetched, only followed). */
  present?: (subject: Digest, desc: Descriptor, tag?: string) => Promise<boolean>;
}

/** One repository's referrers, with what a run learns once kept: its tags, whether it has the API. */
export class RepoReferrers {
  private tags?: Promise<Set<string>>;
  private hasApi?: boolean;

  /** `knownTags`: the repository's tags when the caller has listed them already (prune): not listed again. */
  constructor(
    readonly client: RegistryClient,
    readonly repo: Repo,
    knownTags?: Iterable<string>,
  ) {
    if (knownTags) this.tags = Promise.resolve(new Set(knownTags));
  }

  tagSet(signal: AbortSignal): Promise<Set<string>> {
    this.tags ??= this.client.listTags(this.repo, signal).then(
      (t) => new Set(t),
      (err) => {
        if (isNotFound(err)) return new Set<string>();
        this.tags = undefined;
        throw err;
      },
    );
    return this.tags;
  }

  /** Forget the tags seen (after this run wrote some). */
  forgetTags(): void {
    this.tags = undefined;
  }

  async direct(digest: Digest, signal: AbortSignal): Promise<Direct> {
    const tagsP = this.tagSet(signal);
    tagsP.catch(() => {});
    const entries: Listed[] = [];
    let api = false;
    let fallback: FetchedManifest | undefined;
    if (this.hasApi !== false) {
      const answer = await fetchReferrers(this.client, this.repo, digest, { signal });
      // "A client querying the referrers API and receiving a 404 Not Found MUST fallback to … the referrers tag
      // schema" (spec.md, Unavailable Referrers API); the API is the registry's, so one 404 says it for the run.
      this.hasApi = answer !== undefined;
      if (answer) {
        api = true;
        for (const d of answer.descriptors) entries.push({ desc: d, via: 'api' });
      }
    }
    const tags = await tagsP;
    const tag = fallbackTag(digest);
    if (!api && tags.has(tag)) {
      fallback = await this.client.getManifest(this.repo, tag, signal);
      if (fallback.manifest.kind !== 'index' || !isIndexType(fallback.desc.mediaType)) {
        throw new RegctlError('BAD_RESPONSE', `${this.name()}:${tag} is not an image index, so not a referrers list`);
      }
      for (const d of fallback.manifest.manifests) entries.push({ desc: d, via: 'tag' });
    }
    for (const suffix of Object.keys(COSIGN_SUFFIXES)) {
      if (tags.has(`${tag}.${suffix}`)) entries.push({ via: 'cosign', tag: `${tag}.${suffix}` });
    }
    return { api, entries, fallback };
  }

  name(): string {
    return `${this.repo.registry}/${this.repo.repository}`;
  }
}

/**
 * Every referrer of `roots`, level by level (subjects before their referrers). Each is fetched by digest (verified,
 * 4 MiB cap) and its `subject` checked; one listed for another image is ignored with a warning, as is one seen
 * before (a loop of subjects) and anything past the depth and count caps. Referrers a source refuses to list (an
 * answer over 4 MiB, a fallback tag that is not an index) are skipped with a warning.
 */
export async function discoverTree(
  src: RepoReferrers,
  roots: readonly Digest[],
  opts: DiscoverOptions,
): Promise<Referrer[]> {
  const maxDepth = opts.maxDepth ?? 8;
  const maxReferrers = opts.maxReferrers ?? 1000;
  const seen = new Set<string>(roots);
  const found: Referrer[] = [];
  const limit = pLimit(8);
  let level: Digest[] = [...roots];
  for (let depth = 1; level.length > 0; depth++) {
    if (depth > maxDepth) {
      opts.warn(`referrers nested deeper than ${maxDepth} levels in ${src.name()} were not followed`);
      break;
    }
    // Each level's listings, then its fetches, run concurrently (bounded); results are taken in listing order.
    const listings = await Promise.all(
      level.map((subject) =>
        limit(async () => {
          try {
            return { subject, direct: await src.direct(subject, opts.signal) };
          } catch (err) {
            if (isAbortError(err) || opts.signal.aborted || opts.strict) throw err;
            opts.warn(`referrers of ${src.name()}@${subject} skipped: ${(err as Error).message}`);
            return { subject, direct: undefined };
          }
        }),
      ),
    );
    const wanted: Array<{ subject: Digest; entry: Listed }> = [];
    const claimed = new Set<string>();
    for (const { subject, direct } of listings) {
      for (const entry of direct?.entries ?? []) {
        if (entry.desc && (seen.has(entry.desc.digest) || claimed.has(entry.desc.digest))) {
          const again = `${src.name()}@${entry.desc.digest} listed again, as a referrer of ${subject}`;
          opts.warn(`${again}: a loop of subjects, not followed`);
          continue;
        }
        if (depth === 1 && entry.desc && !wantedType(opts, entry.desc)) continue;
        if (found.length + wanted.length >= maxReferrers) {
          opts.warn(`more than ${maxReferrers} referrers in ${src.name()}: the rest were not followed`);
          break;
        }
        if (entry.desc) claimed.add(entry.desc.digest);
        wanted.push({ subject, entry });
      }
    }
    const fetched = await Promise.all(
      wanted.map(({ subject, entry }) => limit(() => fetchChecked(src, subject, entry, depth, opts))),
    );
    const next: Digest[] = [];
    for (const r of fetched) {
      if (!r || seen.has(r.desc.digest)) continue;
      if (depth === 1 && !wantedType(opts, r.desc)) continue;
      seen.add(r.desc.digest);
      found.push(r);
      next.push(r.desc.digest);
    }
    level = next;
  }
  return found;
}

const wantedType = (opts: DiscoverOptions, d: Descriptor) =>
  !opts.types?.length || opts.types.includes(d.artifactType ?? '');

/** cosign's tags hold no artifactType: the suffix says what they hold. */
const cosignType = (tag: string) => COSIGN_SUFFIXES[tag.slice(tag.lastIndexOf('.') + 1)];

async function fetchChecked(
  src: RepoReferrers,
  subject: Digest,
  entry: Listed,
  depth: number,
  opts: DiscoverOptions,
): Promise<Referrer | undefined> {
  const where = `${src.name()}@${entry.desc?.digest ?? entry.tag}`;
  let m: FetchedManifest;
  try {
    if (opts.present) {
      // cosign's tag: its digest by HEAD; a tag the destination holds at that digest is not fetched.
      const desc = entry.desc ?? (await src.client.headManifest(src.repo, entry.tag!, opts.signal));
      if (desc && (await opts.present(subject, desc, entry.tag))) {
        const artifactType = entry.tag ? cosignType(entry.tag) : desc.artifactType;
        const d = { ...desc, ...(artifactType ? { artifactType } : {}) };
        return { desc: d, subject, depth, via: entry.via, tag: entry.tag };
      }
    }
    m = await src.client.getManifest(src.repo, entry.desc?.digest ?? entry.tag!, opts.signal);
  } catch (err) {
    if (isAbortError(err) || opts.signal.aborted) throw err;
    opts.warn(`referrer ${where} skipped: ${(err as Error).message}`);
    return undefined;
  }
  const desc = referrerDescriptor(m);
  if (entry.via === 'cosign') {
    // cosign's manifests name no subject: the tag binds them. Their type is what the tag's suffix says it holds.
    const d = { ...desc, artifactType: cosignType(entry.tag!) };
    return { desc: d, manifest: m, subject, depth, via: 'cosign', tag: entry.tag };
  }
  const named = m.manifest.subject?.digest;
  if (named !== subject) {
    opts.warn(`referrer ${where} ignored: its subject is ${named ?? 'missing'}, not ${subject}`);
    return undefined;
  }
  return { desc, manifest: m, subject, depth, via: entry.via };
}
