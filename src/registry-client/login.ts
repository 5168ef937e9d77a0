// Checks a login before it is stored: one GET /v2/ with the credentials, through the one HTTP path.
import type { Credential } from '../credentials/index.js';
import { RegctlError } from '../errors.js';
import { RegistryError } from './errors.js';
import type { Hosts } from './hosts.js';
import { newHttpContext, send } from './http.js';

/** What checking a login needs: the hosts (TLS, endpoints), retries, the interrupt signal, where warnings go. */
export interface LoginCheck {
  hosts: Hosts;
  retries: number;
  signal: AbortSignal;
  warn(msg: string): void;
}

/** GET /v2/ with the credentials: a 401 or 403 is LOGIN_FAILED; a registry that asks for none gets a warning. */
export async function verifyLogin(
  o: LoginCheck,
  registry: string,
  cred: { username: string; password: string },
): Promise<void> {
  const http = newHttpContext({
    hosts: o.hosts,
    credentials: async () => cred as Credential,
    retries: o.retries,
    maxRetryAfterMs: 30_000,
    userAgent: 'regctl-js',
  });
  try {
    const res = await send(http, {
      registry,
      method: 'GET',
      path: '/v2/',
      scopes: [],
      expect: [200],
      idempotent: true,
      signal: o.signal,
      what: `login to ${registry}`,
    });
    await res.body.dump();
    if (!http.challenges.has(registry)) o.warn(`${registry} asked for no credentials; storing them anyway`);
  } catch (err) {
    if (err instanceof RegistryError && (err.status === 401 || err.status === 403)) {
      throw new RegctlError('LOGIN_FAILED', `login to ${registry}: the registry refused the credentials`, {
        hint: 'check the user name and password or token',
      });
    }
    throw err;
  }
}
