// The OS keychain through keytar (optional, loaded lazily): an unusable keychain is "no credentials", never a crash.
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { RegctlError } from '../errors.js';
import { writeAtomic } from '../util/fs.js';
import type { Credential, CredentialSource } from './index.js';

const SERVICE = 'regctl';

type Keytar = {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
};

let keytar: Promise<Keytar | undefined> | undefined;
/** Why keytar could not be loaded, for the message of `login`. */
let unavailable = 'keytar is not installed';

/** The command that builds keytar's native module when npm withheld its install script (npm 11 allow-scripts). */
export const KEYTAR_FIX = 'npm rebuild -g --allow-scripts=keytar keytar';

/** Why a failed `import('keytar')` failed, in a user's words. */
function whyNoKeytar(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  if (/keytar\.node|build[\\/]Release/.test(text)) {
    return 'keytar is installed but not built: npm did not run its install script';
  }
  if (/Cannot find (module|package) 'keytar'/.test(text)) return 'keytar is not installed';
  return `keytar does not load here: ${text.split('\n')[0]}`;
}

function loadKeytar(): Promise<Keytar | undefined> {
  keytar ??= import('keytar' as string).then(
    (m: { default?: unknown }) => {
      const k = (m.default ?? m) as Partial<Keytar>;
      return typeof k.getPassword === 'function' &&
        typeof k.setPassword === 'function' &&
        typeof k.deletePassword === 'function'
        ? (k as Keytar)
        : undefined;
    },
    (err: unknown) => {
      unavailable = whyNoKeytar(err);
      return undefined;
    },
  );
  return keytar;
}

/** A keychain that does not answer (a D-Bus service that never replies, a prompt nobody sees) counts as unusable. */
const TIMEOUT_MS = 10_000;

/** Runs one keytar call: a throw, a rejection or a timeout all come back as an Error value, never as a crash. */
async function attempt<T>(call: (k: Keytar) => Promise<T>): Promise<T | Error> {
  const k = await loadKeytar();
  if (!k) return new RegctlError('NO_KEYTAR', unavailable);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(() => call(k)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the keychain did not answer within ${TIMEOUT_MS / 1000} s`)),
          TIMEOUT_MS,
        );
        timer.unref();
      }),
    ]);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  } finally {
    clearTimeout(timer);
  }
}

/** Stored as `{"username":…,"password":…}` under service "regctl", account = registry. */
async function keychainGet(registry: string): Promise<Credential | undefined> {
  const text = await attempt((k) => k.getPassword(SERVICE, registry));
  if (!text || text instanceof Error) return undefined;
  try {
    const doc = JSON.parse(text) as { username?: unknown; password?: unknown };
    return typeof doc.username === 'string' && typeof doc.password === 'string'
      ? { username: doc.username, password: doc.password }
      : undefined;
  } catch {
    return undefined;
  }
}

/** true when stored; an Error describing why the keychain is unusable otherwise. */
export async function keychainSet(
  registry: string,
  cred: { username: string; password: string },
): Promise<true | Error> {
  const done = await attempt((k) => k.setPassword(SERVICE, registry, JSON.stringify(cred)));
  return done instanceof Error ? done : true;
}

/** true when an entry was deleted; an Error when the keychain could not be asked. */
export async function keychainDelete(registry: string): Promise<boolean | Error> {
  return attempt((k) => k.deletePassword(SERVICE, registry));
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
  await writeAtomic(path, Buffer.from(JSON.stringify([...new Set(registries)].sort())), undefined, { mode: 0o600 });
}

export function keychainSource(env: NodeJS.ProcessEnv): CredentialSource {
  let index: Promise<string[]> | undefined;
  return async (registry) => {
    index ??= readKeychainIndex(env);
    return (await index).includes(registry) ? keychainGet(registry) : undefined;
  };
}
