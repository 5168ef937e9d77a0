// Login storage: keep credentials in the OS keychain or docker's config.json (0600, other keys kept); forget them.
import { hasCode } from '../errors.js';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeAtomic } from '../util/fs.js';
import type { Logger } from '../util/log.js';
import { DOCKER_HUB_KEY, dockerConfigPath, keyForRegistry, readDockerConfig, registryOfKey } from './docker-config.js';
import { helperErase, helperStore } from './helper.js';
import { KEYTAR_FIX, keychainDelete, keychainSet, readKeychainIndex, writeKeychainIndex } from './keychain.js';

/** Where docker's config.json is (DOCKER_CONFIG, REGCTL_NO_KEYCHAIN), and where warnings go. */
export interface StoreDeps {
  env: NodeJS.ProcessEnv;
  log: Pick<Logger, 'warn'>;
}

async function writeConfig(path: string, doc: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeAtomic(path, Buffer.from(`${JSON.stringify(doc, null, '\t')}\n`), undefined, { mode: 0o600 });
}

/** Where `storeLogin` put the credentials, and why there when it was not the keychain. */
export interface StoredIn {
  /** `the OS keychain`, `docker-credential-NAME`, or config.json's path */
  where: string;
  /** why not the keychain (said once, by `login`) */
  why?: string;
  /** what makes the keychain usable, when regctl knows */
  fix?: string;
}

/** Stores credentials; answers where (for the message). The keychain layer is tried first when available. */
export async function storeLogin(
  ctx: StoreDeps,
  registry: string,
  cred: { username: string; password: string },
): Promise<StoredIn> {
  const path = dockerConfigPath(ctx.env);
  const cfg = (await readDockerConfig(path)) ?? {};
  const named = cfg.credHelpers?.[keyForRegistry(registry)] ?? cfg.credHelpers?.[registry];
  const helperKey = named ? 'credHelpers' : 'credsStore';
  const helper = cfg.credHelpers?.[keyForRegistry(registry)] ?? cfg.credHelpers?.[registry] ?? cfg.credsStore;
  if (helper) {
    await helperStore(helper, keyForRegistry(registry), cred);
    return { where: `docker-credential-${helper}`, why: `${helperKey} in ${path} names it` };
  }
  const auths = { ...(cfg.auths ?? {}) };
  let stale = false;
  for (const key of Object.keys(auths)) {
    if (registryOfKey(key) === registry) {
      delete auths[key];
      stale = true;
    }
  }
  let why = 'REGCTL_NO_KEYCHAIN is set';
  let fix: string | undefined;
  if (ctx.env.REGCTL_NO_KEYCHAIN === undefined) {
    const stored = await keychainSet(registry, cred);
    if (stored === true) {
      await writeKeychainIndex(ctx.env, [...(await readKeychainIndex(ctx.env)), registry]);
      // An older entry in config.json would be found first and shadow the new login.
      if (stale) await writeConfig(path, { ...cfg, auths });
      return { where: 'the OS keychain' };
    }
    why = `the OS keychain is not usable (${stored.message.split('\n')[0]})`;
    if (hasCode(stored, 'NO_KEYTAR')) fix = KEYTAR_FIX;
  }
  auths[keyForRegistry(registry)] = { auth: Buffer.from(`${cred.username}:${cred.password}`).toString('base64') };
  await writeConfig(path, { ...cfg, auths });
  return { where: path, why, fix };
}

export async function removeLogin(ctx: StoreDeps, registry: string): Promise<string[]> {
  const removed: string[] = [];
  const index = await readKeychainIndex(ctx.env);
  if (index.includes(registry)) {
    const gone = await keychainDelete(registry);
    // Either way regctl stops using the entry: only registries in the index are looked up in the keychain.
    await writeKeychainIndex(
      ctx.env,
      index.filter((r) => r !== registry),
    );
    if (gone instanceof Error) {
      ctx.log.warn(
        `could not delete the OS keychain entry of ${registry} (${gone.message.split('\n')[0]}); ` +
          `regctl no longer uses it`,
      );
      removed.push("regctl's list of keychain logins");
    } else removed.push('the OS keychain');
  }
  const path = dockerConfigPath(ctx.env);
  const cfg = await readDockerConfig(path);
  if (!cfg) return removed;
  const helper = cfg.credHelpers?.[keyForRegistry(registry)] ?? cfg.credHelpers?.[registry] ?? cfg.credsStore;
  if (helper) {
    await helperErase(helper, keyForRegistry(registry)).then(
      () => removed.push(`docker-credential-${helper}`),
      () => {},
    );
  }
  const auths = { ...(cfg.auths ?? {}) };
  let changed = false;
  for (const key of Object.keys(auths)) {
    if (registryOfKey(key) === registry || (registry === 'docker.io' && key === DOCKER_HUB_KEY)) {
      delete auths[key];
      changed = true;
    }
  }
  if (changed) {
    await writeConfig(path, { ...cfg, auths });
    removed.push(path);
  }
  return removed;
}
