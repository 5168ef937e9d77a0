// Docker Hub through the stand-in: docker.io via the hosts config, anonymous tokens, CDN redirects without Authorization, rate limits.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CDN_USER, type Hub, startHub } from '../support/hub.js';
import { type ImageFixture, makeImageLayout, registryDigest, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

const USER = 'hubuser';
const PASS = 'hub-pass';

let hub: Hub;
let dst: RegistryHandle;
let work: string;
let home: string;
let image: ImageFixture;

beforeAll(async () => {
  work = await makeTempDir('hub-test');
  [hub, dst, image] = await Promise.all([
    startHub({ users: { [USER]: PASS } }),
    startRegistry(),
    makeImageLayout(join(work, 'img'), { layers: [150_000, 60_000], seed: 'hub-img', tag: '1.0' }),
  ]);
  await seedImage(`oci:${image.dir}:1.0`, `${hub.registry.host}/library/x:1.0`, { creds: `${USER}:${PASS}` });
  home = await makeTempDir('hub-home');
  await mkdir(join(home, '.config', 'regctl'), { recursive: true });
  await writeFile(join(home, '.config', 'regctl', 'config.json'), JSON.stringify(hub.hostsConfig()));
});

afterAll(async () => {
  await Promise.all([hub?.stop(), dst?.stop()]);
  await removeTempDir(work);
});

beforeEach(() => {
  hub.front.reset();
  hub.rateLimit.remaining = 100;
  hub.tooManyRequests(0, 0);
});

const cli = (args: string[]) => runCli(args, { env: { HOME: home } });

describe('Docker Hub: docker.io through the hosts config', () => {
  it('pulls anonymously; blob GETs redirect to the CDN, which never sees an Authorization header', async () => {
    const tokensBefore = hub.tokens.log.length;
    const cdnBefore = hub.cdn.log.length;
    const r = await cli(['copy', 'x:1.0', `${dst.host}/mirror/x:1.0`]);
    expect(r.code, r.stderr).toBe(0);
    expect(await registryDigest(dst.host, 'mirror/x', '1.0')).toBe(image.manifestDigest);

    const blobGets = hub.front.stats.filter((s) => s.kind === 'blob-get' && s.status === 307);
    expect(blobGets).toHaveLength(image.layerDigests.length + 1);
    expect(blobGets.every((s) => s.authorization === 'bearer')).toBe(true);
    const cdn = hub.cdn.log.slice(cdnBefore);
    expect(cdn.length).toBe(blobGets.length);
    expect(cdn.every((c) => c.status === 200)).toBe(true);
    expect(cdn.filter((c) => c.authorization !== undefined)).toEqual([]);
    // The layer bytes came from the CDN, whole.
    image.layerDigests.forEach((d, i) => expect(cdn.find((c) => c.path.endsWith(d))?.bytesOut).toBe(image.layerSizes[i]));

    const asked = hub.tokens.log.slice(tokensBefore).filter((t) => t.account !== CDN_USER);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((t) => t.anonymous)).toBe(true);
    expect(asked.some((t) => t.scope.includes('repository:library/x:pull'))).toBe(true);
  });

  it('digest answers by HEAD alone: no GET, no pull counted; a low rate limit is shown', async () => {
    hub.rateLimit.remaining = 3;
    const r = await cli(['digest', 'docker.io/library/x:1.0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
    expect(hub.front.count((s) => s.kind === 'manifest-head' && s.status === 200)).toBe(1);
    expect(hub.front.count((s) => s.method === 'GET' && s.kind !== 'ping')).toBe(0);
    expect(hub.rateLimit.remaining).toBe(3);
    expect(r.stderr).toMatch(/^warning: docker\.io rate limit: 3 of 100 pulls left per 6h$/m);
  });

  it('inspect shows a low rate limit, and nothing when plenty is left', async () => {
    hub.rateLimit.remaining = 4;
    const low = await cli(['inspect', 'x:1.0']);
    expect(low.code, low.stderr).toBe(0);
    expect(low.stdout).toContain(image.manifestDigest);
    expect(low.stderr).toMatch(/^warning: docker\.io rate limit: 3 of 100 pulls left per 6h$/m);

    hub.rateLimit.remaining = 100;
    const plenty = await cli(['inspect', 'x:1.0']);
    expect(plenty.code).toBe(0);
    expect(plenty.stderr).not.toMatch(/rate limit/);
  });

  it('a 429 with a long Retry-After fails at once with one line and a hint that says when to retry', async () => {
    hub.tooManyRequests(10, 3600);
    const started = Date.now();
    const r = await cli(['digest', 'x:1.0']);
    expect(r.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('regctl:'))).toEqual([expect.stringMatching(/x:1\.0.*429/)]);
    expect(r.stderr).toMatch(/^hint: rate limit reached \(0 of 100 pulls left per 6h\): retry in 60 min \(after \d\d:\d\d UTC\), or log in to raise the limit$/m);
  });

  it('a 429 that outlasts the retries says when to retry too', async () => {
    hub.tooManyRequests(10, 2);
    const r = await cli(['digest', '--retries', '0', 'x:1.0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hint: rate limit reached \(0 of 100 pulls left per 6h\): retry in 2 s \(after \d\d:\d\d UTC\)/m);
  });

  it('a short Retry-After is waited out and the command succeeds', async () => {
    hub.tooManyRequests(1, 1);
    const r = await cli(['digest', 'x:1.0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
    expect(hub.front.count((s) => s.status === 429)).toBe(1);
  });
});
