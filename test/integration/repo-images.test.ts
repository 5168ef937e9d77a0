// Repositories and retention: `repo create|rm|lifecycle` on the ECR stand-in (real SDK), `images` across pages, `prune`
// by flags and by policy.
import { mkdir, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EcrHandle, startEcr } from '../support/ecr-api.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runOnPty } from '../support/pty.js';
import { runCli } from '../support/run-cli.js';

const AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDREGCTLTEST',
  AWS_SECRET_ACCESS_KEY: 'not-a-real-secret',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
};
const DAY = 86_400_000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

let reg: RegistryHandle;
let ecr: EcrHandle;
let proxy: FaultProxy;
let work: string;
let home: string;
let E: string;
let R: string;

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

const uploaded = new Set<string>();
async function putBlob(repo: string, bytes: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256(bytes);
  if (uploaded.has(`${repo}@${digest}`)) return { digest, size: bytes.length };
  uploaded.add(`${repo}@${digest}`);
  const start = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  const loc = new URL(start.headers.get('location')!, reg.url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`blob upload answered ${put.status}`);
  return { digest, size: bytes.length };
}

interface Pushed {
  digest: string;
  size: number;
}

/**
 * A small image straight into the backing registry: a config created `daysAgo` (whole days), one layer, tagged `tags`
 * (none: by digest). Images of one seed share their blobs; `n` makes their manifests differ (an annotation).
 */
async function pushImage(
  repo: string,
  o: { seed: string; daysAgo: number; tags: string[]; n?: number },
): Promise<Pushed> {
  const layer = await putBlob(repo, Buffer.from(`layer ${o.seed}`));
  const created = new Date(Math.floor(Date.now() / DAY - o.daysAgo) * DAY).toISOString();
  const config = await putBlob(
    repo,
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        created,
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      ...(o.n !== undefined ? { annotations: { 'org.regctl.test.n': String(o.n) } } : {}),
    }),
  );
  const digest = sha256(body);
  for (const ref of o.tags.length ? o.tags : [digest]) {
    const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, {
      method: 'PUT',
      body,
      headers: { 'content-type': OCI_MANIFEST },
    });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`manifest PUT answered ${res.status}`);
  }
  return { digest, size: config.size + layer.size };
}

async function tagsOf(repo: string): Promise<string[]> {
  const res = await fetch(`${reg.url}/v2/${repo}/tags/list`);
  if (res.status !== 200) return [];
  return (((await res.json()) as { tags: string[] | null }).tags ?? []).sort();
}

const manifestExists = async (repo: string, digest: string) =>
  (await fetch(`${reg.url}/v2/${repo}/manifests/${digest}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } }))
    .status === 200;

const cli = (args: string[]) => runCli(args, { env: { HOME: home, ...AWS_ENV } });
const errorLines = (stderr: string) =>
  stderr.split('\n').filter((l) => l.startsWith('regctl:') || l.startsWith('hint:'));
const expectRefusal = (r: { code: number; stderr: string }, code: number, message: RegExp) => {
  expect(r.code, r.stderr).toBe(code);
  expect(errorLines(r.stderr)).toHaveLength(1);
  expect(errorLines(r.stderr)[0]).toMatch(message);
};

beforeAll(async () => {
  work = await makeTempDir('repo-images');
  reg = await startRegistry();
  ecr = await startEcr({ registryUrl: reg.url, registryRoot: reg.root });
  proxy = await startFaultProxy(reg.url);
  E = ecr.host;
  R = proxy.host;
  home = await makeTempDir('repo-images-home');
  await mkdir(join(home, '.config', 'regctl'), { recursive: true });
  await writeFile(join(home, '.config', 'regctl', 'config.json'), JSON.stringify({ hosts: { [E]: ecr.hostsEntry() } }));
});

afterAll(async () => {
  await proxy?.stop();
  await ecr?.stop();
  await reg?.stop();
  await removeTempDir(home);
  await removeTempDir(work);
});

describe('repo create, rm and lifecycle on ECR', () => {
  it('creates a repository with the asked settings; the same again is fine; other settings are a one-line error naming each difference', async () => {
    const kms = 'arn:aws:kms:us-east-1:123456789012:key/regctl-test';
    const r = await cli(['repo', 'create', '--immutable-tags', '--scan-on-push', '--kms-key', kms, `${E}/made/app`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/created .*made\/app \(tags immutable, scan on push on, encryption KMS/);
    expect(ecr.state.repositories.get('made/app')).toMatchObject({
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
      encryptionConfiguration: { encryptionType: 'KMS', kmsKey: kms },
    });
    const again = await cli([
      'repo',
      'create',
      '--immutable-tags',
      '--scan-on-push',
      '--kms-key',
      kms,
      `${E}/made/app`,
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/exists/);
    const other = await cli(['repo', 'create', `${E}/made/app`]);
    expectRefusal(
      other,
      1,
      /exists with other settings: tags are immutable, asked mutable \(aws ecr put-image-tag-mutability\); scan on push is on, asked off .*; encryption is KMS .*, asked AES256/,
    );

    const plain = await cli(['repo', 'create', '--json', `${E}/made/plain`]);
    expect(plain.code).toBe(0);
    expect(JSON.parse(plain.stdout)).toMatchObject({
      created: true,
      immutableTags: false,
      scanOnPush: false,
      encryption: 'AES256',
    });
  });

  it('copy --immutable-tags --scan-on-push creates the missing repository on push with those settings', async () => {
    await pushImage('src/app', { seed: 'src', daysAgo: 1, tags: ['v1'] });
    const r = await cli(['copy', '--immutable-tags', '--scan-on-push', `${reg.host}/src/app:v1`, `${E}/onpush/app:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(ecr.state.repositories.get('onpush/app')).toMatchObject({
      imageTagMutability: 'IMMUTABLE',
      imageScanningConfiguration: { scanOnPush: true },
    });
  });

  it('rm: a repository with images needs --force; then it is gone', async () => {
    await ecr.createRepository('gone/app');
    await pushImage('gone/app', { seed: 'gone', daysAgo: 1, tags: ['v1'] });
    expectRefusal(await cli(['repo', 'rm', `${E}/gone/app`]), 1, /still holds images; --force deletes them/);
    expect(ecr.state.repositories.has('gone/app')).toBe(true);
    const r = await cli(['repo', 'rm', '--force', `${E}/gone/app`]);
    expect(r.code, r.stderr).toBe(0);
    expect(ecr.state.repositories.has('gone/app')).toBe(false);
    expectRefusal(await cli(['repo', 'rm', `${E}/gone/app`]), 1, /no such repository/);
  });

  it('lifecycle set checks JSON with rules, lets ECR judge the rest (its message shown), accepts archive transitions; get prints what was set', async () => {
    await ecr.createRepository('life/app');
    const puts = ecr.count('PutLifecyclePolicy');
    await writeFile(join(work, 'notjson.json'), '{"rules": [');
    expectRefusal(
      await cli(['repo', 'lifecycle', 'set', `${E}/life/app`, join(work, 'notjson.json')]),
      2,
      /not valid JSON/,
    );
    await writeFile(join(work, 'norules.json'), '{"rule": []}');
    expectRefusal(
      await cli(['repo', 'lifecycle', 'set', `${E}/life/app`, join(work, 'norules.json')]),
      2,
      /needs a non-empty "rules" list/,
    );
    expect(ecr.count('PutLifecyclePolicy')).toBe(puts);

    const bad = join(work, 'bad.json');
    await writeFile(
      bad,
      JSON.stringify({
        rules: [
          {
            rulePriority: 1,
            selection: { tagStatus: 'tagged', countType: 'imageCountMoreThan', countNumber: 3 },
            action: { type: 'expire' },
          },
        ],
      }),
    );
    expectRefusal(
      await cli(['repo', 'lifecycle', 'set', `${E}/life/app`, bad]),
      1,
      /InvalidParameterException: .*Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED/,
    );
    expect(ecr.count('PutLifecyclePolicy')).toBe(puts + 1);
    expectRefusal(await cli(['repo', 'lifecycle', 'get', `${E}/life/app`]), 1, /has no lifecycle policy/);

    const policy = {
      rules: [
        {
          rulePriority: 1,
          description: 'archive unpulled',
          selection: {
            tagStatus: 'tagged',
            tagPatternList: ['v*'],
            storageClass: 'standard',
            countType: 'sinceImagePulled',
            countUnit: 'days',
            countNumber: 30,
          },
          action: { type: 'transition', targetStorageClass: 'archive' },
        },
        {
          rulePriority: 2,
          selection: {
            tagStatus: 'any',
            storageClass: 'archive',
            countType: 'sinceImageTransitioned',
            countUnit: 'days',
            countNumber: 365,
          },
          action: { type: 'expire' },
        },
        {
          rulePriority: 3,
          description: 'keep 3',
          selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 3 },
          action: { type: 'expire' },
        },
      ],
    };
    await writeFile(join(work, 'good.json'), JSON.stringify(policy));
    const set = await cli(['repo', 'lifecycle', 'set', `${E}/life/app`, join(work, 'good.json')]);
    expect(set.code, set.stderr).toBe(0);
    const get = await cli(['repo', 'lifecycle', 'get', `${E}/life/app`]);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual(policy);
  });

  it('every repo command refuses a registry without a repository API in one line', async () => {
    expectRefusal(
      await cli(['repo', 'create', `${reg.host}/x/app`]),
      2,
      /is not ECR; registries without a repository API create a repository on its first push/,
    );
    expectRefusal(await cli(['repo', 'rm', `${reg.host}/x/app`]), 2, /is not ECR; .*cannot delete one/);
    expectRefusal(await cli(['repo', 'lifecycle', 'get', `${reg.host}/x/app`]), 2, /is not ECR; .*prune --from-policy/);
    expectRefusal(await cli(['repo', 'frobnicate', `${reg.host}/x/app`]), 2, /unknown action/);
  });
});

describe('images', () => {
  it('on ECR: 150 images over DescribeImages pages, no tag list and no HEAD; --no-config reads no manifest', async () => {
    await ecr.createRepository('many/app');
    const pushed: Pushed[] = [];
    for (let i = 0; i < 150; i++)
      pushed.push(
        await pushImage('many/app', { seed: 'many', n: i, daysAgo: 3, tags: [`t${String(i).padStart(3, '0')}`] }),
      );
    ecr.front.reset();
    const calls = ecr.count('DescribeImages');
    const r = await cli(['images', '--json', '--no-config', '--page-size', '40', `${E}/many/app`]);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{
      digest: string;
      tags: string[];
      size: number;
      pushed: string;
      mediaType: string;
    }>;
    expect(rows).toHaveLength(150);
    expect(new Set(rows.map((x) => x.digest))).toEqual(new Set(pushed.map((p) => p.digest)));
    expect(rows.flatMap((x) => x.tags).sort()).toEqual(
      Array.from({ length: 150 }, (_, i) => `t${String(i).padStart(3, '0')}`),
    );
    expect(rows.every((x) => x.mediaType === OCI_MANIFEST && typeof x.pushed === 'string' && x.size > 0)).toBe(true);
    expect(ecr.count('DescribeImages') - calls).toBe(4);
    expect(ecr.front.count((s) => s.kind === 'tags' || s.kind === 'manifest-head' || s.kind === 'manifest-get')).toBe(
      0,
    );

    const table = await cli(['images', '--sort', 'tag', '--filter', 'tag=^t00[0-4]$', `${E}/many/app`]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TAGS\s+DIGEST\s+TYPE\s+PLATFORMS\s+SIZE\s+CREATED\s+PUSHED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['t000', 't001', 't002', 't003', 't004']);
    expect(lines[1]).toMatch(/oci image\s+linux\/amd64\s+\d+ B\s+20\d\d-/);
  });

  it('elsewhere: 150 tags over Link pages grouped by digest, with size, created and platform from the config; ls --long too', async () => {
    const created: Record<string, Pushed> = {};
    for (const [n, seed] of [
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ] as const) {
      created[seed] = await pushImage('paged/app', {
        seed: `paged-${seed}`,
        daysAgo: 10 * (n + 1),
        tags: Array.from({ length: 50 }, (_, i) => `${seed}${i}`),
      });
    }
    proxy.paginateTags(40);
    proxy.reset();
    const r = await cli(['images', '--json', '--sort', 'created', `${R}/paged/app`]);
    proxy.paginateTags(0);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{
      digest: string;
      tags: string[];
      size: number;
      created: string;
      platforms: string[];
    }>;
    expect(rows.map((x) => x.digest)).toEqual([created.a.digest, created.b.digest, created.c.digest]);
    expect(rows.map((x) => x.tags.length)).toEqual([50, 50, 50]);
    expect(rows[0]).toMatchObject({ size: created.a.size, platforms: ['linux/amd64'] });
    expect(Date.now() - Date.parse(rows[2].created)).toBeGreaterThan(29 * DAY);
    expect(proxy.count('tags')).toBe(4);
    expect(proxy.count('manifest-get')).toBe(3);

    const long = await cli(['ls', '--long', '--filter', 'older=15d', `${R}/paged/app`]);
    expect(long.code, long.stderr).toBe(0);
    expect(long.stdout.trim().split('\n')).toHaveLength(3); // header + b + c
  });

  it('refuses bad flags in one line', async () => {
    expectRefusal(
      await cli(['images', '--sort', 'colour', `${R}/paged/app`]),
      2,
      /--sort must be one of tag, created, pushed, size/,
    );
    expectRefusal(await cli(['images', '--filter', 'older=soon', `${R}/paged/app`]), 2, /unreadable duration/);
  });
});

describe('prune', () => {
  type Spec = { tags: string[]; daysAgo: number };
  const fixture: Record<string, Spec> = {
    v5: { tags: ['v5'], daysAgo: 1 },
    v4: { tags: ['v4'], daysAgo: 2 },
    v3: { tags: ['v3', 'stable'], daysAgo: 3 },
    v2: { tags: ['v2'], daysAgo: 40 },
    v1: { tags: ['v1'], daysAgo: 50 },
    dev: { tags: ['dev-1', 'dev-latest'], daysAgo: 45 },
  };
  const policyTwoRules = {
    rules: [
      {
        rulePriority: 1,
        selection: { tagStatus: 'tagged', tagPrefixList: ['v'], countType: 'imageCountMoreThan', countNumber: 2 },
        action: { type: 'expire' },
      },
      {
        rulePriority: 2,
        selection: {
          tagStatus: 'tagged',
          tagPatternList: ['dev-*'],
          countType: 'sinceImagePushed',
          countUnit: 'days',
          countNumber: 30,
        },
        action: { type: 'expire' },
      },
    ],
  };
  const policyAny = {
    rules: [
      {
        rulePriority: 5,
        selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 3 },
        action: { type: 'expire' },
      },
    ],
  };
  // ECR's archive rules: regctl cannot know pulls or the archive; the images such a rule selects first are kept.
  const policyArchive = {
    rules: [
      {
        rulePriority: 1,
        selection: {
          tagStatus: 'tagged',
          tagPrefixList: ['v'],
          countType: 'sinceImagePulled',
          countUnit: 'days',
          countNumber: 7,
        },
        action: { type: 'transition', targetStorageClass: 'archive' },
      },
      {
        rulePriority: 2,
        selection: {
          tagStatus: 'tagged',
          tagPatternList: ['dev-*'],
          countType: 'sinceImagePushed',
          countUnit: 'days',
          countNumber: 30,
        },
        action: { type: 'expire' },
      },
      {
        rulePriority: 3,
        selection: {
          tagStatus: 'any',
          storageClass: 'archive',
          countType: 'sinceImageTransitioned',
          countUnit: 'days',
          countNumber: 90,
        },
        action: { type: 'expire' },
      },
      {
        rulePriority: 4,
        selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 },
        action: { type: 'expire' },
      },
    ],
  };

  it.each([
    ['--keep 2', ['--keep', '2'], ['v1', 'v2', 'v3', 'dev']],
    ['--keep 2 --match ^v (v3 also carries stable: kept)', ['--keep', '2', '--match', '^v'], ['v1', 'v2']],
    ['--older-than 30d', ['--older-than', '30d'], ['v1', 'v2', 'dev']],
    ['--keep 1 --match ^dev --older-than 30d', ['--keep', '0', '--match', '^dev', '--older-than', '30d'], ['dev']],
    [
      '--from-policy, ordered rules (prefix count, pattern age)',
      ['--from-policy', 'two-rules.json'],
      ['v1', 'v2', 'v3', 'dev'],
    ],
    ['--from-policy, any', ['--from-policy', 'any.json'], ['v1', 'v2', 'dev']],
    ['--from-policy, archive rules keep what they select', ['--from-policy', 'archive.json'], ['dev']],
  ])('%s: the dry run lists exactly what a real run removes, and nothing else goes', async (name, flags, want) => {
    const repo = `prune/${name
      .replace(/[^a-z0-9]+/gi, '-')
      .replace(/^-|-$/g, '')
      .toLowerCase()
      .slice(0, 40)}`;
    await writeFile(join(work, 'two-rules.json'), JSON.stringify(policyTwoRules));
    await writeFile(join(work, 'any.json'), JSON.stringify(policyAny));
    await writeFile(join(work, 'archive.json'), JSON.stringify(policyArchive));
    const digests: Record<string, string> = {};
    for (const [k, s] of Object.entries(fixture))
      digests[k] = (await pushImage(repo, { seed: `${repo}-${k}`, ...s })).digest;
    const args = flags.map((f) => (f.endsWith('.json') ? join(work, f) : f));
    const wantDigests = want.map((k) => digests[k]).sort();

    const dry = await cli(['prune', '--dry-run', '--json', ...args, `${reg.host}/${repo}`]);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as {
      expire: Array<{ digest: string; rule: string; reason: string }>;
      kept: Array<{ digest: string; reason: string }>;
    };
    expect(plan.expire.map((e) => e.digest).sort()).toEqual(wantDigests);
    expect(plan.expire.every((e) => e.rule && e.reason)).toBe(true);
    for (const d of Object.values(digests))
      expect(await manifestExists(repo, d), 'a dry run deletes nothing').toBe(true);

    const text = await cli(['prune', '--dry-run', ...args, `${reg.host}/${repo}`]);
    expect(text.stdout.split('\n').filter((l) => l.startsWith('would delete')).length).toBe(want.length);

    const real = await cli(['prune', '--yes', '--json', ...args, `${reg.host}/${repo}`]);
    expect(real.code, real.stderr).toBe(0);
    const done = JSON.parse(real.stdout) as { expire: Array<{ digest: string; deleted: boolean }> };
    expect(
      done.expire
        .filter((e) => e.deleted)
        .map((e) => e.digest)
        .sort(),
    ).toEqual(wantDigests);
    for (const [k, d] of Object.entries(digests)) expect(await manifestExists(repo, d), k).toBe(!want.includes(k));
  });

  it('--from-policy names each rule it cannot evaluate (archive transitions, last pulls, archived images) and why', async () => {
    const repo = 'prune/archive-notes';
    await pushImage(repo, { seed: 'notes-v1', daysAgo: 3, tags: ['v1'] });
    await writeFile(join(work, 'archive.json'), JSON.stringify(policyArchive));
    const r = await cli(['prune', '--dry-run', '--from-policy', join(work, 'archive.json'), `${reg.host}/${repo}`]);
    expect(r.code, r.stderr).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toEqual([
      expect.stringMatching(
        /^warning: rule 1 \(archive tags with prefix v last pulled over 7 days ago\) is not evaluated here: it moves images to the archive/,
      ),
      expect.stringMatching(/^warning: rule 3 .* is not evaluated here: it selects archived images/),
    ]);
    expect(r.stdout).toMatch(/kept.*v1.*rule 1.*not evaluated here/);
  });

  it('a digest that a kept tag points to is never deleted, and the output says so', async () => {
    const repo = 'prune/shared';
    const shared = await pushImage(repo, { seed: 'shared-old', daysAgo: 90, tags: ['build-1', 'release'] });
    const old = await pushImage(repo, { seed: 'shared-older', daysAgo: 80, tags: ['build-2'] });
    await pushImage(repo, { seed: 'shared-new', daysAgo: 1, tags: ['build-3'] });
    const r = await cli(['prune', '--yes', '--keep', '1', '--match', '^build-', `${reg.host}/${repo}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^deleted\\s+build-2\\s+${old.digest}`, 'm'));
    expect(r.stdout).toMatch(
      new RegExp(`^kept\\s+build-1,release\\s+${shared.digest}\\s+.*tag release is kept .*digest stays`, 'm'),
    );
    expect(await tagsOf(repo)).toEqual(['build-1', 'build-3', 'release']);
  });

  it('on ECR: push times from DescribeImages, untagged images, deletes through BatchDeleteImage, no manifest read', async () => {
    const repo = 'prune/ecr';
    await ecr.createRepository(repo);
    const imgs = {
      new: await pushImage(repo, { seed: 'e-new', daysAgo: 0, tags: ['app-3'] }),
      mid: await pushImage(repo, { seed: 'e-mid', daysAgo: 0, tags: ['app-2'] }),
      old: await pushImage(repo, { seed: 'e-old', daysAgo: 0, tags: ['app-1'] }),
      u1: await pushImage(repo, { seed: 'e-u1', daysAgo: 0, tags: [] }),
      u2: await pushImage(repo, { seed: 'e-u2', daysAgo: 0, tags: [] }),
    };
    // created says nothing here (all "today"): ECR orders by push time.
    const pushedDaysAgo = { new: 1, mid: 20, old: 40, u1: 3, u2: 30 };
    for (const [k, d] of Object.entries(pushedDaysAgo))
      ecr.setPushedAt(repo, imgs[k as keyof typeof imgs].digest, new Date(Date.now() - d * DAY));
    await writeFile(
      join(work, 'ecr.json'),
      JSON.stringify({
        rules: [
          {
            rulePriority: 1,
            selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 },
            action: { type: 'expire' },
          },
          {
            rulePriority: 2,
            selection: {
              tagStatus: 'tagged',
              tagPatternList: ['app-*'],
              countType: 'imageCountMoreThan',
              countNumber: 2,
            },
            action: { type: 'expire' },
          },
        ],
      }),
    );
    const untaggedOnly = await cli(['prune', '--dry-run', '--json', '--untagged', `${E}/${repo}`]);
    expect(untaggedOnly.code, untaggedOnly.stderr).toBe(0);
    expect(
      (JSON.parse(untaggedOnly.stdout) as { expire: Array<{ digest: string }> }).expire.map((e) => e.digest).sort(),
    ).toEqual([imgs.u1.digest, imgs.u2.digest].sort());

    ecr.front.reset();
    const batch = ecr.count('BatchDeleteImage');
    const r = await cli(['prune', '--yes', '--from-policy', join(work, 'ecr.json'), `${E}/${repo}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('deleted')).length).toBe(2);
    expect(ecr.count('BatchDeleteImage') - batch).toBe(1);
    expect(
      ecr.front.count(
        (s) =>
          s.kind === 'manifest-get' || s.kind === 'manifest-head' || s.kind === 'manifest-delete' || s.kind === 'tags',
      ),
    ).toBe(0);
    for (const [k, img] of Object.entries(imgs))
      expect(await manifestExists(repo, img.digest), k).toBe(!['old', 'u2'].includes(k));
  });

  it('on ECR an index is one image: its children (untagged to DescribeImages) are neither rows nor pruned as untagged', async () => {
    const repo = 'idx/app';
    await ecr.createRepository(repo);
    const amd = await pushImage(repo, { seed: 'idx-amd', daysAgo: 5, tags: [] });
    const arm = await pushImage(repo, { seed: 'idx-arm', daysAgo: 5, tags: [] });
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: OCI_MANIFEST, digest: amd.digest, size: 400, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: OCI_MANIFEST, digest: arm.digest, size: 400, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      }),
    );
    const put = await fetch(`${reg.url}/v2/${repo}/manifests/multi`, {
      method: 'PUT',
      body: index,
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
    });
    await put.arrayBuffer();
    expect(put.status).toBe(201);
    const r = await cli(['images', '--json', `${E}/${repo}`]);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ tags: string[]; platforms: string[] }>;
    expect(rows).toEqual([expect.objectContaining({ tags: ['multi'], platforms: ['linux/amd64', 'linux/arm64'] })]);
    const p = await cli(['prune', '--dry-run', '--json', '--untagged', `${E}/${repo}`]);
    expect(p.code, p.stderr).toBe(0);
    expect((JSON.parse(p.stdout) as { expire: unknown[] }).expire).toEqual([]);
  });

  it('every refusal is one line', async () => {
    const repo = `${reg.host}/prune/shared`;
    expectRefusal(await cli(['prune', repo]), 2, /prune needs a rule/);
    expectRefusal(
      await cli(['prune', '--keep', '2', '--from-policy', join(work, 'any.json'), repo]),
      2,
      /--from-policy takes its rules from the policy/,
    );
    expectRefusal(
      await cli(['prune', '--from-policy', join(work, 'missing.json'), repo]),
      2,
      /cannot read .*missing\.json: ENOENT/,
    );
    await writeFile(
      join(work, 'badpolicy.json'),
      JSON.stringify({ rules: [{ rulePriority: 1, selection: { tagStatus: 'weird' }, action: { type: 'expire' } }] }),
    );
    expectRefusal(
      await cli(['prune', '--from-policy', join(work, 'badpolicy.json'), repo]),
      2,
      /tagStatus must be tagged, untagged or any/,
    );
    expectRefusal(await cli(['prune', '--keep', 'many', repo]), 2, /--keep takes a whole number/);
    expectRefusal(await cli(['prune', '--older-than', 'ages', repo]), 2, /unreadable duration/);
    expectRefusal(await cli(['prune', '--keep', '1', '--match', '(', repo]), 2, /--match:/);
  });

  it('--older-than 30 (no unit) is refused: it names the units (exit 2)', async () => {
    const r = await cli(['prune', '--dry-run', '--older-than', '30', `${reg.host}/prune/shared`]);
    expectRefusal(r, 2, /--older-than 30: give a unit: s, m, h, d or w \(e\.g\. 30d/);
  });

  it('deleting without a terminal and without --yes is refused (exit 2), naming what would go; nothing is deleted', async () => {
    const repo = 'prune/ask-ci';
    const old = await pushImage(repo, { seed: 'ask-ci-old', daysAgo: 40, tags: ['latest'] });
    const r = await cli(['prune', '--older-than', '30d', `${reg.host}/${repo}`]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /^regctl: prune .* would delete 1 of 1 image \(latest\), and there is no terminal to ask$/m,
    );
    expect(r.stderr).toMatch(/^hint: add --yes/m);
    expect(await manifestExists(repo, old.digest)).toBe(true);
  });

  it('on a terminal, prune lists what is about to go and asks: n keeps everything, y deletes', async () => {
    const repo = 'prune/ask-tty';
    const old = await pushImage(repo, { seed: 'ask-tty-old', daysAgo: 40, tags: ['latest'] });
    const fresh = await pushImage(repo, { seed: 'ask-tty-new', daysAgo: 1, tags: ['v2'] });
    const args = ['prune', '--older-than', '30d', `${reg.host}/${repo}`];
    const no = await runOnPty(args, { env: { HOME: home }, steps: [['\\[y/N\\] ', 'n\r']] });
    expect(no.unanswered).toEqual([]);
    expect(no.code, no.output).toBe(0);
    expect(no.output).toMatch(/About to delete 1 of 2 images in .*prune\/ask-tty:/);
    expect(no.output).toMatch(new RegExp(`latest\\s+${old.digest}`));
    expect(no.output).toMatch(/nothing deleted/);
    expect(await manifestExists(repo, old.digest)).toBe(true);
    const yes = await runOnPty(args, { env: { HOME: home }, steps: [['\\[y/N\\] ', 'y\r']] });
    expect(yes.code, yes.output).toBe(0);
    expect(yes.output).toMatch(new RegExp(`deleted\\s+latest\\s+${old.digest}`));
    expect(await manifestExists(repo, old.digest)).toBe(false);
    expect(await manifestExists(repo, fresh.digest)).toBe(true);
  });
});
