// ECR's repository API through the lazily loaded SDK: describe/create/delete repositories, DescribeImages pages,
// BatchDeleteImage, lifecycle policies.
import { RegctlError, hasCode } from '../errors.js';
import type { EcrTarget } from './host.js';
import { ecrClient, loadSdk } from './sdk.js';

/** How a repository is created (`repo create` flags, create-on-push flags over the hosts config). */
export interface CreateRepoSettings {
  immutableTags?: boolean;
  scanOnPush?: boolean;
  kmsKey?: string;
}

export interface EcrImageDetail {
  digest: string;
  tags: string[];
  size?: number;
  pushed?: Date;
  mediaType?: string;
}

export interface EcrRepoSettings {
  immutableTags: boolean;
  scanOnPush: boolean;
  encryption: 'AES256' | 'KMS';
  kmsKey?: string;
  uri?: string;
}

async function call<T>(
  t: EcrTarget,
  what: string,
  make: (sdk: typeof import('@aws-sdk/client-ecr')) => unknown,
  signal?: AbortSignal,
  exists?: string,
): Promise<T> {
  const sdk = await loadSdk();
  const client = await ecrClient(t);
  try {
    return (await client.send(make(sdk) as never, { abortSignal: signal as never })) as T;
  } catch (err) {
    const e = err as Error;
    if (e.name === 'AbortError') throw err;
    if (exists && e.name === exists) return 'exists' as T;
    const code =
      e.name === 'RepositoryNotFoundException'
        ? 'NOT_FOUND'
        : e.name === 'LifecyclePolicyNotFoundException'
          ? 'NO_POLICY'
          : 'ECR_API';
    throw new RegctlError(code, `ECR ${what}: ${e.name}: ${e.message}`, { cause: err });
  }
}

const registryId = (t: EcrTarget) => (t.account ? { registryId: t.account } : {});

type RepoOut = {
  repositoryUri?: string;
  imageTagMutability?: string;
  imageScanningConfiguration?: { scanOnPush?: boolean };
  encryptionConfiguration?: { encryptionType?: string; kmsKey?: string };
};

function settingsOf(r: RepoOut): EcrRepoSettings {
  const enc = r.encryptionConfiguration?.encryptionType === 'KMS' ? 'KMS' : 'AES256';
  return {
    immutableTags: r.imageTagMutability === 'IMMUTABLE' || r.imageTagMutability === 'IMMUTABLE_WITH_EXCLUSION',
    scanOnPush: Boolean(r.imageScanningConfiguration?.scanOnPush),
    encryption: enc,
    ...(enc === 'KMS' && r.encryptionConfiguration?.kmsKey ? { kmsKey: r.encryptionConfiguration.kmsKey } : {}),
    ...(r.repositoryUri ? { uri: r.repositoryUri } : {}),
  };
}

export async function describeRepository(
  t: EcrTarget,
  repo: string,
  signal?: AbortSignal,
): Promise<EcrRepoSettings | undefined> {
  try {
    const out = await call<{ repositories?: RepoOut[] }>(
      t,
      `DescribeRepositories ${repo}`,
      (s) => new s.DescribeRepositoriesCommand({ repositoryNames: [repo], ...registryId(t) }),
      signal,
    );
    const r = out.repositories?.[0];
    return r ? settingsOf(r) : undefined;
  } catch (err) {
    if (hasCode(err, 'NOT_FOUND')) return undefined;
    throw err;
  }
}

/** CreateRepository: the settings it was created with, or 'exists' when a repository of that name is there already. */
export async function createRepository(
  t: EcrTarget,
  repo: string,
  s: CreateRepoSettings,
  signal?: AbortSignal,
): Promise<EcrRepoSettings | 'exists'> {
  const out = await call<{ repository?: RepoOut } | 'exists'>(
    t,
    `CreateRepository ${repo}`,
    (sdk) =>
      new sdk.CreateRepositoryCommand({
        repositoryName: repo,
        ...registryId(t),
        imageTagMutability: s.immutableTags ? 'IMMUTABLE' : 'MUTABLE',
        imageScanningConfiguration: { scanOnPush: Boolean(s.scanOnPush) },
        ...(s.kmsKey ? { encryptionConfiguration: { encryptionType: 'KMS', kmsKey: s.kmsKey } } : {}),
      }),
    signal,
    'RepositoryAlreadyExistsException',
  );
  return out === 'exists' ? out : settingsOf(out.repository ?? {});
}

export async function deleteRepository(
  t: EcrTarget,
  repo: string,
  force: boolean,
  signal?: AbortSignal,
): Promise<void> {
  await call(
    t,
    `DeleteRepository ${repo}`,
    (s) => new s.DeleteRepositoryCommand({ repositoryName: repo, force, ...registryId(t) }),
    signal,
  );
}

/** Every image of a repository, DescribeImages page after page (`pageSize` per page, at most 1000). */
export async function describeImages(
  t: EcrTarget,
  repo: string,
  pageSize: number,
  signal?: AbortSignal,
): Promise<EcrImageDetail[]> {
  const out: EcrImageDetail[] = [];
  let nextToken: string | undefined;
  do {
    type Page = {
      imageDetails?: Array<{
        imageDigest?: string;
        imageTags?: string[];
        imageSizeInBytes?: number;
        imagePushedAt?: Date;
        imageManifestMediaType?: string;
      }>;
      nextToken?: string;
    };
    const page: Page = await call<Page>(
      t,
      `DescribeImages ${repo}`,
      (s) =>
        new s.DescribeImagesCommand({
          repositoryName: repo,
          maxResults: Math.min(pageSize, 1000),
          ...(nextToken ? { nextToken } : {}),
          ...registryId(t),
        }),
      signal,
    );
    for (const d of page.imageDetails ?? []) {
      if (!d.imageDigest) continue;
      out.push({
        digest: d.imageDigest,
        tags: [...(d.imageTags ?? [])].sort(),
        ...(d.imageSizeInBytes !== undefined ? { size: d.imageSizeInBytes } : {}),
        ...(d.imagePushedAt ? { pushed: new Date(d.imagePushedAt) } : {}),
        ...(d.imageManifestMediaType ? { mediaType: d.imageManifestMediaType } : {}),
      });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

/** BatchDeleteImage by digest, 100 per call; answers the digests deleted and the failures as text. */
export async function batchDeleteImages(
  t: EcrTarget,
  repo: string,
  digests: string[],
  signal?: AbortSignal,
): Promise<{ deleted: string[]; failures: string[] }> {
  const deleted: string[] = [];
  const failures: string[] = [];
  for (let i = 0; i < digests.length; i += 100) {
    const chunk = digests.slice(i, i + 100);
    type Out = {
      imageIds?: Array<{ imageDigest?: string }>;
      failures?: Array<{ imageId?: { imageDigest?: string }; failureCode?: string; failureReason?: string }>;
    };
    const out = await call<Out>(
      t,
      `BatchDeleteImage ${repo}`,
      (s) =>
        new s.BatchDeleteImageCommand({
          repositoryName: repo,
          imageIds: chunk.map((d) => ({ imageDigest: d })),
          ...registryId(t),
        }),
      signal,
    );
    for (const id of out.imageIds ?? [])
      if (id.imageDigest && !deleted.includes(id.imageDigest)) deleted.push(id.imageDigest);
    for (const f of out.failures ?? [])
      failures.push(`${f.imageId?.imageDigest ?? '?'}: ${f.failureCode ?? 'failed'}: ${f.failureReason ?? ''}`.trim());
  }
  return { deleted, failures };
}

export async function getLifecyclePolicy(
  t: EcrTarget,
  repo: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  try {
    const out = await call<{ lifecyclePolicyText?: string }>(
      t,
      `GetLifecyclePolicy ${repo}`,
      (s) => new s.GetLifecyclePolicyCommand({ repositoryName: repo, ...registryId(t) }),
      signal,
    );
    return out.lifecyclePolicyText;
  } catch (err) {
    if (hasCode(err, 'NO_POLICY')) return undefined;
    throw err;
  }
}

export async function putLifecyclePolicy(
  t: EcrTarget,
  repo: string,
  text: string,
  signal?: AbortSignal,
): Promise<void> {
  await call(
    t,
    `PutLifecyclePolicy ${repo}`,
    (s) => new s.PutLifecyclePolicyCommand({ repositoryName: repo, lifecyclePolicyText: text, ...registryId(t) }),
    signal,
  );
}
