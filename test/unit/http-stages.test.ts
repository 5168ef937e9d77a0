// The request stages (auth, retry, redirects, error mapping) one by one, against a fake undici Dispatcher.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RegctlError } from '../../src/errors.js';
import { RegistryError } from '../../src/registry-client/errors.js';
import { type RegRequest, send, sendRead } from '../../src/registry-client/http.js';
import { RetryBudget } from '../../src/registry-client/retry.js';
import { FakeDispatcher, fakeContext } from './fake-dispatcher.js';

const get = (over: Partial<RegRequest> = {}): RegRequest => ({
  registry: 'reg.test',
  method: 'GET',
  path: '/v2/lib/app/manifests/1',
  scopes: ['repository:lib/app:pull'],
  expect: [200],
  idempotent: true,
  signal: AbortSignal.timeout(30_000),
  what: 'manifest reg.test/lib/app:1',
  ...over,
});
const bearer = 'Bearer realm="https://auth.test/token",service="reg.test"';
const token = (t: string) => ({ status: 200, body: JSON.stringify({ token: t, expires_in: 300 }) });

// Backoff draws its jitter from Math.random: pinned low so retries wait the least (125 ms for the first).
afterEach(() => vi.restoreAllMocks());
const quick = () => vi.spyOn(Math, 'random').mockReturnValue(0);

describe('auth stage', () => {
  it('answers a Bearer challenge with a token from the realm, then sends the request again with it', async () => {
    const challenge = { status: 401, headers: { 'www-authenticate': bearer } };
    const fake = new FakeDispatcher([challenge, token('tok1'), { status: 200, body: '{}' }]);
    const ctx = fakeContext(fake, { cred: { username: 'u', password: 'p' } });
    const res = await send(ctx, get());
    expect(res.status).toBe(200);
    expect(fake.seen.map((s) => new URL(s.url).host)).toEqual(['reg.test', 'auth.test', 'reg.test']);
    expect(fake.seen[0].headers.authorization).toBeUndefined();
    expect(fake.seen[1].headers.authorization).toMatch(/^Basic /);
    expect(new URL(fake.seen[1].url).searchParams.get('scope')).toBe('repository:lib/app:pull');
    expect(fake.seen[2].headers.authorization).toBe('Bearer tok1');
  });

  it('sends no credentials to an upload Location on another origin', async () => {
    const basic = { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } };
    const fake = new FakeDispatcher([basic, { status: 200 }, { status: 201 }]);
    const ctx = fakeContext(fake, { cred: { username: 'u', password: 'p' } });
    await send(ctx, get({ method: 'HEAD', path: '/v2/', expect: [200] }));
    const elsewhere = 'https://uploads.other.test/s/1';
    await send(ctx, get({ method: 'PUT', path: undefined, url: elsewhere, expect: [201], idempotent: false }));
    expect(fake.seen[1].headers.authorization).toMatch(/^Basic /);
    expect(fake.seen[2].url).toBe('https://uploads.other.test/s/1');
    expect(fake.seen[2].headers.authorization).toBeUndefined();
  });

  it('a refused Basic login is tried once more with fresh credentials, then reported as a failed login', async () => {
    const basic = { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } };
    const fake = new FakeDispatcher([basic, basic, basic]);
    const ctx = fakeContext(fake, { cred: { username: 'u', password: 'p' } });
    const err = await send(ctx, get()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).status).toBe(401);
    expect((err as RegistryError).hint).toMatch(/regctl login/);
    expect(fake.seen).toHaveLength(3);
  });
});

describe('retry stage', () => {
  it('sends an idempotent request again after a network error', async () => {
    quick();
    const fake = new FakeDispatcher([{ error: 'ECONNRESET' }, { status: 200 }]);
    const ctx = fakeContext(fake);
    expect((await send(ctx, get())).status).toBe(200);
    expect(fake.seen).toHaveLength(2);
    expect(ctx.retried.map((r) => [r.attempt, r.delayMs])).toEqual([[1, 125]]);
  });

  // The bug: `(req.idempotent || replayable) && replayable` reduced to `replayable`, so idempotent: false did nothing.
  it('does not send a non-idempotent request again after a network error (idempotent: false is honoured)', async () => {
    const fake = new FakeDispatcher([{ error: 'ECONNRESET' }, { status: 201 }]);
    const ctx = fakeContext(fake);
    const req = get({ method: 'PUT', path: '/v2/lib/app/blobs/uploads/1', expect: [201], idempotent: false });
    const err = await send(ctx, req).catch((e: unknown) => e);
    expect((err as RegctlError).code).toBe('NETWORK');
    expect(fake.seen).toHaveLength(1);
    expect(ctx.retried).toHaveLength(0);
  });

  it('retries a 429 of a non-idempotent request (not processed), after its Retry-After, with one report', async () => {
    const fake = new FakeDispatcher([{ status: 429, headers: { 'retry-after': '0' } }, { status: 202 }]);
    const ctx = fakeContext(fake);
    const post = get({ method: 'POST', path: '/v2/lib/app/blobs/uploads/', expect: [202], idempotent: false });
    const res = await send(ctx, post);
    expect(res.status).toBe(202);
    const what = 'manifest reg.test/lib/app:1';
    expect(ctx.retried).toEqual([{ what, registry: 'reg.test', attempt: 1, delayMs: 0, reason: 'HTTP 429' }]);
  });

  it('a Retry-After longer than the context waits fails at once with the throttling hint', async () => {
    const fake = new FakeDispatcher([{ status: 503, headers: { 'retry-after': '600' } }]);
    const ctx = fakeContext(fake, { maxRetryAfterMs: 1000 });
    const err = (await send(ctx, get()).catch((e: unknown) => e)) as RegistryError;
    expect(err.status).toBe(503);
    expect(err.hint).toMatch(/throttling requests: retry in/);
    expect(fake.seen).toHaveLength(1);
  });

  it('per-request retries: 0 sends once', async () => {
    const fake = new FakeDispatcher([{ status: 500 }, { status: 200 }]);
    const err = (await send(fakeContext(fake), get({ retries: 0 })).catch((e: unknown) => e)) as RegistryError;
    expect(err.status).toBe(500);
    expect(fake.seen).toHaveLength(1);
  });

  it('a budget given by the caller is shared: two sends together spend at most its retries', async () => {
    quick();
    const fake = new FakeDispatcher([502, 200, 502, 502, 200].map((status) => ({ status })));
    const ctx = fakeContext(fake, { retries: 3 });
    const budget = new RetryBudget(2);
    expect((await send(ctx, get({ budget }))).status).toBe(200);
    const err = (await send(ctx, get({ budget })).catch((e: unknown) => e)) as RegistryError;
    expect(err.status).toBe(502);
    expect(fake.seen).toHaveLength(4);
    expect(budget.used).toBe(2);
  });

  it("sendRead: a body that breaks off and the request's own retries spend one budget, not one each", async () => {
    quick();
    // Before: the request retried its 503s up to --retries and the read did too, for up to (n+1)² requests.
    const broken = { status: 200, breakAfter: '{"a"' };
    const fake = new FakeDispatcher([{ status: 503 }, broken, { status: 503 }, { status: 200, body: '{}' }]);
    const ctx = fakeContext(fake, { retries: 2 });
    const read = async (res: { body: AsyncIterable<unknown> }) => {
      for await (const _ of res.body) void _;
      return 'read';
    };
    const err = (await sendRead(ctx, get(), read).catch((e: unknown) => e)) as RegistryError;
    expect(err.status).toBe(503);
    expect(fake.seen).toHaveLength(3);
    expect(ctx.retried.map((r) => r.attempt)).toEqual([1, 2]);
  });
});

describe('redirect stage', () => {
  it('follows a blob redirect to a CDN without the Authorization header', async () => {
    const fake = new FakeDispatcher([
      { status: 401, headers: { 'www-authenticate': bearer } },
      token('tok2'),
      { status: 307, headers: { location: 'https://cdn.test/blob?sig=abc' } },
      { status: 200, body: 'bytes' },
    ]);
    const ctx = fakeContext(fake, { cred: { username: 'u', password: 'p' } });
    const res = await send(ctx, get({ path: '/v2/lib/app/blobs/sha256:00', followRedirects: true }));
    expect(res.url).toBe('https://cdn.test/blob?sig=abc');
    expect(fake.seen[2].headers.authorization).toBe('Bearer tok2');
    expect(fake.seen[3].headers.authorization).toBeUndefined();
    expect(ctx.lines.join('\n')).not.toContain('abc');
  });

  it('refuses a redirect from HTTPS down to plain HTTP', async () => {
    const fake = new FakeDispatcher([{ status: 302, headers: { location: 'http://cdn.test/blob' } }]);
    const err = (await send(fakeContext(fake), get({ followRedirects: true })).catch((e: unknown) => e)) as RegctlError;
    expect(err.code).toBe('INSECURE_URL');
    expect(fake.seen).toHaveLength(1);
  });

  it('stops after five redirects', async () => {
    const hop = (n: number) => ({ status: 302, headers: { location: `https://cdn.test/${n}` } });
    const fake = new FakeDispatcher([0, 1, 2, 3, 4, 5, 6].map(hop));
    const err = (await send(fakeContext(fake), get({ followRedirects: true })).catch((e: unknown) => e)) as RegctlError;
    expect(err.code).toBe('REDIRECT');
    expect(fake.seen).toHaveLength(6);
  });
});

describe('error stage', () => {
  it('a 403 with credentials is "denied", not a failed login', async () => {
    const fake = new FakeDispatcher([
      { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } },
      { status: 403, body: '{"errors":[{"code":"DENIED","message":"no"}]}' },
    ]);
    const ctx = fakeContext(fake, { cred: { username: 'u', password: 'p' } });
    const put = get({ method: 'PUT', body: new Uint8Array(1), expect: [201] });
    const err = (await send(ctx, put).catch((e: unknown) => e)) as RegistryError;
    expect(err.message).toMatch(/^denied: you may not push to reg\.test\/lib\/app: 403 forbidden \(DENIED: no\)/);
    expect(err.hint).toMatch(/credentials are valid/);
  });

  it("an unexpected status carries the registry's error codes", async () => {
    const fake = new FakeDispatcher([{ status: 404, body: '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}' }]);
    const err = (await send(fakeContext(fake), get()).catch((e: unknown) => e)) as RegistryError;
    expect(err.code).toBe('MANIFEST_UNKNOWN');
    expect(err.message).toBe('manifest reg.test/lib/app:1: 404 not found (MANIFEST_UNKNOWN)');
  });

  it('a network error it was not allowed to retry becomes one NETWORK line naming the request', async () => {
    const fake = new FakeDispatcher([{ error: 'ECONNREFUSED' }]);
    const err = (await send(fakeContext(fake), get({ retries: 0 })).catch((e: unknown) => e)) as RegctlError;
    expect(err.code).toBe('NETWORK');
    expect(err.message).toBe('manifest reg.test/lib/app:1: connection refused');
  });
});

describe('quiet retries', () => {
  it('quietRetries: retried on the same policy, reported to no one', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const fake = new FakeDispatcher([{ error: 'ECONNRESET' }, { status: 204 }]);
    const ctx = fakeContext(fake);
    const del = get({ method: 'DELETE', path: '/v2/lib/app/blobs/uploads/1', expect: [204], quietRetries: true });
    expect((await send(ctx, del)).status).toBe(204);
    expect(fake.seen).toHaveLength(2);
    expect(ctx.retried).toEqual([]);
  });
});
