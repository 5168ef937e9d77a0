// Token lifetimes: an answer without `expires_in` (Azure ACR) lives as long as its JWT says, not the 60 s default.
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { originPools } from '../../src/registry-client/undici-lite.js';
import { TokenCache, fetchBearerToken } from '../../src/registry-client/auth.js';
import { type TokenServerHandle, startTokenServer } from '../support/token-server.js';

let server: TokenServerHandle;
const agent = originPools({});

beforeAll(async () => {
  server = await startTokenServer({ expiresIn: 3600, omitExpiresIn: true });
});

afterAll(async () => {
  vi.useRealTimers();
  await agent.close();
  await server.stop();
});

it('a token answer without expires_in is kept for its JWT exp (an hour), not fetched again after a minute', async () => {
  const cache = new TokenCache();
  const challenge = { scheme: 'bearer' as const, realm: server.realm, service: server.service };
  const fetchToken = (scopes: string[]) =>
    fetchBearerToken({ challenge, scopes, cred: undefined, dispatcher: agent, signal: AbortSignal.timeout(10_000) });
  const scopes = ['repository:lib/app:pull'];
  const first = await cache.get('acr.test', scopes, fetchToken);
  expect(server.requests).toBe(1);
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 10 * 60_000 });
  expect(cache.find('acr.test', scopes), 'ten minutes on, the hour-long token is still used').toBe(first);
  vi.setSystemTime(Date.now() + 55 * 60_000);
  expect(cache.find('acr.test', scopes), 'past its exp, it is not').toBeUndefined();
  await cache.get('acr.test', scopes, fetchToken);
  expect(server.requests).toBe(2);
});
