// Docker's config.json and DOCKER_AUTH_CONFIG: auths (auth, identitytoken), credHelpers and credsStore.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RegctlError } from '../errors.js';
import { readRegular } from '../util/read.js';
import { DOCKER_HUB } from '../location/reference.js';
import { helperGet } from './helper.js';
import type { Credential, CredentialSource } from './index.js';
import { MAX_JSON_BYTES } from '../oci/limits.js';

export interface DockerConfig {
  auths?: Record<
    string,
    { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }
  >;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [key: string]: unknown;
}

export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(homedir(), '.docker');
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(dockerConfigDir(env), 'config.json');
}

/** The registry a config key names: `https://index.docker.io/v1/` → docker.io, `https://host:5000/v2/` → host:5000. */
export function registryOfKey(key: string): string {
  let host = key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'registry.hub.docker.com')
    host = DOCKER_HUB;
  return host;
}

/** The key docker writes for a registry: Docker Hub's is `https://index.docker.io/v1/`. */
export function keyForRegistry(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_KEY : registry;
}

export async function readDockerConfig(path: string): Promise<DockerConfig | undefined> {
  let text: string;
  try {
    // A regular file of at most 4 MiB (docker's own are a few KiB): a FIFO or a device is refused, not read forever.
    text = (await readRegular(path, MAX_JSON_BYTES)).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseConfig(text, path);
}

function parseConfig(text: string, where: string): DockerConfig {
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not an object');
    return doc as DockerConfig;
  } catch {
    throw new RegctlError('CONFIG_INVALID', `${where} is not valid JSON`, { exitCode: 2 });
  }
}

function fromAuthEntry(entry: NonNullable<DockerConfig['auths']>[string]): Credential | undefined {
  if (entry.identitytoken) {
    const user = entry.auth ? Buffer.from(entry.auth, 'base64').toString('utf8').split(':')[0] : entry.username;
    return { username: user || '<token>', identityToken: entry.identitytoken };
  }
  if (entry.registrytoken) return { registryToken: entry.registrytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
  }
  if (entry.username && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return undefined;
}

/** Looks a registry up in one parsed config: credHelpers first, then auths, then credsStore (as docker does). */
async function lookupInConfig(
  cfg: DockerConfig,
  registry: string,
  signal?: AbortSignal,
): Promise<Credential | undefined> {
  for (const [key, helper] of Object.entries(cfg.credHelpers ?? {})) {
    if (registryOfKey(key) === registry) return helperGet(helper, keyForRegistry(registry), signal);
  }
  for (const [key, entry] of Object.entries(cfg.auths ?? {})) {
    if (registryOfKey(key) !== registry) continue;
    const cred = entry ? fromAuthEntry(entry) : undefined;
    if (cred) return cred;
  }
  if (cfg.credsStore) return helperGet(cfg.credsStore, keyForRegistry(registry), signal);
  return undefined;
}

/** docker's config.json ($DOCKER_CONFIG or ~/.docker), read once per process. */
export function dockerConfigSource(env: NodeJS.ProcessEnv = process.env): CredentialSource {
  let cfg: Promise<DockerConfig | undefined> | undefined;
  return async (registry, signal) => {
    cfg ??= readDockerConfig(dockerConfigPath(env));
    const c = await cfg;
    return c ? lookupInConfig(c, registry, signal) : undefined;
  };
}

/** DOCKER_AUTH_CONFIG: the same JSON in an environment variable, for CI. */
export function dockerAuthEnvSource(env: NodeJS.ProcessEnv = process.env): CredentialSource {
  const text = env.DOCKER_AUTH_CONFIG;
  if (!text) return async () => undefined;
  let cfg: DockerConfig | undefined;
  return async (registry, signal) => {
    cfg ??= parseConfig(text, 'DOCKER_AUTH_CONFIG');
    return lookupInConfig(cfg, registry, signal);
  };
}
