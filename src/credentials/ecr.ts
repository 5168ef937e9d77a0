// ECR: GetAuthorizationToken through the lazily loaded AWS SDK, cached in memory and on disk, refreshed at half its life; CreateRepository.
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { HostConfig } from '../config.js';
import { RegctlError, isAbortError } from '../errors.js';
import { hashOf } from '../oci/digest.js';
import { dockerAuthEnvSource, dockerConfigSource } from './docker-config.js';
import { writeAtomic } from '../util/fs.js';
import { readRegular } from '../util/read.js';
import { parseEcrHost } from './ecr-host.js';
import { type Credential, type CredentialSource, chain } from './index.js';
import { keychainSource } from './keychain.js';

export interface EcrTarget {
  region: string;
  endpoint?: string;
  account?: string;
  /** The host is a FIPS endpoint (`dkr-ecr-fips`, `dkr.ecr-fips`): so is the API. */
  fips?: boolean;
}

/** Whether a registry is ECR (by host pattern or the hosts config), and where its API is. */
export function ecrTarget(registry: string, cfg: HostConfig | undefined): EcrTarget | undefined {
  const parsed = parseEcrHost(registry);
  if (!parsed && cfg?.type !== 'ecr') return undefined;
  const region = cfg?.region ?? parsed?.region;
  if (!region) throw new RegctlError('CONFIG_INVALID', `hosts config for ${registry}: type "ecr" needs a region`, { exitCode: 2 });
  const t: EcrTarget = { region };
  if (cfg?.ecrEndpoint) t.endpoint = cfg.ecrEndpoint;
  if (parsed) t.account = parsed.account;
  if (parsed?.fips) t.fips = true;
  return t;
}

interface CachedToken {
  username: string;
  password: string;
  issuedAt: number;
  expiresAt: number;
}

type EcrModule = typeof import('@aws-sdk/client-ecr');
let sdk: Promise<EcrModule> | undefined;
export const loadSdk = (): Promise<EcrModule> => {
  // The SDK's own Node-version notice would land in the middle of our stderr output: regctl states its engines itself.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return (sdk ??= import('@aws-sdk/client-ecr'));
};

const clients = new Map<string, InstanceType<EcrModule['ECRClient']>>();
export async function ecrClient(t: EcrTarget): Promise<InstanceType<EcrModule['ECRClient']>> {
  const key = `${t.region}|${t.endpoint ?? ''}|${t.fips ? 'fips' : ''}`;
  let c = clients.get(key);
  if (!c) {
    const { ECRClient } = await loadSdk();
    c = new ECRClient({ region: t.region, ...(t.endpoint ? { endpoint: t.endpoint } : t.fips ? { useFipsEndpoint: true } : {}) });
    clients.set(key, c);
  }
  return c;
}

/**
 * One cache file per registry and AWS identity hint (profile, access key, role), so switching identities never reuses
 * another identity's token; the hash keeps key ids out of file names.
 */
function cacheFile(env: NodeJS.ProcessEnv, registry: string, t: EcrTarget): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const who = [t.region, t.endpoint ?? '', env.AWS_PROFILE ?? env.AWS_DEFAULT_PROFILE ?? '', env.AWS_ACCESS_KEY_ID ?? '', env.AWS_ROLE_ARN ?? ''].join('|');
  const id = hashOf('sha256').update(who).digest('hex').slice(0, 16);
  return join(base, 'regctl', 'ecr', `${registry.replace(/[^\w.-]/g, '_')}-${id}.json`);
}

const fresh = (t: CachedToken, now = Date.now()) => now < t.issuedAt + (t.expiresAt - t.issuedAt) / 2;

async function fetchToken(t: EcrTarget, signal?: AbortSignal): Promise<CachedToken> {
  const { GetAuthorizationTokenCommand } = await loadSdk();
  const client = await ecrClient(t);
  let out;
  try {
    out = await client.send(new GetAuthorizationTokenCommand({}), { abortSignal: signal as never });
  } catch (err) {
    const e = err as Error;
    throw new RegctlError('ECR_AUTH', `ECR GetAuthorizationToken in ${t.region}: ${e.name}: ${e.message}`, {
      hint: 'configure AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance/role identity)',
      cause: err,
    });
  }
  const data = out.authorizationData?.[0];
  if (!data?.authorizationToken) throw new RegctlError('ECR_AUTH', `ECR in ${t.region} returned no authorization token`);
  const decoded = Buffer.from(data.authorizationToken, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  const now = Date.now();
  const expiresAt = data.expiresAt ? new Date(data.expiresAt).getTime() : now + 12 * 3600_000;
  return { username: decoded.slice(0, i), password: decoded.slice(i + 1), issuedAt: now, expiresAt };
}

async function writeCache(file: string, tok: CachedToken): Promise<void> {
  try {
    await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
    await writeAtomic(file, Buffer.from(JSON.stringify(tok)), undefined, { mode: 0o600 });
  } catch {
    /* the disk cache is an optimisation */
  }
}

async function readCache(file: string): Promise<CachedToken | undefined> {
  try {
    const disk = JSON.parse((await readRegular(file, 64 * 1024, { noFollow: true })).toString('utf8')) as CachedToken;
    return typeof disk.password === 'string' && typeof disk.issuedAt === 'number' && typeof disk.expiresAt === 'number' ? disk : undefined;
  } catch {
    return undefined;
  }
}

// Shared by every client of the process (source and destination may both be ECR): one API call per registry and identity.
const memory = new Map<string, CachedToken>();
const inflight = new Map<string, Promise<CachedToken>>();

/**
 * The ECR credential source: a registry token per ECR host, from memory, then disk, then the API (`refresh`: the API).
 * Without a usable AWS identity, credentials stored for the host the docker way (a token an earlier CI step logged in
 * with) are used; only when there are none does the API's error surface.
 */
export function ecrSource(
  hosts: () => Record<string, HostConfig>,
  env: NodeJS.ProcessEnv = process.env,
  fallback: CredentialSource = chain(dockerAuthEnvSource(env), dockerConfigSource(env), keychainSource(env)),
): CredentialSource {
  return async (registry, signal, opts) => {
    const target = ecrTarget(registry, hosts()[registry]);
    if (!target) return undefined;
    const toCred = (t: CachedToken): Credential => ({ username: t.username, password: t.password });
    const file = cacheFile(env, registry, target);
    let pending = inflight.get(file);
    if (!pending) {
      const mem = memory.get(file);
      if (mem && fresh(mem) && !opts?.refresh) return toCred(mem);
      pending = (async () => {
        const disk = opts?.refresh ? undefined : await readCache(file);
        if (disk && fresh(disk)) return disk;
        const tok = await fetchToken(target, signal);
        await writeCache(file, tok);
        return tok;
      })();
      inflight.set(file, pending);
      pending.then(
        (tok) => memory.set(file, tok),
        () => {},
      ).finally(() => inflight.delete(file));
    }
    try {
      return toCred(await pending);
    } catch (err) {
      const found = isAbortError(err) ? undefined : await fallback(registry, signal).catch(() => undefined);
      if (found) return found;
      throw err;
    }
  };
}

export interface CreateRepoSettings {
  immutableTags?: boolean;
  scanOnPush?: boolean;
  kmsKey?: string;
}

/** CreateRepository; an existing repository (a concurrent create) is fine. */
export async function createEcrRepository(t: EcrTarget, repository: string, settings: CreateRepoSettings, signal?: AbortSignal): Promise<'created' | 'exists'> {
  const { CreateRepositoryCommand } = await loadSdk();
  const client = await ecrClient(t);
  try {
    await client.send(
      new CreateRepositoryCommand({
        repositoryName: repository,
        ...(t.account ? { registryId: t.account } : {}),
        imageTagMutability: settings.immutableTags ? 'IMMUTABLE' : 'MUTABLE',
        imageScanningConfiguration: { scanOnPush: Boolean(settings.scanOnPush) },
        ...(settings.kmsKey ? { encryptionConfiguration: { encryptionType: 'KMS', kmsKey: settings.kmsKey } } : {}),
      }),
      { abortSignal: signal as never },
    );
    return 'created';
  } catch (err) {
    if ((err as Error).name === 'RepositoryAlreadyExistsException') return 'exists';
    throw new RegctlError('ECR_CREATE', `ECR CreateRepository ${repository}: ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
  }
}

/** DescribeRepositories for one name: whether it exists (RepositoryNotFoundException: no). */
export async function ecrRepositoryExists(t: EcrTarget, repository: string, signal?: AbortSignal): Promise<boolean> {
  const { DescribeRepositoriesCommand } = await loadSdk();
  const client = await ecrClient(t);
  try {
    await client.send(
      new DescribeRepositoriesCommand({
        repositoryNames: [repository],
        ...(t.account ? { registryId: t.account } : {}),
      }),
      { abortSignal: signal as never },
    );
    return true;
  } catch (err) {
    if ((err as Error).name === 'RepositoryNotFoundException') return false;
    const e = err as Error;
    throw new RegctlError('ECR_API', `ECR DescribeRepositories ${repository}: ${e.name}: ${e.message}`, { cause: err });
  }
}
