// The ECR stand-in's state and its operation table: one function per AWS JSON 1.1 operation, input object → output
// object.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

export const ACCOUNT = '123456789012';
const REPO_NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** An ECR API error: answered as `{"__type": type, "message": …}` with `status` (400 unless told). */
export class EcrError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface EcrRepository {
  repositoryName: string;
  registryId: string;
  repositoryArn: string;
  repositoryUri: string;
  createdAt: Date;
  imageTagMutability: 'MUTABLE' | 'IMMUTABLE';
  imageScanningConfiguration: { scanOnPush: boolean };
  encryptionConfiguration: { encryptionType: 'AES256' | 'KMS'; kmsKey?: string };
  tags: Array<{ Key: string; Value: string }>;
  /** For PutLifecyclePolicy / GetLifecyclePolicy when they are added. */
  lifecyclePolicyText?: string;
}

export interface EcrState {
  region: string;
  /** The registry host clients push to (the front), for repositoryUri and proxyEndpoint. */
  registryHost: string;
  repositories: Map<string, EcrRepository>;
  /** Issued registry passwords → expiry (ms since epoch). */
  passwords: Map<string, number>;
  tokenTtlSeconds: number;
  /** When each image (`repo@digest`) was pushed, for DescribeImages; set on first sight unless a test sets it. */
  pushedAt?: Map<string, Date>;
  /** The backing registry's storage root: DescribeImages also lists untagged manifests found there. */
  registryRoot?: string;
  /** The account's BLOB_MOUNTING setting (`aws ecr put-account-setting --name BLOB_MOUNTING`); off unless enabled. */
  blobMounting?: boolean;
  /** Per repository, the blobs (config and layers) that a manifest pushed there references: what ECR can mount. */
  referenced?: Map<string, Set<string>>;
}

/** What an operation may use besides its input: the state and the plain registry behind the front. */
export interface OpContext {
  state: EcrState;
  /** fetch() against the backing registry (no auth): `registry('/v2/x/manifests/v1', { method: 'HEAD' })`. */
  registry(path: string, init?: RequestInit): Promise<Response>;
}

// Inputs arrive as parsed JSON; each op checks what it reads.
type Input = Record<string, any>;
/** An op's answer: the response document, or a promise of it. */
export type EcrOp = (input: Input, ctx: OpContext) => unknown;

/** Every manifest type a registry front asks for. */
export const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export function repositoryOrThrow(state: EcrState, name: unknown, registryId?: unknown): EcrRepository {
  if (registryId !== undefined && registryId !== ACCOUNT)
    throw new EcrError(
      'RepositoryNotFoundException',
      `The repository with name '${String(name)}' does not exist ` +
        `in the registry with id '${typeof registryId === 'string' ? registryId : JSON.stringify(registryId)}'`,
    );
  const repo = typeof name === 'string' ? state.repositories.get(name) : undefined;
  if (!repo)
    throw new EcrError(
      'RepositoryNotFoundException',
      `The repository with name '${String(name)}' does not exist in the registry with id '${ACCOUNT}'`,
    );
  return repo;
}

/** One page of `items` after `nextToken` (an opaque offset), at most `maxResults` (1…max). */
export function page<T>(items: T[], input: Input, max = 1000, byDefault = 100): { items: T[]; nextToken?: string } {
  let start = 0;
  if (input.nextToken !== undefined) {
    const n = Number(
      Buffer.from(String(input.nextToken), 'base64url')
        .toString('utf8')
        .replace(/^offset:/, ''),
    );
    if (!Number.isInteger(n) || n < 0)
      throw new EcrError('InvalidParameterException', 'Invalid parameter at nextToken');
    start = n;
  }
  const size = input.maxResults ?? byDefault;
  if (!Number.isInteger(size) || size < 1 || size > max)
    throw new EcrError('InvalidParameterException', `maxResults must be between 1 and ${max}`);
  const slice = items.slice(start, start + size);
  const next = start + size < items.length ? Buffer.from(`offset:${start + size}`).toString('base64url') : undefined;
  return next ? { items: slice, nextToken: next } : { items: slice };
}

/** A repository as the API describes it (dates as epoch seconds, as AWS JSON 1.1 encodes them). */
function describe(r: EcrRepository): object {
  const { tags: _tags, lifecyclePolicyText: _policy, createdAt, ...rest } = r;
  return { ...rest, createdAt: createdAt.getTime() / 1000 };
}

/** The digest a tag (or digest) names in the backing registry, or undefined. */
export async function resolveImage(ctx: OpContext, repo: string, reference: string): Promise<string | undefined> {
  const res = await ctx.registry(`/v2/${repo}/manifests/${reference}`, { method: 'HEAD', headers: { accept: ACCEPT } });
  return res.status === 200 ? (res.headers.get('docker-content-digest') ?? undefined) : undefined;
}

/** The repository's other tags that name `digest`. */
async function otherTags(ctx: OpContext, repo: string, tag: string, digest: string): Promise<string[]> {
  const res = await ctx.registry(`/v2/${repo}/tags/list`);
  const tags = res.status === 200 ? (((await res.json()) as { tags?: string[] | null }).tags ?? []) : [];
  const out: string[] = [];
  for (const t of tags) if (t !== tag && (await resolveImage(ctx, repo, t)) === digest) out.push(t);
  return out;
}

/** Removes one tag in the backing registry's storage (distribution 2.8 has no tag DELETE): its tag directory. */
async function untag(state: EcrState, repo: string, tag: string): Promise<void> {
  if (!state.registryRoot)
    throw new EcrError('ServerException', 'the ECR stand-in untags only with registryRoot (the backing storage)', 500);
  for (const base of [join(state.registryRoot, 'data'), state.registryRoot]) {
    const dir = join(base, 'docker', 'registry', 'v2', 'repositories', repo, '_manifests', 'tags', tag);
    if (existsSync(dir)) return rm(dir, { recursive: true, force: true });
  }
}

export const ops: Record<string, EcrOp> = {
  GetAuthorizationToken(_input, { state }) {
    const password = randomBytes(48).toString('base64');
    const expiresAt = Date.now() + state.tokenTtlSeconds * 1000;
    state.passwords.set(password, expiresAt);
    return {
      authorizationData: [
        {
          authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'),
          expiresAt: expiresAt / 1000,
          proxyEndpoint: `https://${state.registryHost}`,
        },
      ],
    };
  },

  CreateRepository(input, { state }) {
    const name = input.repositoryName;
    if (typeof name !== 'string' || name.length < 2 || name.length > 256 || !REPO_NAME.test(name)) {
      throw new EcrError(
        'InvalidParameterException',
        `Invalid parameter at 'repositoryName' failed to satisfy constraint: '${String(name)}'`,
      );
    }
    if (state.repositories.has(name)) {
      throw new EcrError(
        'RepositoryAlreadyExistsException',
        `The repository with name '${name}' already exists in the registry with id '${ACCOUNT}'`,
      );
    }
    const mutability = input.imageTagMutability ?? 'MUTABLE';
    if (mutability !== 'MUTABLE' && mutability !== 'IMMUTABLE')
      throw new EcrError('InvalidParameterException', `Invalid imageTagMutability '${String(mutability)}'`);
    const enc = input.encryptionConfiguration ?? { encryptionType: 'AES256' };
    if (enc.encryptionType !== 'AES256' && enc.encryptionType !== 'KMS')
      throw new EcrError('InvalidParameterException', 'Invalid encryptionType');
    const repo: EcrRepository = {
      repositoryName: name,
      registryId: ACCOUNT,
      repositoryArn: `arn:aws:ecr:${state.region}:${ACCOUNT}:repository/${name}`,
      repositoryUri: `${state.registryHost}/${name}`,
      createdAt: new Date(),
      imageTagMutability: mutability,
      imageScanningConfiguration: { scanOnPush: Boolean(input.imageScanningConfiguration?.scanOnPush) },
      encryptionConfiguration:
        enc.encryptionType === 'KMS'
          ? { encryptionType: 'KMS', kmsKey: enc.kmsKey ?? `arn:aws:kms:${state.region}:${ACCOUNT}:alias/aws/ecr` }
          : { encryptionType: 'AES256' },
      tags: Array.isArray(input.tags) ? input.tags : [],
    };
    state.repositories.set(name, repo);
    return { repository: describe(repo) };
  },

  DescribeRepositories(input, { state }) {
    if (Array.isArray(input.repositoryNames)) {
      if (input.nextToken !== undefined || input.maxResults !== undefined) {
        throw new EcrError('InvalidParameterException', 'nextToken and maxResults cannot be used with repositoryNames');
      }
      return {
        repositories: input.repositoryNames.map((n: unknown) =>
          describe(repositoryOrThrow(state, n, input.registryId)),
        ),
      };
    }
    const all = [...state.repositories.values()].sort((a, b) => a.repositoryName.localeCompare(b.repositoryName));
    const p = page(all, input);
    return { repositories: p.items.map(describe), ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
  },

  async BatchDeleteImage(input, ctx) {
    const repo = repositoryOrThrow(ctx.state, input.repositoryName, input.registryId);
    const ids: Array<{ imageDigest?: string; imageTag?: string }> = Array.isArray(input.imageIds) ? input.imageIds : [];
    if (ids.length === 0 || ids.length > 100)
      throw new EcrError('InvalidParameterException', 'imageIds must hold 1 to 100 entries');
    const deleted: object[] = [];
    const failures: object[] = [];
    for (const id of ids) {
      const byTag = id.imageTag ? await resolveImage(ctx, repo.repositoryName, id.imageTag) : undefined;
      const digest = id.imageDigest ?? byTag;
      if (!digest || (id.imageTag && !byTag) || !(await resolveImage(ctx, repo.repositoryName, digest))) {
        failures.push({ imageId: id, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' });
        continue;
      }
      if (id.imageTag && id.imageDigest && byTag !== id.imageDigest) {
        failures.push({
          imageId: id,
          failureCode: 'ImageTagDoesNotMatchDigest',
          failureReason: 'Invalid image tag for the image digest',
        });
        continue;
      }
      // By tag, ECR removes only that tag while the image has others; the last tag's removal deletes the image. By
      // digest, the image and all its tags go (BatchDeleteImage API reference,
      // https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_BatchDeleteImage.html).
      if (
        id.imageTag &&
        !id.imageDigest &&
        (await otherTags(ctx, repo.repositoryName, id.imageTag, digest)).length > 0
      ) {
        await untag(ctx.state, repo.repositoryName, id.imageTag);
        deleted.push({ imageDigest: digest, imageTag: id.imageTag });
        continue;
      }
      const res = await ctx.registry(`/v2/${repo.repositoryName}/manifests/${digest}`, { method: 'DELETE' });
      if (res.status !== 202) {
        failures.push({ imageId: id, failureCode: 'UnknownError', failureReason: `registry answered ${res.status}` });
        continue;
      }
      deleted.push({ imageDigest: digest, ...(id.imageTag ? { imageTag: id.imageTag } : {}) });
    }
    return { imageIds: deleted, failures };
  },
};
