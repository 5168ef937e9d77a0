// What prune does about referrers: those of a kept image are kept; those of a deleted image go with it, and so do the
// fallback tag indexes (`sha256-<hex>`) of what is deleted (spec.md, Deleting Manifests).
import type { AppContext } from '../context.js';
import type { Digest } from '../oci/digest.js';
import type { Repo } from '../registry-client/client.js';
import { RepoReferrers, discoverTree } from './discover.js';
import { REFERRER_TAG, fallbackTag } from './fallback-index.js';

export interface Attached {
  digest: string;
  /** What it is attached to. */
  subject: string;
  /** 'referrer' (a signature, an SBOM…) or 'referrers index' (the fallback tag of a deleted subject). */
  what: 'referrer' | 'referrers index';
  tag?: string;
}

export interface ReferrerPrune {
  /** Referrers of kept images, at any depth: never deleted. */
  protect: Set<string>;
  /** Deleted along with the images that go. */
  attached: Attached[];
}

/** A row of the listing that is an attachment (all its tags fallback or cosign tags), not an image of its own. */
export function isAttachmentRow(tags: readonly string[]): boolean {
  return tags.length > 0 && tags.every((t) => REFERRER_TAG.test(t));
}

interface Row {
  digest: string;
  mediaType: string;
}

/**
 * Finds the referrers of `kept` (protected) and of `going` (deleted with them; on ECR only cosign's tags and fallback
 * indexes, ECR deletes an image's referrers itself). Listing failures are errors: nothing unknown is deleted.
 */
export async function planReferrerPrune(
  ctx: AppContext,
  repo: Repo,
  kept: Row[],
  going: Row[],
  o: { ecr: boolean; tags: Iterable<string> },
): Promise<ReferrerPrune> {
  const client = ctx.client('dst');
  const rr = new RepoReferrers(client, repo, o.tags);
  const opts = { signal: ctx.signal, warn: (m: string) => ctx.log.warn(m), strict: true };
  // An index's children are what platform-specific referrers point at.
  const rootsOf = async (rows: Row[]): Promise<Digest[]> => {
    const out: Digest[] = [];
    for (const r of rows) {
      out.push(r.digest as Digest);
      if (!r.mediaType.includes('index') && !r.mediaType.includes('list')) continue;
      const m = await client.getManifest(repo, r.digest, ctx.signal);
      if (m.manifest.kind === 'index') out.push(...m.manifest.manifests.map((d) => d.digest));
    }
    return out;
  };
  const protect = new Set((await discoverTree(rr, await rootsOf(kept), opts)).map((r) => r.desc.digest as string));
  const attached: Attached[] = [];
  if (going.length === 0) return { protect, attached };
  const goingRoots = await rootsOf(going.filter((g) => !protect.has(g.digest)));
  const tree = (await discoverTree(rr, goingRoots, opts)).filter((r) => !protect.has(r.desc.digest));
  for (const r of tree) {
    if (o.ecr && !r.tag) continue;
    attached.push({ digest: r.desc.digest, subject: r.subject, what: 'referrer', ...(r.tag ? { tag: r.tag } : {}) });
  }
  // The fallback tag of every subject that goes: "clients MAY also delete the referrers tag" (Deleting Manifests).
  const tags = await rr.tagSet(ctx.signal);
  const gone = [...goingRoots, ...tree.map((r) => r.desc.digest)];
  for (const subject of gone) {
    const tag = fallbackTag(subject);
    if (!tags.has(tag)) continue;
    const d = await client.headManifest(repo, tag, ctx.signal);
    if (d && !protect.has(d.digest)) attached.push({ digest: d.digest, subject, what: 'referrers index', tag });
  }
  return { protect, attached };
}
