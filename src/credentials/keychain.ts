// The OS keychain through keytar (optional, loaded lazily): an unusable keychain is "no credentials", never a crash.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Credential, CredentialSource } from './index.js';

const SERVICE = 'regctl';

type Keytar = {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
};

let keytar: Promise<Keytar | undefined> | undefined;

export function loadKeytar(): Promise<Keytar | undefined> {
  keytar ??= import('keytar' as string).then(
    (m) => (m.default ?? m) as Keytar,
    () => undefined,
  );
  return keytar;
}

/** Stored as `{"username":…,"password":…}` under service "regctl", account = registry. */
export async function keychainGet(registry: string): Promise<Credential | undefined> {
  const k = await loadKeytar();
  if (!k) return undefined;
  try {
    const text = await k.getPassword(SERVICE, registry);
    if (!text) return undefined;
    const doc = JSON.parse(text) as { username?: string; password?: string };
    return doc.username !== undefined && doc.password !== undefined ? { username: doc.username, password: doc.password } : undefined;
  } catch {
    return undefined;
  }
}

/** true when stored; an Error describing why the keychain is unusable otherwise. */
export async function keychainSet(registry: string, cred: { username: string; password: string }): Promise<true | Error> {
  const k = await loadKeytar();
  if (!k) return new Error('keytar is not installed');
  try {
    await k.setPassword(SERVICE, registry, JSON.stringify(cred));
    return true;
  } catch (err) {
    return err as Error;
  }
}

export async function keychainDelete(registry: string): Promise<boolean> {
  const k = await loadKeytar();
  if (!k) return false;
  try {
    return await k.deletePassword(SERVICE, registry);
  } catch {
    return false;
  }
}

/**
 * Registries whose login went to the keychain, so lookups touch the keychain only for them (a locked or absent
 * keychain is never asked about every anonymous pull).
 */
export function keychainIndexPath(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'regctl', 'keychain-logins.json');
}

export async function readKeychainIndex(env: NodeJS.ProcessEnv): Promise<string[]> {
  try {
    const doc = JSON.parse(await readFile(keychainIndexPath(env), 'utf8')) as unknown;
    return Array.isArray(doc) ? doc.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export async function writeKeychainIndex(env: NodeJS.ProcessEnv, registries: string[]): Promise<void> {
  const path = keychainIndexPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify([...new Set(registries)].sort()), { mode: 0o600 });
  await rename(tmp, path);
}

export function keychainSource(env: NodeJS.ProcessEnv): CredentialSource {
  let index: Promise<string[]> | undefined;
  return async (registry) => {
    index ??= readKeychainIndex(env);
    return (await index).includes(registry) ? keychainGet(registry) : undefined;
  };
}
