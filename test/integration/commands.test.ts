// tag, inspect, digest, ls, catalog and rm against the real distribution registry behind a counting proxy.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultProxy } from '../support/fault-proxy.js';
import {
  type IndexFixture,
  type ImageFixture,
  makeImageLayout,
  makeIndexLayout,
  registryDigest,
  seedImage,
} from '../support/images.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';
import { type ProxiedRegistry, startProxiedRegistry } from '../support/proxied.js';

let reg: RegistryHandle;
let proxy: FaultProxy;
let env: ProxiedRegistry;
let work: string;
let image: ImageFixture;
let index: IndexFixture;
let R: string;

beforeAll(async () => {
  env = await startProxiedRegistry('commands-test');
  ({ work, reg, proxy } = env);
  R = proxy.host;
  [image, index] = await Promise.all([
    makeImageLayout(join(work, 'img'), { layers: [100_000, 50_000], seed: 'cmd-img', tag: 'v1' }),
    makeIndexLayout(join(work, 'idx'), {
      platforms: ['linux/amd64', 'linux/arm64'],
      layers: [40_000],
      seed: 'cmd-idx',
      tag: 'v1',
    }),
  ]);
  await seedImage(`oci:${image.dir}:v1`, `${reg.host}/lib/app:v1`);
  await seedImage(`oci:${index.dir}:v1`, `${reg.host}/lib/multi:v1`, { all: true });
});

afterAll(async () => {
  await env?.stop();
});

describe('regctl tag', () => {
  it('adds tags with the same digest and moves no blob', async () => {
    proxy.reset();
    const r = await runCli(['tag', `${R}/lib/app:v1`, 'v1.0', 'stable']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      `${R}/lib/app:v1.0@${image.manifestDigest}`,
      `${R}/lib/app:stable@${image.manifestDigest}`,
    ]);
    expect(proxy.count(['blob-get', 'blob-head', 'upload', 'mount'])).toBe(0);
    expect(proxy.count('manifest-put')).toBe(2);
    expect(await registryDigest(reg.host, 'lib/app', 'stable')).toBe(image.manifestDigest);
    expect(await registryDigest(reg.host, 'lib/app', 'v1.0')).toBe(image.manifestDigest);
  });

  it('refuses a target in another repository (exit 2)', async () => {
    const r = await runCli(['tag', `${R}/lib/app:v1`, 'other/repo:x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^regctl: .*same repository/m);
  });
});

describe('regctl digest', () => {
  it('answers by HEAD alone', async () => {
    proxy.reset();
    const r = await runCli(['digest', `${R}/lib/app:v1`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
    expect(proxy.count('manifest-get')).toBe(0);
    expect(proxy.count('manifest-head')).toBe(1);
  });

  it('--platform gives the digest of that platform in an index', async () => {
    const arm = index.images.find((i) => i.platform.architecture === 'arm64')!;
    const r = await runCli(['digest', '--platform', 'linux/arm64', `${R}/lib/multi:v1`]);
    expect(r.stdout.trim()).toBe(arm.manifestDigest);
  });
});

describe('regctl inspect', () => {
  it('shows digest, platform, layers and sizes as text', async () => {
    const r = await runCli(['inspect', `${R}/lib/app:v1`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Digest:      ${image.manifestDigest}`);
    expect(r.stdout).toMatch(/Platform:\s+linux\/amd64/);
    for (const l of image.layerDigests) expect(r.stdout).toContain(l);
  });

  it('--json carries the same facts for scripts', async () => {
    const r = await runCli(['inspect', '--json', `${R}/lib/app:v1`]);
    const doc = JSON.parse(r.stdout);
    expect(doc.digest).toBe(image.manifestDigest);
    expect(doc.configDigest).toBe(image.configDigest);
    expect(doc.layers.map((l: { digest: string }) => l.digest)).toEqual(image.layerDigests);
    expect(doc.layers.map((l: { size: number }) => l.size)).toEqual(image.layerSizes);
    expect(doc.platform).toBe('linux/amd64');
  });

  it('--raw prints the manifest bytes exactly as the registry stores them, no newline added off a terminal', async () => {
    const r = await runCli(['inspect', '--raw', `${R}/lib/multi:v1`]);
    const res = await fetch(`${reg.url}/v2/lib/multi/manifests/v1`, { headers: { accept: index.indexMediaType } });
    expect(r.stdout).toBe(await res.text());
    // `inspect --raw REF | sha256sum` is `regctl digest REF`.
    const d = await runCli(['digest', `${R}/lib/multi:v1`]);
    expect(`sha256:${createHash('sha256').update(r.stdout).digest('hex')}`).toBe(d.stdout.trim());
    for (const ref of [`${R}/lib/app:v1`, `oci:${image.dir}:v1`]) {
      const one = await runCli(['inspect', '--raw', ref]);
      expect(`sha256:${createHash('sha256').update(one.stdout).digest('hex')}`, ref).toBe(image.manifestDigest);
    }
  });

  it('on an index lists the platforms; --platform and --config reach one child', async () => {
    const r = await runCli(['inspect', '--json', `${R}/lib/multi:v1`]);
    const doc = JSON.parse(r.stdout);
    expect(doc.manifests.map((m: { platform: string }) => m.platform).sort()).toEqual(['linux/amd64', 'linux/arm64']);
    const cfg = await runCli(['inspect', '--config', '--platform', 'linux/arm64', `${R}/lib/multi:v1`]);
    expect(JSON.parse(cfg.stdout).architecture).toBe('arm64');
  });
});

describe('regctl ls and catalog', () => {
  it('ls follows Link across pages (n at most 1000) and lists every tag', async () => {
    const tags = ['a1', 'a2', 'b1', 'b2', 'c1'];
    expect((await runCli(['tag', `${R}/lib/app:v1`, ...tags])).code).toBe(0);
    proxy.reset();
    proxy.paginateTags(3);
    const r = await runCli(['ls', `${R}/lib/app`]).finally(() => proxy.paginateTags(0));
    expect(r.code).toBe(0);
    const listed = r.stdout.trim().split('\n');
    expect(new Set(listed)).toEqual(new Set([...tags, 'v1', 'v1.0', 'stable']));
    expect(listed.length).toBe(8);
    expect(proxy.count('tags')).toBe(3);
    expect(proxy.stats.filter((s) => s.kind === 'tags').map((s) => new URLSearchParams(s.query).get('n'))).toEqual([
      '1000',
      '3',
      '3',
    ]);
  });

  it('catalog lists the repositories', async () => {
    const r = await runCli(['catalog', '--json', R]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(expect.arrayContaining(['lib/app', 'lib/multi']));
  });
});

describe('regctl rm', () => {
  it('resolves a tag to its digest and deletes the manifest', async () => {
    expect((await runCli(['copy', `${R}/lib/app:v1`, `${R}/lib/gone:v1`])).code).toBe(0);
    const r = await runCli(['rm', `${R}/lib/gone:v1`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`deleted ${R}/lib/gone@${image.manifestDigest}`);
    const head = await fetch(`${reg.url}/v2/lib/gone/manifests/v1`, { method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(await registryDigest(reg.host, 'lib/app', 'v1')).toBe(image.manifestDigest);
  });

  const tagsOf = async (url: string, repo: string): Promise<string[]> =>
    (((await (await fetch(`${url}/v2/${repo}/tags/list`)).json()) as { tags: string[] | null }).tags ?? []).sort();

  it('rm REPO:TAG of an image that other tags name removes that tag alone (a placeholder where DELETE of a tag is refused)', async () => {
    expect((await runCli(['copy', `${R}/lib/app:v1`, `${R}/lib/untag:v1.2`])).code).toBe(0);
    expect((await runCli(['tag', `${R}/lib/untag:v1.2`, 'v1.2.0', 'stable'])).code).toBe(0);
    proxy.reset();
    const r = await runCli(['rm', `${R}/lib/untag:v1.2.0`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `untagged ${R}/lib/untag:v1.2.0 (${image.manifestDigest} is kept: stable, v1.2 still name it)\n`,
    );
    expect(await tagsOf(reg.url, 'lib/untag')).toEqual(['stable', 'v1.2']);
    expect(await registryDigest(reg.host, 'lib/untag', 'v1.2')).toBe(image.manifestDigest);
    expect(await registryDigest(reg.host, 'lib/untag', 'stable')).toBe(image.manifestDigest);
    // distribution 2.8 refuses the tag DELETE (400); the image itself was never the target of a DELETE.
    const deletes = proxy.stats.filter((s) => s.kind === 'manifest-delete');
    expect(deletes.map((d) => [d.ref, d.status])).toEqual([
      ['v1.2.0', 400],
      [expect.stringMatching(/^sha256:/), 202],
    ]);
    expect(deletes[1].ref).not.toBe(image.manifestDigest);
    // The other tags were found by listing and HEADs, not GETs.
    expect(proxy.count('manifest-get')).toBe(0);
  });

  it('rm --force REPO:TAG deletes the image and says which tags went with it', async () => {
    expect((await runCli(['copy', `${R}/lib/app:v1`, `${R}/lib/forced:a`])).code).toBe(0);
    expect((await runCli(['tag', `${R}/lib/forced:a`, 'b', 'c'])).code).toBe(0);
    const r = await runCli(['rm', '--force', `${R}/lib/forced:a`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `deleted ${R}/lib/forced@${image.manifestDigest}\nthe tags b, c named it too and went with it\n`,
    );
    expect(await tagsOf(reg.url, 'lib/forced')).toEqual([]);
  });

  it('a registry that deletes nothing (405): rm REPO:TAG of a shared image refuses in one line naming the other tags', async () => {
    const ro = await startRegistry({ deleteEnabled: false });
    try {
      expect((await runCli(['copy', `${R}/lib/app:v1`, `${ro.host}/lib/app:v1`])).code).toBe(0);
      expect((await runCli(['tag', `${ro.host}/lib/app:v1`, 'v1.0'])).code).toBe(0);
      const r = await runCli(['rm', `${ro.host}/lib/app:v1`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `^regctl: ${ro.host}/lib/app:v1: v1\\.0 also names this image, ` +
            `and the registry cannot remove one tag alone .*\nhint: regctl rm --force `,
        ),
      );
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(2);
      expect(await tagsOf(ro.url, 'lib/app')).toEqual(['v1', 'v1.0']);
      expect(await registryDigest(ro.host, 'lib/app', 'v1')).toBe(image.manifestDigest);
    } finally {
      await ro.stop();
    }
  });

  it('a missing image is exit 1', async () => {
    const r = await runCli(['rm', `${R}/lib/gone:v1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^regctl: .*not found/m);
  });
});

describe('REGCTL_CONFIG', () => {
  it('naming a file that does not exist is an empty config (as DOCKER_CONFIG is for docker)', async () => {
    const r = await runCli(['digest', `${R}/lib/app:v1`], {
      env: { REGCTL_CONFIG: join(work, 'no-such-dir', 'config.json') },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
  });

  it('naming a file that does not parse is exit 2 with one line naming the file', async () => {
    const bad = join(work, 'bad-config.json');
    await writeFile(bad, '{"hosts": ');
    const r = await runCli(['digest', `${R}/lib/app:v1`], { env: { REGCTL_CONFIG: bad } });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`regctl: config ${bad} is not valid JSON\n`);
  });
});

describe('the command line', () => {
  it('every command has --help with an example', async () => {
    for (const c of ['copy', 'pull', 'push', 'tag', 'inspect', 'digest', 'ls', 'catalog', 'rm', 'login', 'logout']) {
      const r = await runCli([c, '--help']);
      expect(r.code, c).toBe(0);
      expect(r.stdout, c).toMatch(/Examples:\n\s+\$ .*regctl /);
    }
  });

  it('an unknown command or option is exit 2 with one line', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^regctl: unknown command/m);
    const r2 = await runCli(['copy', '--bogus', 'a', 'b']);
    expect(r2.code).toBe(2);
  });
});
