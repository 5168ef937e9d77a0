// A repository's images, one row per manifest digest: on ECR from DescribeImages pages, elsewhere tags → HEAD → group;
// configs fetched concurrently.
import { parseConfigJson } from '../oci/config.js';
import pLimit from 'p-limit';
import type { EcrTarget } from '../ecr/host.js';
import { RegctlError } from '../errors.js';
import { isDigest } from '../oci/digest.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { isIndexType } from '../oci/media-types.js';
import { formatPlatform, isAttestationEntry } from '../oci/platform.js';
import type { Repo, RegistryClient } from '../registry-client/client.js';

export interface ImageRow {
  digest: string;
  tags: string[];
  mediaType: string;
  platforms: string[];
  /** bytes: ECR's imageSizeInBytes, else config + layers (summed over an index's images) */
  size?: number;
  /** the config's `created` (ISO text) */
  created?: string;
  /** when the image was pushed (ECR only) */
  pushed?: string;
}

export interface ListOptions {
  /** tags (or ECR image details) asked for per page */
  pageSize: number;
  /** read manifests and configs for created and platforms (ECR needs them for nothing else) */
  details: boolean;
  /**
   * ECR: GET index manifests to find their children (listed by DescribeImages as untagged images) even without details
   */
  children: boolean;
  signal: AbortSignal;
  /** manifests and configs read at once */
  jobs: number;
  /** the ECR API of the registry (ecrOf in context.ts): its images come from DescribeImages */
  ecr?: EcrTarget;
}

export interface Listing {
  rows: ImageRow[];
  ecr?: EcrTarget;
  /** manifests left out because an index of the repository lists them (ECR) */
  children: number;
}

interface Details {
  platforms: string[];
  created?: string;
  size: number;
  children: string[];
}

async function readConfig(
  client: RegistryClient,
  repo: Repo,
  desc: Descriptor,
  signal: AbortSignal,
): Promise<{ created?: string; platform?: string }> {
  const { readSmallBlob } = await import('../copy/verify.js');
  const bytes = await readSmallBlob(desc, async () => (await client.getBlob(repo, desc, { signal })).body);
  const cfg = bytes && parseConfigJson(bytes);
  if (!cfg) return {}; // over the cap, or an artifact whose config is not an image config
  const variant = typeof cfg.variant === 'string' ? { variant: cfg.variant } : {};
  const platform =
    typeof cfg.os === 'string'
      ? formatPlatform({
          os: cfg.os,
          architecture: typeof cfg.architecture === 'string' ? cfg.architecture : '',
          ...variant,
        })
      : undefined;
  return { ...(typeof cfg.created === 'string' ? { created: cfg.created } : {}), ...(platform ? { platform } : {}) };
}

/** Manifest and config reads, deduplicated (150 tags of 3 images read 3 manifests) and bounded by `jobs`. */
class Reader {
  private manifests = new Map<string, Promise<FetchedManifest>>();
  private configs = new Map<string, Promise<{ created?: string; platform?: string }>>();
  readonly limit: ReturnType<typeof pLimit>;
  constructor(
    private client: RegistryClient,
    private repo: Repo,
    jobs: number,
    private signal: AbortSignal,
  ) {
    this.limit = pLimit(Math.max(1, jobs));
  }
  manifest(digest: string): Promise<FetchedManifest> {
    let p = this.manifests.get(digest);
    if (!p) this.manifests.set(digest, (p = this.limit(() => this.client.getManifest(this.repo, digest, this.signal))));
    return p;
  }
  config(desc: Descriptor): Promise<{ created?: string; platform?: string }> {
    let p = this.configs.get(desc.digest);
    if (!p)
      this.configs.set(desc.digest, (p = this.limit(() => readConfig(this.client, this.repo, desc, this.signal))));
    return p;
  }
  /**
   * platforms, created, size and children of a manifest; `config`: read image configs (else an image's platform is
   * unknown).
   */
  async details(digest: string, config: boolean): Promise<Details> {
    const m = await this.manifest(digest);
    if (m.manifest.kind === 'image') {
      const c = config ? await this.config(m.manifest.config) : {};
      const size = m.manifest.config.size + m.manifest.layers.reduce((n, l) => n + l.size, 0);
      return {
        platforms: c.platform ? [c.platform] : [],
        ...(c.created ? { created: c.created } : {}),
        size,
        children: [],
      };
    }
    const entries = m.manifest.manifests;
    const images = entries.filter((d) => !isAttestationEntry(d));
    const subs = config ? await Promise.all(images.map((d) => this.details(d.digest, true))) : [];
    const created = subs
      .map((s) => s.created)
      .filter((c): c is string => Boolean(c))
      .sort()
      .at(-1);
    return {
      platforms: images.map((d) => formatPlatform(d.platform)),
      ...(created ? { created } : {}),
      size: subs.reduce((n, s) => n + s.size, 0),
      children: entries.map((d) => d.digest),
    };
  }
}

async function listEcr(client: RegistryClient, repo: Repo, ecr: EcrTarget, o: ListOptions): Promise<Listing> {
  const { describeImages } = await import('../ecr/api.js');
  const found = await describeImages(ecr, repo.repository, o.pageSize, o.signal);
  const reader = new Reader(client, repo, o.jobs, o.signal);
  const details = new Map<string, Details>();
  await Promise.all(
    found.map(async (img) => {
      if (o.details || (o.children && isIndexType(img.mediaType)))
        details.set(img.digest, await reader.details(img.digest, o.details));
    }),
  );
  const childOf = new Set([...details.values()].flatMap((d) => d.children));
  const rows = found
    .filter((img) => !childOf.has(img.digest))
    .map((img): ImageRow => {
      const d = details.get(img.digest);
      return {
        digest: img.digest,
        tags: img.tags,
        mediaType: img.mediaType ?? '',
        platforms: d?.platforms ?? [],
        ...(img.size !== undefined ? { size: img.size } : d ? { size: d.size } : {}),
        ...(d?.created ? { created: d.created } : {}),
        ...(img.pushed ? { pushed: img.pushed.toISOString() } : {}),
      };
    });
  return { rows, ecr, children: found.length - rows.length };
}

async function listRegistry(client: RegistryClient, repo: Repo, o: ListOptions): Promise<Listing> {
  const tags = await client.listTags(repo, o.signal, o.pageSize);
  const reader = new Reader(client, repo, o.jobs, o.signal);
  const heads = await Promise.all(tags.map((t) => reader.limit(() => client.headManifest(repo, t, o.signal))));
  const byDigest = new Map<string, { tags: string[]; mediaType: string }>();
  heads.forEach((desc, i) => {
    if (!desc) return; // deleted meanwhile
    if (!isDigest(desc.digest))
      throw new RegctlError('BAD_RESPONSE', `${repo.registry}/${repo.repository}:${tags[i]}: invalid digest`);
    const e = byDigest.get(desc.digest) ?? { tags: [], mediaType: desc.mediaType };
    e.tags.push(tags[i]);
    byDigest.set(desc.digest, e);
  });
  const rows = await Promise.all(
    [...byDigest].map(async ([digest, e]): Promise<ImageRow> => {
      const d = await reader.details(digest, o.details);
      const mediaType = e.mediaType || (await reader.manifest(digest)).desc.mediaType;
      return {
        digest,
        tags: e.tags.sort(),
        mediaType,
        platforms: d.platforms,
        size: d.size,
        ...(d.created ? { created: d.created } : {}),
      };
    }),
  );
  return { rows, children: 0 };
}

export async function listImages(client: RegistryClient, repo: Repo, o: ListOptions): Promise<Listing> {
  return o.ecr ? listEcr(client, repo, o.ecr, o) : listRegistry(client, repo, o);
}
