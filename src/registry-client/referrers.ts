// The referrers API of OCI distribution 1.1: `GET /v2/<name>/referrers/<digest>`, paged by `Link`, capped at 4 MiB.
import { RegctlError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { MAX_JSON_BYTES } from '../oci/limits.js';
import { type Descriptor, parseManifest } from '../oci/manifest.js';
import { type RegistryClient, type Repo, readCapped, v2Path } from './client.js';
import { type RegResponse, header, sendRead } from './http.js';
import { resolveHanded } from './origin.js';

/** The most pages of one referrers list that are followed. */
const MAX_PAGES = 64;

export interface ReferrersAnswer {
  descriptors: Descriptor[];
  /** `OCI-Filters-Applied` named artifactType: the registry filtered (else the caller filters). */
  filtered: boolean;
}

/**
 * The referrers of `digest`, or undefined when the registry has no referrers API: "If the registry supports the
 * referrers API, the registry MUST NOT return a 404 Not Found" (spec.md, Listing Referrers), so a 404 means none.
 * Every page together is capped at 4 MiB (the manifest cap); more is refused (TOO_LARGE).
 */
export async function fetchReferrers(
  client: RegistryClient,
  r: Repo,
  digest: Digest,
  opts: { artifactType?: string; signal: AbortSignal },
): Promise<ReferrersAnswer | undefined> {
  const what = `referrers of ${r.registry}/${r.repository}@${digest}`;
  const path = v2Path(r, 'referrers', digest);
  const out: Descriptor[] = [];
  const filter = opts.artifactType ? { artifactType: opts.artifactType } : undefined;
  let filtered = true;
  let total = 0;
  let next: string | undefined;
  const seen = new Set<string>();
  for (let page = 0; page < MAX_PAGES; page++) {
    const { res, value }: { res: RegResponse; value: Uint8Array } = await sendRead(
      client.http,
      {
        registry: r.registry,
        method: 'GET',
        ...(next ? { url: next } : { path, ...(filter ? { query: filter } : {}) }),
        headers: { accept: 'application/vnd.oci.image.index.v1+json' },
        scopes: [`repository:${r.repository}:pull`],
        expect: [200, 404],
        idempotent: true,
        signal: opts.signal,
        what,
      },
      (res) => readCapped(res, MAX_JSON_BYTES - total, what),
    );
    if (res.status === 404) return page === 0 ? undefined : { descriptors: out, filtered };
    total += value.byteLength;
    let m;
    try {
      m = parseManifest(value, 'application/vnd.oci.image.index.v1+json');
    } catch (err) {
      throw new RegctlError('BAD_RESPONSE', `${what}: ${(err as Error).message}`);
    }
    if (m.kind !== 'index') throw new RegctlError('BAD_RESPONSE', `${what}: the answer is not an image index`);
    out.push(...m.manifests);
    const applied = (header(res.headers, 'oci-filters-applied') ?? '').split(',').map((f) => f.trim());
    if (!applied.includes('artifactType')) filtered = false;
    const link = header(res.headers, 'link');
    const found = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
    if (!found) return { descriptors: out, filtered };
    // The next page is the same list with other parameters: nothing else is followed.
    const url = resolveHanded(found[1], res.url, what);
    if (url.pathname !== new URL(res.url).pathname) {
      throw new RegctlError('BAD_RESPONSE', `${what}: the Link to the next page names another path`);
    }
    next = url.toString();
    if (seen.has(next)) break;
    seen.add(next);
  }
  return { descriptors: out, filtered };
}
