// ECR: GetAuthorizationToken through the lazily loaded AWS SDK, cached in memory and on disk, refreshed at half its
// life.
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { HostConfig } from '../config.js';
import { RegctlError, isAbortError } from '../errors.js';
import { hashOf } from '../oci/digest.js';
import { dockerAuthEnvSource, dockerConfigSource } from '../credentials/docker-config.js';
import { writeAtomic } from '../util/fs.js';
import { readRegular } from '../util/read.js';
import { type EcrTarget, ecrTarget } from './host.js';
import { ecrClient, loadSdk } from './sdk.js';
import { type Credential, type CredentialSource, chain } from '../credentials/index.js';
import { keychainSource } from '../credentials/keychain.js';

interface CachedToken {
  username: string;
  password: string;
  issuedAt: number;
  expiresAt: number;
}

/**
 * One cache file per registry and AWS identity hint (profile, access key, role), so switching identities never reuses
 * another identity's token; the hash keeps key ids out of file names.
 */
function cacheFile(env: NodeJS.ProcessEnv, registry: string, t: EcrTarget): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const who = [
    t.region,
    t.endpoint ?? '',
    env.AWS_PROFILE ?? env.AWS_DEFAULT_PROFILE ?? '',
    env.AWS_ACCESS_KEY_ID ?? '',
    env.AWS_ROLE_ARN ?? '',
  ].join('|');
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
      hint:
        'configure AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ' +
        'or an instance/role identity)',
      cause: err,
    });
  }
  const data = out.authorizationData?.[0];
  if (!data?.authorizationToken)
    throw new RegctlError('ECR_AUTH', `ECR in ${t.region} returned no authorization token`);
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
    return typeof disk.password === 'string' && typeof disk.issuedAt === 'number' && typeof disk.expiresAt === 'number'
      ? disk
      : undefined;
  } catch {
    return undefined;
  }
}

// Shared by every client of the process (source and destination may both be ECR): one API call per registry and
// identity.
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
      pending
        .then(
          (tok) => memory.set(file, tok),
          () => {},
        )
        .finally(() => inflight.delete(file));
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
