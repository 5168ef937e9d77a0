// Registries that never delete through the registry API (Docker Hub, GHCR): rm names their own way, not storage.delete.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Ghcr, startGhcr } from '../support/ghcr.js';
import { type Hub, startHub } from '../support/hub.js';
import { type ImageFixture, makeImageLayout, registryDigest, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { runCli } from '../support/run-cli.js';

let hub: Hub;
let ghcr: Ghcr;
let work: string;
let home: string;
let image: ImageFixture;

beforeAll(async () => {
  work = await makeTempDir('delete-hints');
  [hub, ghcr, image] = await Promise.all([
    startHub({ users: { owner: 'pw' } }),
    startGhcr(),
    makeImageLayout(join(work, 'img'), { layers: [20_000], seed: 'delete-hints', tag: 'v1' }),
  ]);
  await seedImage(`oci:${image.dir}:v1`, `${hub.registry.host}/owner/app:v1`, { creds: 'owner:pw' });
  await seedImage(`oci:${image.dir}:v1`, `${ghcr.registry.host}/owner/app:v1`);
  home = await makeTempDir('delete-hints-home');
  await mkdir(join(home, '.config', 'regctl'), { recursive: true });
  const hosts = { ...hub.hostsConfig().hosts, ...ghcr.hostsConfig().hosts };
  await writeFile(join(home, '.config', 'regctl', 'config.json'), JSON.stringify({ hosts }));
});

afterAll(async () => {
  await Promise.all([hub?.stop(), ghcr?.stop()]);
  await removeTempDir(work);
  await removeTempDir(home);
});

const hintOf = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('hint:'));

it.each([
  [
    'docker.io/owner/app:v1',
    ['--creds', 'owner:pw'],
    /^hint: Docker Hub does not delete through the registry API: .*hub\.docker\.com/,
  ],
  ['ghcr.io/owner/app:v1', [], /^hint: GHCR does not delete through the registry API: .*GitHub Packages API/],
])('rm %s: the 405 says how that registry deletes, not storage.delete.enabled', async (ref, extra, hint) => {
  const r = await runCli(['rm', ...extra, ref], { env: { HOME: home } });
  expect(r.code).toBe(1);
  expect(r.stderr.split('\n').filter((l) => l.startsWith('regctl:'))).toEqual([
    expect.stringMatching(/405 method not allowed/),
  ]);
  expect(hintOf(r.stderr)).toEqual([expect.stringMatching(hint)]);
  expect(r.stderr).not.toMatch(/storage\.delete|deletion enabled/);
  const backing = ref.startsWith('ghcr') ? ghcr.registry.host : hub.registry.host;
  expect(
    await registryDigest(
      backing,
      'owner/app',
      'v1',
      ref.startsWith('ghcr') ? undefined : { username: 'owner', password: 'pw' },
    ),
  ).toBe(image.manifestDigest);
});
