// The ECR stand-in's image and repository-settings operations: DescribeImages (paged), lifecycle policies,
// DeleteRepository, scanning and mutability.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ACCEPT,
  ACCOUNT,
  type EcrOp,
  type EcrRepository,
  EcrError,
  type OpContext,
  page,
  repositoryOrThrow,
} from './ecr-ops.js';
import { validateLifecyclePolicy } from './ecr-lifecycle.js';

interface Manifest {
  mediaType?: string;
  layers?: Array<{ size: number }>;
  manifests?: Array<{ digest: string }>;
}

async function tagsOf(ctx: OpContext, repo: string): Promise<string[]> {
  const res = await ctx.registry(`/v2/${repo}/tags/list`);
  if (res.status !== 200) return [];
  return ((await res.json()) as { tags?: string[] | null }).tags ?? [];
}

async function manifestOf(
  ctx: OpContext,
  repo: string,
  digest: string,
): Promise<{ mediaType: string; doc: Manifest } | undefined> {
  const res = await ctx.registry(`/v2/${repo}/manifests/${digest}`, { headers: { accept: ACCEPT } });
  if (res.status !== 200) return undefined;
  const doc = (await res.json()) as Manifest;
  return { mediaType: (res.headers.get('content-type') ?? doc.mediaType ?? '').split(';')[0], doc };
}

/** Manifests stored in the repository (filesystem driver), tagged or not. */
async function storedDigests(root: string | undefined, repo: string): Promise<string[]> {
  if (!root) return [];
  for (const base of [join(root, 'data'), root]) {
    const dir = join(base, 'docker', 'registry', 'v2', 'repositories', repo, '_manifests', 'revisions', 'sha256');
    if (!existsSync(dir)) continue;
    const hexes = await readdir(dir);
    return hexes.filter((h) => existsSync(join(dir, h, 'link'))).map((h) => `sha256:${h}`);
  }
  return [];
}

interface Image {
  digest: string;
  tags: string[];
}

/** Every image of a repository: tags grouped by digest, plus untagged manifests from storage; sorted by digest. */
async function imagesOf(ctx: OpContext, repo: string): Promise<Image[]> {
  const tags = await tagsOf(ctx, repo);
  const byDigest = new Map<string, string[]>();
  await Promise.all(
    tags.map(async (t) => {
      const res = await ctx.registry(`/v2/${repo}/manifests/${t}`, { method: 'HEAD', headers: { accept: ACCEPT } });
      const d = res.status === 200 ? res.headers.get('docker-content-digest') : null;
      if (d) byDigest.set(d, [...(byDigest.get(d) ?? []), t]);
    }),
  );
  for (const d of await storedDigests(ctx.state.registryRoot, repo)) if (!byDigest.has(d)) byDigest.set(d, []);
  return [...byDigest]
    .map(([digest, t]) => ({ digest, tags: t.sort() }))
    .sort((a, b) => a.digest.localeCompare(b.digest));
}

async function sizeOf(ctx: OpContext, repo: string, m: Manifest): Promise<number> {
  if (m.layers) return m.layers.reduce((n, l) => n + l.size, 0);
  let n = 0;
  for (const child of m.manifests ?? []) {
    const c = await manifestOf(ctx, repo, child.digest);
    if (c) n += await sizeOf(ctx, repo, c.doc);
  }
  return n;
}

function pushedAt(ctx: OpContext, repo: string, digest: string): Date {
  const map = (ctx.state.pushedAt ??= new Map());
  const key = `${repo}@${digest}`;
  let at = map.get(key);
  if (!at) map.set(key, (at = new Date()));
  return at;
}

const describeRepo = (r: EcrRepository) => {
  const { tags: _t, lifecyclePolicyText: _p, createdAt, ...rest } = r;
  return { ...rest, createdAt: createdAt.getTime() / 1000 };
};

export const imageOps: Record<string, EcrOp> = {
  async DescribeImages(input, ctx) {
    const repo = repositoryOrThrow(ctx.state, input.repositoryName, input.registryId);
    let images = await imagesOf(ctx, repo.repositoryName);
    if (Array.isArray(input.imageIds)) {
      if (input.nextToken !== undefined || input.maxResults !== undefined)
        throw new EcrError('InvalidParameterException', 'nextToken and maxResults cannot be used with imageIds');
      images = (input.imageIds as Array<{ imageDigest?: string; imageTag?: string }>).map((id) => {
        const found = images.find((i) =>
          id.imageDigest ? i.digest === id.imageDigest : i.tags.includes(id.imageTag ?? ''),
        );
        if (!found)
          throw new EcrError(
            'ImageNotFoundException',
            `The image with imageId {imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'} ` +
              `does not exist within the repository with name '${repo.repositoryName}' ` +
              `in the registry with id '${ACCOUNT}'`,
          );
        return found;
      });
    }
    const status = input.filter?.tagStatus ?? 'ANY';
    if (!['TAGGED', 'UNTAGGED', 'ANY'].includes(status))
      throw new EcrError('InvalidParameterException', `Invalid tagStatus '${String(status)}'`);
    if (status !== 'ANY') images = images.filter((i) => (status === 'TAGGED') === i.tags.length > 0);
    const p = Array.isArray(input.imageIds) ? { items: images } : page(images, input, 1000, 100);
    const imageDetails = [];
    for (const img of p.items) {
      const m = await manifestOf(ctx, repo.repositoryName, img.digest);
      if (!m) continue;
      imageDetails.push({
        registryId: ACCOUNT,
        repositoryName: repo.repositoryName,
        imageDigest: img.digest,
        ...(img.tags.length ? { imageTags: img.tags } : {}),
        imageSizeInBytes: await sizeOf(ctx, repo.repositoryName, m.doc),
        imagePushedAt: pushedAt(ctx, repo.repositoryName, img.digest).getTime() / 1000,
        imageManifestMediaType: m.mediaType,
      });
    }
    return { imageDetails, ...('nextToken' in p && p.nextToken ? { nextToken: p.nextToken } : {}) };
  },

  GetLifecyclePolicy(input, { state }) {
    const repo = repositoryOrThrow(state, input.repositoryName, input.registryId);
    if (repo.lifecyclePolicyText === undefined) {
      throw new EcrError(
        'LifecyclePolicyNotFoundException',
        `Lifecycle policy does not exist for the repository ` +
          `with name '${repo.repositoryName}' in the registry with id '${ACCOUNT}'`,
      );
    }
    return {
      registryId: ACCOUNT,
      repositoryName: repo.repositoryName,
      lifecyclePolicyText: repo.lifecyclePolicyText,
      lastEvaluatedAt: Date.now() / 1000,
    };
  },

  PutLifecyclePolicy(input, { state }) {
    const repo = repositoryOrThrow(state, input.repositoryName, input.registryId);
    const text = input.lifecyclePolicyText;
    validateLifecyclePolicy(text);
    repo.lifecyclePolicyText = text as string;
    return { registryId: ACCOUNT, repositoryName: repo.repositoryName, lifecyclePolicyText: text };
  },

  async DeleteRepository(input, ctx) {
    const repo = repositoryOrThrow(ctx.state, input.repositoryName, input.registryId);
    const images = await imagesOf(ctx, repo.repositoryName);
    if (images.length > 0 && input.force !== true) {
      throw new EcrError(
        'RepositoryNotEmptyException',
        `The repository with name '${repo.repositoryName}' in registry with id '${ACCOUNT}' ` +
          `cannot be deleted because it still contains images`,
      );
    }
    for (const img of images)
      await ctx.registry(`/v2/${repo.repositoryName}/manifests/${img.digest}`, { method: 'DELETE' });
    ctx.state.repositories.delete(repo.repositoryName);
    return { repository: describeRepo(repo) };
  },

  PutImageScanningConfiguration(input, { state }) {
    const repo = repositoryOrThrow(state, input.repositoryName, input.registryId);
    repo.imageScanningConfiguration = { scanOnPush: Boolean(input.imageScanningConfiguration?.scanOnPush) };
    return {
      registryId: ACCOUNT,
      repositoryName: repo.repositoryName,
      imageScanningConfiguration: repo.imageScanningConfiguration,
    };
  },

  PutImageTagMutability(input, { state }) {
    const repo = repositoryOrThrow(state, input.repositoryName, input.registryId);
    if (input.imageTagMutability !== 'MUTABLE' && input.imageTagMutability !== 'IMMUTABLE')
      throw new EcrError(
        'InvalidParameterException',
        `Invalid imageTagMutability '${String(input.imageTagMutability)}'`,
      );
    repo.imageTagMutability = input.imageTagMutability;
    return { registryId: ACCOUNT, repositoryName: repo.repositoryName, imageTagMutability: repo.imageTagMutability };
  },
};
