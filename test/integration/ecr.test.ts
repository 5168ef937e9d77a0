// ECR through the stand-in: tokens from GetAuthorizationToken (cached, refreshed, retried), create on push, tag
// immutability, rm, uploads.
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type EcrHandle, EcrError, startEcr } from '../support/ecr-api.js';
import { startFaultProxy } from '../support/fault-proxy.js';
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

const AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDREGCTLTEST',
  AWS_SECRET_ACCESS_KEY: 'not-a-real-secret',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
};

let reg: RegistryHandle;
let ecr: EcrHandle;
let work: string;
let image: ImageFixture;
let other: ImageFixture;
let index: IndexFixture;
let S: string;
let E: string;

beforeAll(async () => {
  work = await makeTempDir('ecr-test');
  reg = await startRegistry();
  ecr = await startEcr({ registryUrl: reg.url });
  S = `${reg.host}/src`;
  E = ecr.host;
  [image, other, index] = await Promise.all([
    makeImageLayout(join(work, 'img'), { layers: [120_000, 30_000], seed: 'ecr-img', tag: 'v1' }),
    makeImageLayout(join(work, 'other'), { layers: [50_000], seed: 'ecr-other', tag: 'v1' }),
    makeIndexLayout(join(work, 'idx'), {
      platforms: ['linux/amd64', 'linux/arm64'],
      layers: [20_000],
      seed: 'ecr-idx',
      tag: 'v1',
    }),
  ]);
  await seedImage(`oci:${image.dir}:v1`, `${S}/app:v1`);
  await seedImage(`oci:${other.dir}:v1`, `${S}/app:v2`);
  await seedImage(`oci:${index.dir}:v1`, `${S}/multi:v1`, { all: true });
});

afterAll(async () => {
  await ecr?.stop();
  await reg?.stop();
  await removeTempDir(work);
});

beforeEach(() => {
  ecr.front.reset();
  ecr.setTokenTtl(12 * 3600);
});

/** A fresh HOME whose hosts config marks the front as ECR (no docker config at all). */
async function ecrHome(extra: Record<string, unknown> = {}): Promise<string> {
  const home = await makeTempDir('ecr-home');
  await mkdir(join(home, '.config', 'regctl'), { recursive: true });
  await writeFile(
    join(home, '.config', 'regctl', 'config.json'),
    JSON.stringify({ hosts: { [E]: ecr.hostsEntry(extra) } }),
  );
  return home;
}

const cli = (args: string[], home: string) => runCli(args, { env: { HOME: home, ...AWS_ENV } });
const blobCount = (f: ImageFixture) => f.layerDigests.length + 1;
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('regctl:'));

describe('ECR credentials', () => {
  it('come from GetAuthorizationToken (signed with the default chain), cached on disk 0600: a second run calls no API', async () => {
    await ecr.createRepository('cache/app');
    const home = await ecrHome();
    const before = ecr.count('GetAuthorizationToken');
    const r = await cli(['copy', `${S}/app:v1`, `${E}/cache/app:v1`], home);
    expect(r.stderr).not.toMatch(/regctl:|Warning/);
    expect(r.code).toBe(0);
    expect(ecr.count('GetAuthorizationToken')).toBe(before + 1);
    const call = ecr.calls.filter((c) => c.op === 'GetAuthorizationToken').at(-1)!;
    expect(call).toMatchObject({ accessKeyId: AWS_ENV.AWS_ACCESS_KEY_ID, region: 'us-east-1', service: 'ecr' });
    expect(ecr.front.stats.filter((s) => s.status !== 401).every((s) => s.authorization === 'basic')).toBe(true);

    const dir = join(home, '.cache', 'regctl', 'ecr');
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    expect((await stat(join(dir, files[0]))).mode & 0o777).toBe(0o600);

    const again = await cli(['digest', `${E}/cache/app:v1`], home);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(image.manifestDigest);
    expect(ecr.count('GetAuthorizationToken')).toBe(before + 1);
    await removeTempDir(home);
  });

  it('a token past half its life is replaced before it expires', async () => {
    await ecr.createRepository('short/app');
    await seedViaRegctl('short/app');
    ecr.setTokenTtl(12);
    const home = await ecrHome();
    const before = ecr.count('GetAuthorizationToken');
    expect((await cli(['digest', `${E}/short/app:v1`], home)).code).toBe(0);
    expect(ecr.count('GetAuthorizationToken')).toBe(before + 1);
    const issued = ecr.calls.filter((c) => c.op === 'GetAuthorizationToken').at(-1)!.at;
    expect((await cli(['digest', `${E}/short/app:v1`], home)).code).toBe(0);
    expect(Date.now() - issued, 'the second run ended within the first half of the 12 s token life').toBeLessThan(
      6_000,
    );
    expect(ecr.count('GetAuthorizationToken'), 'still in the first half of its life').toBe(before + 1);
    await new Promise((r) => setTimeout(r, Math.max(0, issued + 6_500 - Date.now())));
    expect((await cli(['digest', `${E}/short/app:v1`], home)).code).toBe(0);
    expect(ecr.count('GetAuthorizationToken'), 'past half its life').toBe(before + 2);
    await removeTempDir(home);
  });

  it('a 401 to a cached token (revoked early) retries once with a fresh token', async () => {
    await ecr.createRepository('stale/app');
    await seedViaRegctl('stale/app');
    const home = await ecrHome();
    expect((await cli(['digest', `${E}/stale/app:v1`], home)).code).toBe(0);
    const before = ecr.count('GetAuthorizationToken');
    ecr.revokeTokens();
    ecr.front.reset();
    const r = await cli(['digest', `${E}/stale/app:v1`], home);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
    expect(ecr.count('GetAuthorizationToken')).toBe(before + 1);
    expect(ecr.front.count((s) => s.status === 401 && s.authorization === 'basic')).toBe(1);
    await removeTempDir(home);
  });

  it('without an AWS identity, a `docker login` to the host (a token from an earlier CI step) is used instead', async () => {
    await ecr.createRepository('fallback/app');
    await seedViaRegctl('fallback/app');
    const home = await ecrHome();
    await mkdir(join(home, '.docker'), { recursive: true });
    const auth = Buffer.from(`AWS:${await ecr.loginPassword()}`).toString('base64');
    await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [E]: { auth } } }));
    const before = ecr.count();
    const env = { HOME: home, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'us-east-1' };
    const r = await runCli(['digest', `${E}/fallback/app:v1`], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
    expect(ecr.count()).toBe(before);

    await writeFile(join(home, '.docker', 'config.json'), '{}');
    const none = await runCli(['digest', `${E}/fallback/app:v1`], { env });
    expect(none.code).toBe(1);
    expect(errorLines(none.stderr)).toEqual([
      expect.stringMatching(/ECR GetAuthorizationToken in us-east-1: .*credentials/i),
    ]);
    expect(none.stderr).toMatch(/^hint: configure AWS credentials/m);
    await removeTempDir(home);
  });

  it('a refused GetAuthorizationToken is one line with a hint about AWS credentials', async () => {
    const home = await ecrHome();
    ecr.failNext(
      'GetAuthorizationToken',
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
    const r = await cli(['digest', `${E}/cache/app:v1`], home);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/GetAuthorizationToken.*UnrecognizedClientException/)]);
    expect(r.stderr).toMatch(/^hint: .*AWS_PROFILE/m);
    await removeTempDir(home);
  });
});

/** Puts image v1 into an existing ECR repository with regctl itself. */
async function seedViaRegctl(repo: string): Promise<void> {
  const home = await ecrHome();
  const r = await cli(['copy', `${S}/app:v1`, `${E}/${repo}:v1`], home);
  await removeTempDir(home);
  expect(r.code, r.stderr).toBe(0);
}

describe('ECR create on push', () => {
  it('a missing repository is created before its first upload (ECR hangs up on a POST into it); one PATCH + PUT per blob', async () => {
    const home = await ecrHome({ createRepo: { scanOnPush: true } });
    const created = ecr.count('CreateRepository');
    const r = await cli(['copy', `${S}/app:v1`, `${E}/made/app:v1`], home);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(new RegExp(`^${E}/made/app(:v1)?@${image.manifestDigest}$`));
    expect(r.stderr).toMatch(/created ECR repository made\/app/);
    expect(ecr.count('CreateRepository')).toBe(created + 1);
    expect(ecr.state.repositories.get('made/app')).toMatchObject({
      imageTagMutability: 'MUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
    });
    expect(await registryDigest(reg.host, 'made/app', 'v1')).toBe(image.manifestDigest);
    const uploads = (method: string) =>
      ecr.front.count((s) => s.kind === 'upload' && s.method === method && s.status < 300);
    expect(
      ecr.front.count((s) => s.kind === 'upload' && s.status === 0),
      'no POST was hung up on',
    ).toBe(0);
    expect(uploads('PATCH')).toBe(blobCount(image));
    expect(uploads('PUT')).toBe(blobCount(image));
    expect(uploads('POST')).toBe(blobCount(image));
    expect(ecr.front.stats.filter((s) => s.kind === 'upload' && s.method === 'PUT').every((s) => s.bytesIn === 0)).toBe(
      true,
    );
    await removeTempDir(home);
  });

  it('sync into a missing repository (no tag list asked): the hung-up POST is checked with DescribeRepositories, the repository made, the upload sent again', async () => {
    const home = await ecrHome();
    const spec = join(home, 'sync.yaml');
    await writeFile(spec, `sync:\n  - { source: "${S}/app:v1", target: "${E}/synced/app" }\n`);
    const described = ecr.count('DescribeRepositories');
    const r = await cli(['sync', spec], home);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await registryDigest(reg.host, 'synced/app', 'v1')).toBe(image.manifestDigest);
    expect(ecr.count('CreateRepository') > 0 && ecr.state.repositories.has('synced/app')).toBe(true);
    expect(ecr.count('DescribeRepositories')).toBeGreaterThan(described);
    const hungUp = ecr.front.count((s) => s.kind === 'upload' && s.method === 'POST' && s.status === 0);
    expect(hungUp, 'ECR hung up on the first POST').toBeGreaterThanOrEqual(1);
    expect(hungUp, 'each hang-up was asked about, not sent again blindly').toBeLessThanOrEqual(
      ecr.count('DescribeRepositories') - described,
    );
    await removeTempDir(home);
  });

  it('copies into one missing repository at once both succeed; a create that finds the repository made meanwhile goes on', async () => {
    const [h1, h2] = await Promise.all([ecrHome(), ecrHome()]);
    const [a, b] = await Promise.all([
      cli(['copy', `${S}/app:v1`, `${E}/race/app:v1`], h1),
      cli(['copy', `${S}/app:v2`, `${E}/race/app:v2`], h2),
    ]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    expect(await registryDigest(reg.host, 'race/app', 'v2')).toBe(other.manifestDigest);

    const original = ecr.ops.CreateRepository;
    ecr.ops.CreateRepository = async (input, ctx) => {
      await original(input, ctx);
      throw new EcrError(
        'RepositoryAlreadyExistsException',
        `The repository with name '${String(input.repositoryName)}' already exists`,
      );
    };
    try {
      const r = await cli(['copy', `${S}/app:v1`, `${E}/meanwhile/app:v1`], h1);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/created meanwhile/);
      expect(await registryDigest(reg.host, 'meanwhile/app', 'v1')).toBe(image.manifestDigest);
    } finally {
      ecr.ops.CreateRepository = original;
      await Promise.all([removeTempDir(h1), removeTempDir(h2)]);
    }
  });

  it('--no-create-repo: exit 1, one line naming the option and ECR repository creation templates; nothing created', async () => {
    const home = await ecrHome();
    const created = ecr.count('CreateRepository');
    const r = await cli(['copy', '--no-create-repo', `${S}/app:v1`, `${E}/nocreate/app:v1`], home);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/nocreate\/app.*does not exist.*--no-create-repo/)]);
    expect(r.stderr).toMatch(/^hint: .*--no-create-repo.*repository creation template/m);
    expect(ecr.count('CreateRepository')).toBe(created);
    expect(ecr.state.repositories.has('nocreate/app')).toBe(false);
    await removeTempDir(home);
  });

  it('an index keeps its digest in ECR', async () => {
    const home = await ecrHome();
    const r = await cli(['copy', `${S}/multi:v1`, `${E}/multi/app:v1`], home);
    expect(r.code, r.stderr).toBe(0);
    expect(await registryDigest(reg.host, 'multi/app', 'v1')).toBe(index.indexDigest);
    await removeTempDir(home);
  });

  it('ECR answers every PATCH 201 and stores nothing until PUT ?digest=: each blob is committed by its PUT', async () => {
    await ecr.createRepository('patch201/app');
    const home = await ecrHome();
    const r = await cli(['copy', `${S}/app:v1`, `${E}/patch201/app:v1`], home);
    expect(r.code, r.stderr).toBe(0);
    expect(ecr.front.count((s) => s.kind === 'upload' && s.method === 'PATCH' && s.status === 201)).toBe(
      blobCount(image),
    );
    expect(ecr.front.count((s) => s.kind === 'upload' && s.method === 'PUT' && s.status === 201)).toBe(
      blobCount(image),
    );
    expect(ecr.front.count((s) => s.kind === 'manifest-put' && s.status >= 400)).toBe(0);
    expect(await registryDigest(reg.host, 'patch201/app', 'v1')).toBe(image.manifestDigest);
    await removeTempDir(home);
  });
});

describe('ECR mounts', () => {
  it('a mount ECR refuses (blob mounting off) is answered 202: the blob goes up in that session, with no DELETE and no new POST', async () => {
    await ecr.createRepository('mnt/a');
    await seedViaRegctl('mnt/a');
    const home = await ecrHome();
    ecr.front.reset();
    const r = await cli(['copy', `${E}/mnt/a:v1`, `${E}/mnt/b:v1`], home);
    expect(r.code, r.stderr).toBe(0);
    expect(await registryDigest(reg.host, 'mnt/b', 'v1')).toBe(image.manifestDigest);
    expect(ecr.front.count((s) => s.kind === 'mount' && s.status === 202)).toBe(blobCount(image));
    expect(ecr.front.count((s) => s.kind === 'upload' && s.method === 'POST')).toBe(0);
    expect(ecr.front.count((s) => s.kind === 'upload' && s.method === 'DELETE')).toBe(0);
    expect(ecr.front.count((s) => s.kind === 'upload' && s.method === 'PUT' && s.status === 201)).toBe(
      blobCount(image),
    );
    await removeTempDir(home);
  });

  it('with blob mounting enabled, blobs a manifest of the source repository references are mounted (201), none sent', async () => {
    ecr.setBlobMounting(true);
    const home = await ecrHome();
    try {
      ecr.front.reset();
      const r = await cli(['copy', `${E}/mnt/a:v1`, `${E}/mnt/c:v1`], home);
      expect(r.code, r.stderr).toBe(0);
      expect(await registryDigest(reg.host, 'mnt/c', 'v1')).toBe(image.manifestDigest);
      expect(ecr.front.count((s) => s.kind === 'mount' && s.status === 201)).toBe(blobCount(image));
      expect(ecr.front.count((s) => s.kind === 'upload')).toBe(0);
    } finally {
      ecr.setBlobMounting(false);
      await removeTempDir(home);
    }
  });
});

describe('ECR mounts in sync', () => {
  it('sync mounts from a repository only once the image there has its manifest written: no mount is refused', async () => {
    await Promise.all(['twin/a', 'twin/b', 'twin/c'].map((r) => ecr.createRepository(r)));
    ecr.setBlobMounting(true);
    const home = await ecrHome();
    try {
      const spec = join(home, 'twins.yaml');
      const entries = ['a', 'b', 'c'].map((r) => `  - { source: "${S}/app:v1", target: "${E}/twin/${r}" }`).join('\n');
      await writeFile(spec, `sync:\n${entries}\n`);
      ecr.front.reset();
      const r = await cli(['sync', '--images', '3', spec], home);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      for (const repo of ['twin/a', 'twin/b', 'twin/c'])
        expect(await registryDigest(reg.host, repo, 'v1')).toBe(image.manifestDigest);
      expect(
        ecr.front.count((s) => s.kind === 'mount' && s.status === 202),
        'a mount ECR would refuse',
      ).toBe(0);
      expect(ecr.front.count((s) => s.kind === 'upload' && s.method === 'DELETE')).toBe(0);
    } finally {
      ecr.setBlobMounting(false);
      await removeTempDir(home);
    }
  });
});

describe('ECR uploads', () => {
  it('a PATCH cut off mid-body opens a new upload session and the copy completes', async () => {
    await ecr.createRepository('dropped/app');
    const proxy = await startFaultProxy(ecr.front.url);
    const home = await makeTempDir('ecr-home');
    try {
      await mkdir(join(home, '.config', 'regctl'), { recursive: true });
      await writeFile(
        join(home, '.config', 'regctl', 'config.json'),
        JSON.stringify({ hosts: { [proxy.host]: ecr.hostsEntry() } }),
      );
      proxy.dropAfter((q) => q.kind === 'upload' && q.method === 'PATCH', 20_000, 1);
      const r = await cli(['copy', '--jobs', '1', `${S}/app:v1`, `${proxy.host}/dropped/app:v1`], home);
      expect(r.code, r.stderr).toBe(0);
      expect(await registryDigest(reg.host, 'dropped/app', 'v1')).toBe(image.manifestDigest);
      const sessions = proxy.count((q) => q.kind === 'upload' && q.method === 'POST');
      expect(sessions).toBe(blobCount(image) + 1);
      expect(proxy.count((q) => q.kind === 'upload' && q.method === 'PATCH')).toBe(blobCount(image) + 1);
    } finally {
      await proxy.stop();
      await removeTempDir(home);
    }
  });
});

describe('ECR tags and deletes', () => {
  it('an immutable tag already naming another image is one clear line; re-running the same copy never hits TAG_INVALID', async () => {
    await ecr.createRepository('immut/app', { immutable: true });
    const home = await ecrHome();
    expect((await cli(['copy', `${S}/app:v1`, `${E}/immut/app:v1`], home)).code).toBe(0);

    const clash = await cli(['copy', `${S}/app:v2`, `${E}/immut/app:v1`], home);
    expect(clash.code).toBe(1);
    expect(errorLines(clash.stderr)).toEqual([
      `regctl: ${E}/immut/app:v1: the tag already names another image and the repository's tags are immutable`,
    ]);
    expect(clash.stderr).toMatch(/^hint: push under a new tag/m);
    expect(await registryDigest(reg.host, 'immut/app', 'v1')).toBe(image.manifestDigest);

    ecr.front.reset();
    const rerun = await cli(['copy', `${S}/app:v1`, `${E}/immut/app:v1`], home);
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toMatch(/up to date/);
    expect(ecr.front.count('manifest-put')).toBe(0);
    expect(ecr.front.count((s) => s.status === 400)).toBe(0);
    await removeTempDir(home);
  });

  it('rm resolves the tag and deletes by digest through the registry API', async () => {
    await ecr.createRepository('rmme/app');
    await seedViaRegctl('rmme/app');
    const home = await ecrHome();
    ecr.front.reset();
    const r = await cli(['rm', `${E}/rmme/app:v1`], home);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`deleted ${E}/rmme/app@${image.manifestDigest}`);
    expect(ecr.front.stats.filter((s) => s.kind === 'manifest-delete' && s.status === 202).map((s) => s.ref)).toEqual([
      image.manifestDigest,
    ]);
    await expect(registryDigest(reg.host, 'rmme/app', 'v1')).rejects.toThrow(/404/);
    await removeTempDir(home);
  });
});
