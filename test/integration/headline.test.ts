// The headline end to end: `regctl copy docker.io/library/alpine:3.20 <ecr-host>/alpine:3.20` through both stand-ins,
// then again.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type EcrHandle, startEcr } from '../support/ecr-api.js';
import { type Hub, startHub } from '../support/hub.js';
import { type IndexFixture, makeIndexLayout, registryDigest, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

const AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDHEADLINE',
  AWS_SECRET_ACCESS_KEY: 'not-a-real-secret',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
};

let hub: Hub;
let backing: RegistryHandle;
let ecr: EcrHandle;
let work: string;
let home: string;
let index: IndexFixture;

beforeAll(async () => {
  work = await makeTempDir('headline-test');
  [hub, backing, index] = await Promise.all([
    startHub({ users: { pusher: 'pw' } }),
    startRegistry(),
    makeIndexLayout(join(work, 'idx'), {
      platforms: ['linux/amd64', 'linux/arm64'],
      layers: [200_000, 40_000],
      seed: 'headline',
      tag: '3.20',
    }),
  ]);
  ecr = await startEcr({ registryUrl: backing.url });
  await seedImage(`oci:${index.dir}:3.20`, `${hub.registry.host}/library/alpine:3.20`, {
    all: true,
    creds: 'pusher:pw',
  });
  home = await makeTempDir('headline-home');
  await mkdir(join(home, '.config', 'regctl'), { recursive: true });
  const hosts = { ...hub.hostsConfig().hosts, [ecr.host]: ecr.hostsEntry() };
  await writeFile(join(home, '.config', 'regctl', 'config.json'), JSON.stringify({ hosts }));
});

afterAll(async () => {
  await Promise.all([hub?.stop(), ecr?.stop()]);
  await backing?.stop();
  await removeTempDir(work);
});

it('copies docker.io/library/alpine:3.20 into an ECR repository that did not exist; the same command again is "up to date" with no blob and no GET', async () => {
  const args = ['copy', 'docker.io/library/alpine:3.20', `${ecr.host}/alpine:3.20`];
  const env = { HOME: home, ...AWS_ENV };
  const pulls = hub.rateLimit.remaining;
  const first = await runCli(args, { env });
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout.trim()).toMatch(new RegExp(`^${ecr.host}/alpine(:3\\.20)?@${index.indexDigest}$`));
  expect(await registryDigest(backing.host, 'alpine', '3.20')).toBe(index.indexDigest);
  expect(ecr.count('CreateRepository')).toBe(1);
  expect(ecr.count('GetAuthorizationToken')).toBe(1);
  expect(hub.cdn.log.length).toBeGreaterThan(0);
  expect(hub.cdn.log.filter((c) => c.authorization !== undefined)).toEqual([]);
  const blobsSent = ecr.front.count((s) => s.kind === 'upload' && s.method === 'PATCH');
  expect(blobsSent).toBe(index.images.reduce((n, i) => n + i.layerDigests.length + 1, 0));
  // Created before its first upload (ECR hangs up on a POST into a missing repository), every blob committed by its
  // PUT (ECR answers each PATCH 201 and stores nothing until then), no manifest refused.
  expect(ecr.front.count((s) => s.kind === 'upload' && s.status === 0)).toBe(0);
  expect(ecr.front.count((s) => s.kind === 'upload' && s.method === 'PUT' && s.status === 201)).toBe(blobsSent);
  expect(ecr.front.count((s) => s.kind === 'manifest-put' && s.status >= 400)).toBe(0);
  expect(hub.rateLimit.remaining).toBeLessThan(pulls);

  hub.front.reset();
  ecr.front.reset();
  const cdnBefore = hub.cdn.log.length;
  const pullsBefore = hub.rateLimit.remaining;
  const again = await runCli(args, { env });
  expect(again.code, again.stderr).toBe(0);
  expect(again.stdout.trim()).toBe(first.stdout.trim());
  expect(again.stderr).toMatch(/up to date/);
  expect(hub.front.count((s) => s.method === 'GET' && s.kind !== 'ping')).toBe(0);
  expect(ecr.front.count((s) => s.method === 'GET' && s.kind !== 'ping')).toBe(0);
  expect(ecr.front.count(['upload', 'mount', 'manifest-put', 'blob-head'])).toBe(0);
  expect(ecr.front.stats.reduce((n, s) => n + s.bytesIn, 0)).toBe(0);
  expect(hub.cdn.log.length).toBe(cdnBefore);
  expect(hub.rateLimit.remaining).toBe(pullsBefore);
  expect(ecr.count('GetAuthorizationToken')).toBe(1);
  expect(ecr.count('CreateRepository')).toBe(1);
});
