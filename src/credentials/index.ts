// Credentials and the chain of sources that finds them, first answer wins.
export interface Credential {
  username?: string;
  password?: string;
  /** An OAuth refresh token (docker's `identitytoken`). */
  identityToken?: string;
  /** A ready Bearer token for the registry itself. */
  registryToken?: string;
}

export interface LookupOptions {
  /** The registry refused what was found last time: skip caches (ECR tokens). */
  refresh?: boolean;
}

export type CredentialSource = (
  registry: string,
  signal?: AbortSignal,
  opts?: LookupOptions,
) => Promise<Credential | undefined>;

export const chain =
  (...sources: CredentialSource[]): CredentialSource =>
  async (registry, signal, opts) => {
    for (const source of sources) {
      const c = await source(registry, signal, opts);
      if (c) return c;
    }
    return undefined;
  };

/** `USER:PASS` from a flag; the password may itself contain colons. */
export function parseUserPass(text: string): Credential {
  const i = text.indexOf(':');
  if (i < 0) return { username: text, password: '' };
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

/** A fixed credential for some registries (the --src-creds / --dest-creds flags). */
export function fixedSource(cred: Credential, registries: ReadonlySet<string> | 'all'): CredentialSource {
  return async (registry) => (registries === 'all' || registries.has(registry) ? cred : undefined);
}
