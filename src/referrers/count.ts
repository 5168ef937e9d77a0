// How many referrers point at a manifest, by artifact type (for inspect): one listing, nothing fetched.
import type { AppContext } from '../context.js';
import { isAbortError } from '../errors.js';
import type { ImageRef } from '../location/reference.js';
import type { Digest } from '../oci/digest.js';
import { RepoReferrers } from './discover.js';
import { COSIGN_SUFFIXES } from './fallback-index.js';

export interface ReferrerCounts {
  total: number;
  byType: Record<string, number>;
}

/** The direct referrers of `digest` by type; undefined (with a warning) when the registry would not list them. */
export async function countReferrers(
  ctx: AppContext,
  ref: ImageRef,
  digest: Digest,
): Promise<ReferrerCounts | undefined> {
  try {
    const repo = { registry: ref.registry, repository: ref.repository };
    const { entries } = await new RepoReferrers(ctx.client('src'), repo).direct(digest, ctx.signal);
    const byType: Record<string, number> = {};
    for (const e of entries) {
      const type = e.tag
        ? COSIGN_SUFFIXES[e.tag.slice(e.tag.lastIndexOf('.') + 1)]
        : (e.desc?.artifactType ?? e.desc?.mediaType ?? 'unknown');
      byType[type] = (byType[type] ?? 0) + 1;
    }
    return { total: entries.length, byType };
  } catch (err) {
    if (isAbortError(err) || ctx.signal.aborted) throw err;
    ctx.log.warn(`referrers of ${ref.registry}/${ref.repository}@${digest} not counted: ${(err as Error).message}`);
    return undefined;
  }
}

export function countsText(c: ReferrerCounts | undefined): string {
  if (!c) return 'unknown';
  if (c.total === 0) return '0';
  return `${c.total} (${Object.entries(c.byType)
    .map(([t, n]) => `${t}: ${n}`)
    .join(', ')})`;
}
