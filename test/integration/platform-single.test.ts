// --platform on a single-platform image: a mismatch fails (exit 1) naming the image's platform, as docker does.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageFixture, makeImageLayout, registryDigest, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

let reg: RegistryHandle;
let work: string;
let image: ImageFixture;

beforeAll(async () => {
  work = await makeTempDir('platform-single');
  reg = await startRegistry();
  const platform = { os: 'linux', architecture: 'amd64' };
  image = await makeImageLayout(join(work, 'img'), { layers: [30_000], seed: 'platform-single', tag: 'v1', platform });
  await seedImage(`oci:${image.dir}:v1`, `${reg.host}/lib/amd:v1`);
});

afterAll(async () => {
  await reg?.stop();
  await removeTempDir(work);
});

describe('--platform on a single-platform image (docker: "does not match the specified platform")', () => {
  it('copy --platform linux/arm64 of an amd64-only image fails naming linux/amd64 and writes nothing', async () => {
    const r = await runCli(['copy', '--platform', 'linux/arm64', `${reg.host}/lib/amd:v1`, `${reg.host}/out/arm:v1`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^regctl: .*linux\/amd64.*does not match the specified platform linux\/arm64/m);
    expect(r.stdout).toBe('');
    expect(await registryDigest(reg.host, 'out/arm', 'v1').catch(() => 'missing')).toBe('missing');
  });

  it('inspect --platform linux/arm64 of an amd64-only image fails naming linux/amd64', async () => {
    const r = await runCli(['inspect', '--platform', 'linux/arm64', `${reg.host}/lib/amd:v1`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^regctl: .*linux\/amd64.*does not match the specified platform linux\/arm64/m);
    expect(r.stdout).toBe('');
  });

  it('the matching --platform still copies and inspects the image', async () => {
    const c = await runCli(['copy', '--platform', 'linux/amd64', `${reg.host}/lib/amd:v1`, `${reg.host}/out/amd:v1`]);
    expect(c.code, c.stderr).toBe(0);
    expect(await registryDigest(reg.host, 'out/amd', 'v1')).toBe(image.manifestDigest);
    const i = await runCli(['inspect', '--json', '--platform', 'linux/amd64', `${reg.host}/lib/amd:v1`]);
    expect(i.code, i.stderr).toBe(0);
    expect(JSON.parse(i.stdout).platform).toBe('linux/amd64');
  });
});
