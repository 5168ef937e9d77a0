// ECR: GetAuthorizationToken through the lazily loaded AWS SDK, cached in memory and on disk, refreshed at half its life; CreateRepository.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { HostConfig } from '../config.js';
import { RegctlError } from '../errors.js';
import { parseEcrHost } from './ecr-host.js';
import type { Credential, CredentialSource } from './index.js';

export interface EcrTarget {
  region: string;
  endpoint?: string;
  account?: string;
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
export const loadSdk = (): Promise<EcrModule> => (sdk ??= import('@aws-sdk/client-ecr'));

const clients = new Map<string, InstanceType<EcrModule['ECRClient']>>();
export async function ecrClient(t: EcrTarget): Promise<InstanceType<EcrModule['ECRClient']>> {
  const key = `${t.region}|${t.endpoint ?? ''}`;
  let c = clients.get(key);
  if (!c) {
    const { ECRClient } = await loadSdk();
    c = new ECRClient({ region: t.region, ...(t.endpoint ? { endpoint: t.endpoint } : {}) });
    clients.set(key, c);
  }
  return c;
}

function cacheFile(env: NodeJS.ProcessEnv, registry: string): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'regctl', 'ecr', `${registry.replace(/[^\w.-]/g, '_')}.json`);
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

/** The ECR credential source: a registry token per ECR host, from memory, then disk, then the API. */
export function ecrSource(hosts: () => Record<string, HostConfig>, env: NodeJS.ProcessEnv = process.env): CredentialSource {
  const memory = new Map<string, CachedToken>();
  return async (registry, signal, opts) => {
    const target = ecrTarget(registry, hosts()[registry]);
    if (!target) return undefined;
    const toCred = (t: CachedToken): Credential => ({ username: t.username, password: t.password });
    const mem = memory.get(registry);
    if (mem && fresh(mem) && !opts?.refresh) return toCred(mem);
    const file = cacheFile(env, registry);
    if (!opts?.refresh) {
      try {
        const disk = JSON.parse(await readFile(file, 'utf8')) as CachedToken;
        if (disk.password && fresh(disk)) {
          memory.set(registry, disk);
          return toCred(disk);
        }
      } catch {
        /* no usable cache */
      }
    }
    const tok = await fetchToken(target, signal);
    memory.set(registry, tok);
    try {
      await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(tok), { mode: 0o600 });
      await rename(tmp, file);
    } catch {
      /* the disk cache is an optimisation */
    }
    return toCred(tok);
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
