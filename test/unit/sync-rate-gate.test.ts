// Sync's rate gate: copies from a registry are admitted while its rate limit stays above the floor, counting the pulls
// each copy will make; under it the gate waits (polling by HEAD) or refuses. Fake timers: no wall clock.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AppContext } from '../../src/context.js';
import type { Digest } from '../../src/oci/digest.js';
import type { RateLimit } from '../../src/registry-client/ratelimit.js';
import type { PlanItem } from '../../src/sync/plan.js';
import { RateGate, type RunOptions } from '../../src/sync/run.js';

const HUB = 'registry-1.docker.io';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const IMAGE = 'application/vnd.oci.image.manifest.v1+json';

/** The registry as the gate sees it: the last rate-limit headers, a HEAD that brings fresh ones, an index GET. */
class FakeHub {
  readonly lastRateLimit = new Map<string, RateLimit>();
  heads = 0;
  gets = 0;
  /** What the next HEAD's headers say (undefined: unchanged). */
  next?: RateLimit;
  children = 3;
  ctx(): AppContext {
    const client = {
      headManifest: async () => {
        this.heads++;
        if (this.next) this.lastRateLimit.set(HUB, this.next);
        return undefined;
      },
      getManifest: async () => {
        this.gets++;
        return { manifest: { kind: 'index', manifests: Array.from({ length: this.children }, () => ({})) } };
      },
    };
    return { rateLimit: (r: string) => this.lastRateLimit.get(r), client: () => client } as unknown as AppContext;
  }
}

let n = 0;
function item(mediaType = IMAGE, platforms?: PlanItem['platforms']): PlanItem {
  const digest = `sha256:${String(++n).padStart(64, '0')}` as Digest;
  return {
    key: `${HUB}/library/app:${n}`,
    entry: 0,
    source: { kind: 'registry', ref: { registry: HUB, apiHost: HUB, repository: 'library/app', tag: String(n) } },
    target: { kind: 'oci', path: '/nowhere' },
    action: 'copy',
    sourceDigest: digest,
    platforms,
    resolved: { source: { mediaType, digest, size: 100 } },
  };
}

function options(o: Partial<RunOptions>): RunOptions {
  const signal = new AbortController().signal;
  return { images: 1, jobs: 1, keepGoing: false, rateFloor: 10, rateWaitMs: 0, signal, ...o };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('sync rate gate', () => {
  it('admits at once, asking nothing, while the registry has said nothing of a limit, or when the floor is 0', async () => {
    const hub = new FakeHub();
    await expect(new RateGate(hub.ctx(), options({})).admit(item())).resolves.toBeUndefined();
    hub.lastRateLimit.set(HUB, { limit: 100, remaining: 0 });
    await expect(new RateGate(hub.ctx(), options({ rateFloor: 0 })).admit(item())).resolves.toBeUndefined();
    expect(hub.heads + hub.gets).toBe(0);
  });

  it('reserves the pulls of admitted copies: the copy that would take the registry under the floor is refused', async () => {
    const hub = new FakeHub();
    hub.lastRateLimit.set(HUB, { limit: 100, remaining: 11, windowSeconds: 21600 });
    const gate = new RateGate(hub.ctx(), options({ rateFloor: 10 }));
    // 11 left, floor 10: admitted while the pulls before a copy leave at least the floor → two copies of one pull.
    await expect(gate.admit(item())).resolves.toBeUndefined();
    await expect(gate.admit(item())).resolves.toBeUndefined();
    const refused = await gate.admit(item());
    expect(refused?.code).toBe('RATE_LIMIT');
    const state = `${HUB}: 11 of 100 pulls left per 6h, under the floor of 10`;
    expect(refused?.message).toBe(`${state}: stopped instead of using up the quota`);
    expect(refused?.hint).toMatch(/--rate-wait/);
    expect(hub.heads, 'no wait allowed: no poll').toBe(0);
  });

  it('a released copy gives its pulls back', async () => {
    const hub = new FakeHub();
    hub.lastRateLimit.set(HUB, { limit: 100, remaining: 10 });
    const gate = new RateGate(hub.ctx(), options({ rateFloor: 10 }));
    const first = item();
    await expect(gate.admit(first)).resolves.toBeUndefined();
    expect((await gate.admit(item()))?.code).toBe('RATE_LIMIT');
    gate.release(first);
    await expect(gate.admit(item())).resolves.toBeUndefined();
  });

  it('a whole multi-arch copy counts one pull per child manifest (read from the index); a platform subset per platform', async () => {
    const hub = new FakeHub();
    hub.lastRateLimit.set(HUB, { limit: 100, remaining: 11 });
    hub.children = 3;
    const refused = await new RateGate(hub.ctx(), options({ rateFloor: 10 })).admit(item(INDEX));
    expect(refused?.message).toMatch(/\(the image needs 3 pulls\)/);
    expect(hub.gets).toBe(1);
    const two = [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ];
    await expect(new RateGate(hub.ctx(), options({ rateFloor: 10 })).admit(item(INDEX, two))).resolves.toBeUndefined();
    expect(hub.gets, 'the platforms asked for say how many: no index read').toBe(1);
  });

  it('with --rate-wait it announces once, polls by HEAD (no pull) and admits when the window allows', async () => {
    const hub = new FakeHub();
    hub.lastRateLimit.set(HUB, { limit: 100, remaining: 5 });
    const notices: string[] = [];
    const hooks = { notice: (m: string) => notices.push(m) };
    const gate = new RateGate(hub.ctx(), options({ rateFloor: 10, rateWaitMs: 5 * 60_000, hooks }));
    let answer: unknown = 'pending';
    const admitted = gate.admit(item()).then((a) => (answer = a));
    await vi.advanceTimersByTimeAsync(0);
    const waiting = 'waiting up to 300 s for the window to allow more';
    expect(notices).toEqual([`${HUB}: 5 of 100 pulls left, under the floor of 10: ${waiting}`]);
    expect(hub.heads).toBe(0);
    // Polls every tenth of the wait (30 s).
    await vi.advanceTimersByTimeAsync(29_999);
    expect(hub.heads).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(hub.heads).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(hub.heads).toBe(3);
    expect(answer).toBe('pending');
    hub.next = { limit: 100, remaining: 100 };
    await vi.advanceTimersByTimeAsync(30_000);
    await admitted;
    expect(answer).toBeUndefined();
    expect(hub.heads).toBe(4);
    expect(notices, 'announced once').toHaveLength(1);
  });

  it('gives up when the window does not open within --rate-wait', async () => {
    const hub = new FakeHub();
    hub.lastRateLimit.set(HUB, { limit: 100, remaining: 5 });
    const gate = new RateGate(hub.ctx(), options({ rateFloor: 10, rateWaitMs: 10 * 60_000 }));
    const result = gate.admit(item());
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect((await result)?.code).toBe('RATE_LIMIT');
    // A poll a minute (a tenth of 10 min), and none past the deadline.
    expect(hub.heads).toBe(10);
  });

  it('an interrupt ends the wait at once', async () => {
    const hub = new FakeHub();
    hub.lastRateLimit.set(HUB, { limit: 100, remaining: 5 });
    const controller = new AbortController();
    const o = options({ rateFloor: 10, rateWaitMs: 60 * 60_000, signal: controller.signal });
    const gate = new RateGate(hub.ctx(), o);
    const result = gate.admit(item());
    result.catch(() => {});
    await vi.advanceTimersByTimeAsync(1000);
    controller.abort(new Error('interrupted'));
    await expect(result).rejects.toThrow('interrupted');
    expect(hub.heads).toBe(0);
  });
});
