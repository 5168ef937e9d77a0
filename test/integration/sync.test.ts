// regctl sync against real registries: the plan, the copy (digests kept), HEAD-only re-runs, shards, shared blobs,
// failures.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { registryDigest } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';
import { type Desc, pushImage, pushIndex, seeded, startRateLimitProxy, tagAll } from './sync-fixtures.js';

let src: RegistryHandle;
let dst: RegistryHandle;
/** Counting proxies: regctl reads the source through S and writes the target through D. */
let S: FaultProxy;
let D: FaultProxy;
let work: string;
let base: Buffer;
const digests = new Map<string, string>(); // 'repo:tag' → digest at the source

const ALPINE: Record<string, string[]> = {
  a0: ['3.17', 'latest-old'],
  a1: ['3.18', '3.18.9'],
  a2: ['3.19', '3.19.4', '3.21.0-rc1'],
  a3: ['3.20', '3.20.3', '3.21', 'edge', 'latest'],
};
const NGINX: Record<string, string[]> = {
  n0: ['1.25.5', '1.26.2'],
  n1: ['1.26.2-alpine', '1.27.2-alpine'],
  n2: ['1.27.0', '1.27.1'],
  n3: ['1.27.2', 'mainline', 'stable', 'latest'],
};
const MULTI: Record<string, string[]> = {
  m0: ['v1.0.0', 'v1.1.0', '0.9'],
  m1: ['v1.2.0', 'v1.3.0'],
  m2: ['v1.4.0', 'latest', 'dev'],
  m3: ['v2.0.0', 'v2.1.0-beta'],
};

async function seedRepo(repo: string, images: Record<string, string[]>, index = false): Promise<void> {
  for (const [seed, tags] of Object.entries(images)) {
    const desc: Desc = index
      ? await pushIndex(src.url, repo, base, `${repo}/${seed}`)
      : await pushImage(src.url, repo, base, `${repo}/${seed}`);
    await tagAll(src.url, repo, desc, tags);
    for (const t of tags) digests.set(`${repo}:${t}`, desc.digest);
  }
}

async function spec(name: string, text: string): Promise<string> {
  const path = join(work, name);
  await writeFile(path, text);
  return path;
}

const MAIN_SPEC = (target: string) => `
env: [SRC]
defaults: { images: 3, jobs: 4 }
sync:
  - source: ${'${SRC}'}/lib/alpine
    target: ${target}/alpine
    tags: { semver: ">=3.18", allow: ["^edge$"], deny: ["-rc"] }
  - source: ${'${SRC}'}/lib/nginx
    target: ${target}/nginx
    tags:
      allow: ['^1\\.2[67]']
      deny: [alpine]
      latest: 3
  - source: ${'${SRC}'}/lib/multi
    target: ${target}/multi
    tags: { semver: "^1", latest: 4 }
`;

const EXPECTED = [
  ['lib/alpine', ['3.21', '3.20.3', '3.20', '3.19.4', '3.19', '3.18.9', '3.18', 'edge']],
  ['lib/nginx', ['1.27.2', '1.27.1', '1.27.0']],
  ['lib/multi', ['v1.4.0', 'v1.3.0', 'v1.2.0', 'v1.1.0']],
] as const;

const expectedSources = () => EXPECTED.flatMap(([repo, tags]) => tags.map((t) => `${S.host}/${repo}:${t}`));
const env = () => ({ SRC: S.host });

/** A failed run's stderr and, from a --json report, the images that failed with their errors (not a cut-off report). */
function explain(r: { stderr: string; stdout: string }): string {
  try {
    const failed = (JSON.parse(r.stdout) as { images: Array<{ status: string }> }).images.filter(
      (i) => i.status === 'failed',
    );
    return `${r.stderr}failed: ${JSON.stringify(failed, null, 1)}`;
  } catch {
    return r.stderr + r.stdout.slice(0, 4000);
  }
}

interface JsonImage {
  source: string;
  target: string;
  action: string;
  status?: string;
  digest?: string | null;
  sourceDigest?: string | null;
  error?: { message: string };
}

beforeAll(async () => {
  work = await makeTempDir('sync-test');
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  [S, D] = await Promise.all([startFaultProxy(src.url), startFaultProxy(dst.url)]);
  base = seeded('sync-base-layer', 96 * 1024);
  await Promise.all([seedRepo('lib/alpine', ALPINE), seedRepo('lib/nginx', NGINX), seedRepo('lib/multi', MULTI, true)]);
  S.paginateTags(4); // every listing takes several pages (Link: rel="next")
});

afterAll(async () => {
  await Promise.all([S?.stop(), D?.stop()]);
  await Promise.all([src?.stop(), dst?.stop()]);
  await removeTempDir(work);
});

describe('regctl sync', () => {
  it('--dry-run --json gives exactly the expected plan and changes nothing', async () => {
    const path = await spec('main.yaml', MAIN_SPEC(`${D.host}/mirror`));
    S.reset();
    D.reset();
    const r = await runCli(['sync', path, '--dry-run', '--json'], { env: env() });
    expect(r.stderr).toBe('');
    expect(r.code, explain(r)).toBe(0);
    const out = JSON.parse(r.stdout) as { summary: Record<string, number>; images: JsonImage[] };
    expect(out.images.map((i) => i.source)).toEqual(expectedSources());
    expect(out.images.every((i) => i.action === 'copy')).toBe(true);
    expect(out.images.map((i) => i.target)).toEqual(
      EXPECTED.flatMap(([repo, tags]) => tags.map((t) => `${D.host}/mirror/${repo.slice(4)}:${t}`)),
    );
    for (const i of out.images) expect(i.sourceDigest).toBe(digests.get(i.source.slice(S.host.length + 1)));
    expect(out.summary).toMatchObject({ images: 15, total: 15, copy: 15, upToDate: 0, failed: 0 });
    expect(S.count('tags')).toBeGreaterThanOrEqual(9); // 11 + 10 + 14 tags in pages of 4
    expect(S.count(['manifest-get', 'blob-get'])).toBe(0);
    expect(D.count(['upload', 'mount', 'manifest-put', 'manifest-get', 'blob-get'])).toBe(0);
  });

  it('copies the plan with digests preserved (indexes too); a shared base layer is fetched once', async () => {
    const path = await spec('main.yaml', MAIN_SPEC(`${D.host}/mirror`));
    S.reset();
    const r = await runCli(['sync', path, '--json'], { env: env() });
    expect(r.code, explain(r)).toBe(0);
    const out = JSON.parse(r.stdout) as { summary: Record<string, number>; images: JsonImage[] };
    expect(out.summary, JSON.stringify(out.images.filter((i) => i.status !== 'copied'))).toMatchObject({
      images: 15,
      copied: 15,
      failed: 0,
      skipped: 0,
    });
    for (const [repo, tags] of EXPECTED) {
      for (const t of tags)
        expect(await registryDigest(dst.host, `mirror/${repo.slice(4)}`, t)).toBe(digests.get(`${repo}:${t}`));
    }
    const baseDigest = `sha256:${(await import('node:crypto')).createHash('sha256').update(base).digest('hex')}`;
    expect(S.count((q) => q.kind === 'blob-get' && q.ref === baseDigest)).toBe(1);
    const gets = S.stats.filter((q) => q.kind === 'blob-get').map((q) => q.ref);
    expect(new Set(gets).size).toBe(gets.length); // no blob fetched twice
  });

  it('a second run is HEADs only: no GET, no blob bytes, nothing written', async () => {
    const path = await spec('main.yaml', MAIN_SPEC(`${D.host}/mirror`));
    S.reset();
    D.reset();
    const r = await runCli(['sync', path], { env: env() });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toMatch(/^sync: 0 copied, 15 up to date; 0 B sent in /);
    expect(r.stderr.match(/^up to date {2}/gm)).toHaveLength(15);
    for (const p of [S, D]) {
      expect(p.count(['manifest-get', 'blob-get', 'upload', 'mount', 'manifest-put'])).toBe(0);
      expect(p.bytes((q) => q.kind.startsWith('blob') || q.kind.startsWith('manifest') || q.kind === 'upload')).toBe(0);
    }
    expect(S.count('manifest-head')).toBe(15);
    expect(D.count('manifest-head')).toBe(15);
  });

  it('--shard 0/3, 1/3, 2/3 cover the plan exactly once; auto/N reads JOB_COMPLETION_INDEX', async () => {
    const path = await spec('main.yaml', MAIN_SPEC(`${D.host}/mirror`));
    const shards: string[][] = [];
    for (const i of [0, 1, 2]) {
      const r = await runCli(['sync', path, '--dry-run', '--json', '--shard', `${i}/3`], { env: env() });
      expect(r.code, explain(r)).toBe(0);
      const out = JSON.parse(r.stdout) as { shard: unknown; summary: { total: number }; images: JsonImage[] };
      expect(out.shard).toEqual({ index: i, count: 3 });
      expect(out.summary.total).toBe(15);
      shards.push(out.images.map((x) => x.source));
    }
    const union = shards.flat();
    expect(new Set(union).size).toBe(union.length);
    expect([...union].sort()).toEqual(expectedSources().sort());
    expect(shards.every((s) => s.length > 0)).toBe(true);
    const auto = await runCli(['sync', path, '--dry-run', '--json', '--shard', 'auto/3'], {
      env: { ...env(), JOB_COMPLETION_INDEX: '1' },
    });
    expect((JSON.parse(auto.stdout) as { images: JsonImage[] }).images.map((x) => x.source)).toEqual(shards[1]);
    const unset = await runCli(['sync', path, '--dry-run', '--shard', 'auto/3'], { env: env() });
    expect(unset.code, unset.stderr + unset.stdout.slice(0, 4000)).toBe(2);
    expect(unset.stderr).toMatch(/^regctl: --shard auto\/3: JOB_COMPLETION_INDEX is not set/m);
  });

  it('a failing source with --keep-going leaves the rest copied and exits 1; without it nothing is copied', async () => {
    const text = `
sync:
  - { source: "${S.host}/lib/alpine:3.20", target: "${D.host}/kg/alpine" }
  - { source: "${S.host}/lib/missing:1.0", target: "${D.host}/kg/missing" }
  - { source: "${S.host}/lib/nginx:1.27.1", target: "${D.host}/kg/broken" }
  - { source: "${S.host}/lib/nginx:1.27.2", target: "${D.host}/kg/nginx" }
`;
    const path = await spec('kg.yaml', text);
    const stop = await runCli(['sync', path, '--json'], {});
    expect(stop.code, stop.stderr + stop.stdout.slice(0, 4000)).toBe(1);
    expect(stop.stderr).toMatch(/^regctl: sync stopped: 1 image\(s\) could not be planned: nothing was copied/m);
    expect(await registryDigest(dst.host, 'kg/alpine', '3.20').catch(() => 'missing')).toBe('missing');

    // nginx 1.27.1's own layer cannot be read (HTTP 500 on every GET); retries off to keep this quick.
    const n2 = JSON.parse(
      await fetch(`${src.url}/v2/lib/nginx/manifests/1.27.1`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      }).then((x) => x.text()),
    );
    const own = (n2.layers as Array<{ digest: string }>)[1].digest;
    S.failWith(500, 1000, (q) => q.kind === 'blob-get' && q.ref === own);
    try {
      const r = await runCli(['sync', path, '--json', '--keep-going', '--retries', '0'], {});
      expect(r.code, explain(r)).toBe(1);
      const out = JSON.parse(r.stdout) as { summary: Record<string, number>; images: JsonImage[] };
      expect(out.summary).toMatchObject({ copied: 2, failed: 2, skipped: 0 });
      const by = new Map(out.images.map((i) => [i.source, i]));
      expect(by.get(`${S.host}/lib/missing:1.0`)?.status).toBe('failed');
      expect(by.get(`${S.host}/lib/nginx:1.27.1`)?.status).toBe('failed');
      expect(by.get(`${S.host}/lib/nginx:1.27.1`)?.error?.message).toMatch(/500/);
      expect(await registryDigest(dst.host, 'kg/alpine', '3.20')).toBe(digests.get('lib/alpine:3.20'));
      expect(await registryDigest(dst.host, 'kg/nginx', '1.27.2')).toBe(digests.get('lib/nginx:1.27.2'));
    } finally {
      S.clearFaults();
    }
  });

  it('a malformed spec is exit 2 with the file and line named', async () => {
    const path = await spec(
      'bad.yaml',
      `sync:\n  - source: ${S.host}/lib/alpine\n    target: ${D.host}/x\n    tags:\n      semver: ">=banana"\n`,
    );
    const r = await runCli(['sync', path], {});
    expect(r.code, explain(r)).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `^regctl: ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:5: ` +
          `sync\\[0\\]\\.tags\\.semver: invalid semver range ">=banana"`,
        'm',
      ),
    );
    expect(r.stdout).toBe('');
    const missing = await runCli(['sync', join(work, 'nope.yaml')], {});
    expect(missing.code, missing.stderr + missing.stdout.slice(0, 4000)).toBe(2);
    expect(missing.stderr).toMatch(/nope\.yaml: no such file/);
  });

  it('a platform subset is written as an annotated index; its re-run reads nothing from the source', async () => {
    const path = await spec(
      'subset.yaml',
      `
defaults: { platforms: [linux/arm64] }
sync:
  - source: ${S.host}/lib/multi
    target: ${D.host}/arm/multi
    tags: { list: [v1.4.0, v2.0.0] }
`,
    );
    const r = await runCli(['sync', path, '--json'], {});
    expect(r.code, explain(r)).toBe(0);
    const res = await fetch(`${dst.url}/v2/arm/multi/manifests/v1.4.0`, {
      headers: { accept: 'application/vnd.oci.image.index.v1+json' },
    });
    const doc = (await res.json()) as {
      manifests: Array<{ platform: { architecture: string } }>;
      annotations: Record<string, string>;
    };
    expect(doc.manifests.map((m) => m.platform.architecture)).toEqual(['arm64']);
    expect(doc.annotations).toEqual({
      'org.regctl.sync.source.digest': digests.get('lib/multi:v1.4.0'),
      'org.regctl.sync.platforms': 'linux/arm64',
    });
    S.reset();
    const again = await runCli(['sync', path, '--json'], {});
    expect(again.code, again.stderr + again.stdout.slice(0, 4000)).toBe(0);
    expect((JSON.parse(again.stdout) as { images: JsonImage[] }).images.map((i) => i.status)).toEqual([
      'up-to-date',
      'up-to-date',
    ]);
    expect(S.count(['manifest-get', 'blob-get'])).toBe(0);
  });

  it('writes into a local OCI layout target', async () => {
    const dir = join(work, 'bundle');
    const path = await spec(
      'layout.yaml',
      `sync:\n  - source: ${S.host}/lib/alpine\n    target: oci:${dir}\n    tags: { list: ["3.19", "3.20"] }\n`,
    );
    const r = await runCli(['sync', path], {});
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.code, explain(r)).toBe(0);
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
      manifests: Array<{ digest: string; annotations: Record<string, string> }>;
    };
    const byTag = Object.fromEntries(
      index.manifests.map((m) => [m.annotations['org.opencontainers.image.ref.name'], m.digest]),
    );
    expect(byTag).toEqual({ '3.19': digests.get('lib/alpine:3.19'), '3.20': digests.get('lib/alpine:3.20') });
    const again = await runCli(['sync', path], {});
    expect(again.stdout).toMatch(/^sync: 0 copied, 2 up to date/);
  });

  it('under the rate-limit floor it stops with a clear message, or waits with --rate-wait', async () => {
    const rl = await startRateLimitProxy(src.url, 5);
    try {
      const path = await spec(
        'rl.yaml',
        `sync:\n  - { source: "${rl.host}/lib/nginx:1.27.0", target: "${D.host}/rl/nginx" }\n`,
      );
      const stop = await runCli(['sync', path], {});
      expect(stop.code, stop.stderr + stop.stdout.slice(0, 4000)).toBe(1);
      expect(stop.stderr).toMatch(
        /^regctl: sync stopped: 127\.0\.0\.1:\d+: 5 of 100 pulls left per 6h, under the floor of 10: stopped instead of using up the quota/m,
      );
      expect(stop.stderr).toMatch(/^hint: .*--rate-wait/m);
      expect(await registryDigest(dst.host, 'rl/nginx', '1.27.0').catch(() => 'missing')).toBe('missing');

      const heads = rl.heads;
      const waiting = runCli(['sync', path, '--rate-wait', '8s'], {});
      while (rl.heads < heads + 2) await new Promise((r) => setTimeout(r, 50)); // the plan's HEAD, then a poll
      rl.remaining = 50;
      const r = await waiting;
      expect(r.code, explain(r)).toBe(0);
      expect(r.stderr).toMatch(/5 of 100 pulls left per 6h, under the floor of 10: waiting up to \d+ s/);
      expect(await registryDigest(dst.host, 'rl/nginx', '1.27.0')).toBe(digests.get('lib/nginx:1.27.0'));
    } finally {
      await rl.stop();
    }
  });
});
