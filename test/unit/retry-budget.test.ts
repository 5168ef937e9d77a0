// One retry budget per operation: a resumed blob read and a blob upload spend --retries once, whichever layer
// retries (the request stage, the Range resume, a fresh upload session), instead of their limits multiplying.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resumable } from '../../src/copy/verify.js';
import type { Digest } from '../../src/oci/digest.js';
import { RegistryClient } from '../../src/registry-client/client.js';
import type { RetryBudget } from '../../src/registry-client/retry.js';
import { RegistryDestination, RegistrySource } from '../../src/transports/registry.js';
import { FakeDispatcher, fakeContext } from './fake-dispatcher.js';

const ref = { registry: 'reg.test', apiHost: 'reg.test', repository: 'lib/app', tag: '1' };
const desc = { mediaType: 'application/octet-stream', digest: `sha256:${'0'.repeat(64)}` as Digest, size: 10 };

afterEach(() => vi.restoreAllMocks());

describe('one retry budget per operation', () => {
  it('a blob read that breaks, then whose Range requests drop, sends --retries + 1 requests in all', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    // Before: 1 + (1 + 2) + (1 + 2) = 7 requests (resume retries × request retries).
    const reset = { error: 'ECONNRESET' };
    const fake = new FakeDispatcher([{ status: 200, breakAfter: 'ab' }, reset, reset, reset]);
    const ctx = fakeContext(fake, { retries: 2 });
    const src = new RegistrySource(new RegistryClient(ctx), ref);
    const signal = AbortSignal.timeout(30_000);
    const open = (offset: number, budget: RetryBudget) => src.getBlob(desc, { offset, signal, budget });
    const read = resumable(open, desc, { retries: 2, signal });
    const err = await (async () => {
      for await (const _ of read) void _;
    })().catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('SOURCE_READ');
    expect(fake.seen).toHaveLength(3);
  });

  it('an upload whose start and finish fail spends one budget across fresh sessions', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const started = { status: 202, headers: { location: '/v2/lib/app/blobs/uploads/s1' } };
    // start 503 (retry 1), start 202, PUT 500 (not idempotent: to the caller), DELETE session, fresh session (retry 2)
    // start 202, PUT 500, DELETE: the budget of 2 is spent, the error goes to the caller.
    const [s500, s503, s204] = [{ status: 500 }, { status: 503 }, { status: 204 }];
    const fake = new FakeDispatcher([s503, started, s500, s204, started, s500, s204, started]);
    const ctx = fakeContext(fake, { retries: 2 });
    const dst = new RegistryDestination(new RegistryClient(ctx), ref, { retries: 2 });
    const bytes = async function* () {
      yield new Uint8Array(10);
    };
    const err = await dst.putBlob(desc, async () => bytes(), AbortSignal.timeout(30_000)).catch((e: unknown) => e);
    expect((err as { status?: number }).status).toBe(500);
    expect(fake.seen.map((s) => s.method)).toEqual(['POST', 'POST', 'PUT', 'DELETE', 'POST', 'PUT', 'DELETE']);
  });
});
