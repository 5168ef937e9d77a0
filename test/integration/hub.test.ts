// Docker Hub through the stand-in: docker.io via the hosts config, anonymous tokens, CDN redirects without
// Authorization, rate limits.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CDN_USER, type Hub, startHub } from '../support/hub.js';
import {
  type ImageFixture,
  type IndexFixture,
  makeImageLayout,
  makeIndexLayout,
  registryDigest,
  seedImage,
} from '../support/images.js';
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
let multi: IndexFixture;

beforeAll(async () => {
  work = await makeTempDir('hub-test');
  [hub, dst, image, multi] = await Promise.all([
    startHub({ users: { [USER]: PASS } }),
    startRegistry(),
    makeImageLayout(join(work, 'img'), { layers: [150_000, 60_000], seed: 'hub-img', tag: '1.0' }),
    makeIndexLayout(join(work, 'multi'), {
      platforms: ['linux/amd64', 'linux/arm64'],
      layers: [30_000],
      seed: 'hub-multi',
      tag: '2.0',
    }),
  ]);
  await seedImage(`oci:${image.dir}:1.0`, `${hub.registry.host}/library/x:1.0`, { creds: `${USER}:${PASS}` });
  await seedImage(`oci:${multi.dir}:2.0`, `${hub.registry.host}/library/multi:2.0`, {
    creds: `${USER}:${PASS}`,
    all: true,
  });
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
    image.layerDigests.forEach((d, i) =>
      expect(cdn.find((c) => c.path.endsWith(d))?.bytesOut).toBe(image.layerSizes[i]),
    );

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

  it('a pull-limit 429 (no Retry-After, as Docker sends none) fails at once with one line; the hint says when the window frees pulls', async () => {
    hub.rateLimit.remaining = 0;
    const refused = hub.refused;
    const r = await cli(['copy', 'x:1.0', `${dst.host}/mirror/limited:1.0`]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('regctl:'))).toEqual([
      expect.stringMatching(/docker\.io\/library\/x.*429 too many requests/),
    ]);
    expect(r.stderr).toMatch(
      /^hint: rate limit reached \(0 of 100 pulls left per 6h\): retry in 6 h \(after \d\d:\d\d UTC\), or log in to raise the limit$/m,
    );
    expect(hub.refused - refused, 'not asked again: the window lasts hours').toBe(1);
  });

  it('a multi-arch pull counts one pull per platform manifest; the index GET and HEADs count none', async () => {
    const r = await cli(['copy', 'multi:2.0', `${dst.host}/mirror/multi:2.0`]);
    expect(r.code, r.stderr).toBe(0);
    expect(await registryDigest(dst.host, 'mirror/multi', '2.0')).toBe(multi.indexDigest);
    expect(hub.front.count((s) => s.kind === 'manifest-get' && s.status === 200)).toBe(3);
    expect(hub.rateLimit.remaining).toBe(98);
  });

  it('sync reserves one pull per platform manifest: a two-platform image with 10 pulls left and a floor of 10 is not started', async () => {
    hub.rateLimit.remaining = 10;
    const spec = join(work, 'hub-sync.yaml');
    await writeFile(spec, `sync:\n  - { source: "docker.io/library/multi:2.0", target: "${dst.host}/floor/multi" }\n`);
    const r = await cli(['sync', '--rate-floor', '10', spec]);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.stderr).toMatch(
      /^regctl: sync stopped: docker\.io: 10 of 100 pulls left per 6h, under the floor of 10 \(the image needs 2 pulls\): stopped instead of using up the quota/m,
    );
    expect(hub.rateLimit.remaining, 'no pull was spent under the floor').toBe(10);
    expect(await registryDigest(dst.host, 'floor/multi', '2.0').catch(() => 'missing')).toBe('missing');
  });
});
