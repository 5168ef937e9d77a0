// Pushing a classic `docker save` (uncompressed layers, gzipped on push) again sends no blob bytes: the destination
// already names the same config, whose diff_ids are the archive's layers, so it is up to date with nothing compressed.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, registryDigest, seedImage, skopeo } from '../support/images.js';
import type { RegistryHandle } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';
import { type ProxiedRegistry, startProxiedRegistry } from '../support/proxied.js';

let reg: RegistryHandle;
let proxy: FaultProxy;
let env: ProxiedRegistry;
let work: string;
let image: ImageFixture;
let tar: string;

beforeAll(async () => {
  env = await startProxiedRegistry('classic-repush');
  ({ work, reg, proxy } = env);
  image = await makeImageLayout(join(work, 'img'), { layers: [120_000, 60_000], seed: 'classic-repush', tag: 'v1' });
  await seedImage(`oci:${image.dir}:v1`, `${reg.host}/lib/app:v1`);
  tar = join(work, 'classic.tar');
  // skopeo writes the classic `docker save` layout: uncompressed layer tars named by the config's diff_ids.
  const from = `docker://${reg.host}/lib/app:v1`;
  await skopeo(['copy', '--src-tls-verify=false', from, `docker-archive:${tar}:lib/app:v1`]);
});

afterAll(async () => {
  await env?.stop();
});

describe('a classic docker save pushed again', () => {
  it('is up to date: no upload, no blob bytes, same digest', async () => {
    const first = await runCli(['push', tar, `${proxy.host}/classic/app:v1`]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/gzipped/);
    const digest = first.stdout.trim().split('@')[1];
    expect(await registryDigest(reg.host, 'classic/app', 'v1')).toBe(digest);

    proxy.reset();
    const again = await runCli(['push', tar, `${proxy.host}/classic/app:v1`]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe(first.stdout.trim());
    expect(again.stderr).toMatch(/up to date/);
    expect(again.stderr).not.toMatch(/gzipped|blobs? sent/);
    expect(proxy.count('upload')).toBe(0);
    expect(proxy.count(['blob-head', 'blob-get'])).toBe(0);
    expect(proxy.count('manifest-put')).toBe(0);
    expect(proxy.bytes((r) => r.method !== 'GET' && r.method !== 'HEAD')).toBe(0);
  });

  it('the same image held compressed from elsewhere (same config and diff_ids) is up to date too', async () => {
    await seedImage(`oci:${image.dir}:v1`, `${reg.host}/classic/orig:v1`);
    proxy.reset();
    const r = await runCli(['push', tar, `${proxy.host}/classic/orig:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${proxy.host}/classic/orig:v1@${image.manifestDigest}`);
    expect(proxy.count('upload')).toBe(0);
  });

  it('a destination holding another image under the tag is still written', async () => {
    const other = await makeImageLayout(join(work, 'other'), { layers: [50_000], seed: 'classic-other', tag: 'v1' });
    await seedImage(`oci:${other.dir}:v1`, `${reg.host}/classic/other:v1`);
    const r = await runCli(['push', tar, `${proxy.host}/classic/other:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/gzipped/);
    expect(await registryDigest(reg.host, 'classic/other', 'v1')).toBe(r.stdout.trim().split('@')[1]);
  });
});
