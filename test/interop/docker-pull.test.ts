// Docker Engine (dockerd 20.10) pulls what regctl pushed, copied and mutated: same digests, the config regctl wrote.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  BUSYBOX_GREETING,
  type BusyboxFixture,
  type DockerHandle,
  describeDocker,
  hostPlatform,
  makeBusyboxContext,
  makeBusyboxLayout,
  startDocker,
} from '../support/docker.js';
import { makeIndexLayout } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, registryDigest, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

let d: DockerHandle;
let reg: RegistryHandle;
let work: string;
let bb: BusyboxFixture;

/** regctl ARGS, which must succeed: its stdout `ref@digest` line → the digest. */
async function regctl(args: string[]): Promise<string> {
  const r = await runCli(args);
  expect(r.stderr + r.stdout, `regctl ${args.join(' ')}`).toMatch(/@sha256:/);
  expect(r.code).toBe(0);
  return /@(sha256:[0-9a-f]{64})/.exec(r.stdout)![1];
}

describeDocker('docker pulls what regctl writes', () => {
  beforeAll(async () => {
    work = await makeTempDir('dk-pull');
    [d, reg, bb] = await Promise.all([
      startDocker(),
      startRegistry(),
      makeBusyboxLayout(join(work, 'bb'), { tag: 'v1', config: { Labels: { 'org.example.from': 'fixture' } } }),
    ]);
  });
  afterAll(async () => {
    await d?.stop();
    await reg?.stop();
    await removeTempDir(work);
  });

  it('regctl push, then docker pull of the tag and of the digest: the digest regctl printed, and it runs', async () => {
    const ref = `${reg.host}/lib/bb:v1`;
    const digest = await regctl(['push', `oci:${bb.dir}:v1`, ref]);
    expect(digest).toBe(bb.manifestDigest);
    const pulled = await d.docker(['pull', ref]);
    expect(pulled.stdout).toContain(`Digest: ${digest}`);
    const byTag = await d.inspectImage(ref);
    expect(byTag?.Id).toBe(bb.configDigest);
    expect(byTag?.RepoDigests).toContain(`${reg.host}/lib/bb@${digest}`);
    await d.docker(['rmi', ref]);
    await d.docker(['pull', `${reg.host}/lib/bb@${digest}`]);
    expect((await d.inspectImage(`${reg.host}/lib/bb@${digest}`))?.Id).toBe(bb.configDigest);
    const ran = await d.docker(['run', '--rm', '--network', 'none', `${reg.host}/lib/bb@${digest}`]);
    expect(ran.stdout.trim()).toBe(BUSYBOX_GREETING);
  });

  it('regctl copy between repositories, then docker pull: identical digest and image ID', async () => {
    await regctl(['push', `oci:${bb.dir}:v1`, `${reg.host}/lib/src:v1`]);
    const digest = await regctl(['copy', `${reg.host}/lib/src:v1`, `${reg.host}/other/dst:copied`]);
    expect(digest).toBe(bb.manifestDigest);
    const pulled = await d.docker(['pull', `${reg.host}/other/dst:copied`]);
    expect(pulled.stdout).toContain(`Digest: ${digest}`);
    expect((await d.inspectImage(`${reg.host}/other/dst:copied`))?.Id).toBe(bb.configDigest);
  });

  it('regctl mutate: docker image inspect shows the labels, env, entrypoint, cmd, user, workdir regctl wrote', async () => {
    await regctl(['push', `oci:${bb.dir}:v1`, `${reg.host}/lib/mut:v1`]);
    const digest = await regctl([
      'mutate',
      `${reg.host}/lib/mut:v1`,
      '-t',
      `${reg.host}/lib/mut:v2`,
      '--label',
      'org.opencontainers.image.revision=abc123',
      '--env',
      'GREETING=hi there',
      '--entrypoint',
      '["/bin/busybox","sh","-c"]',
      '--cmd',
      '["echo \\"$GREETING\\" from $(pwd) as $(id -u)"]',
      '--workdir',
      '/bin',
      '--user',
      '1234:5678',
    ]);
    expect(digest).toBe(await registryDigest(reg.host, 'lib/mut', 'v2'));
    const pulled = await d.docker(['pull', `${reg.host}/lib/mut:v2`]);
    expect(pulled.stdout).toContain(`Digest: ${digest}`);
    const img = await d.inspectImage(`${reg.host}/lib/mut:v2`);
    expect(img?.Config.Labels).toEqual({
      'org.example.from': 'fixture',
      'org.opencontainers.image.revision': 'abc123',
    });
    expect(img?.Config.Env).toEqual(['PATH=/bin', 'GREETING=hi there']);
    expect(img?.Config.Entrypoint).toEqual(['/bin/busybox', 'sh', '-c']);
    expect(img?.Config.Cmd).toEqual(['echo "$GREETING" from $(pwd) as $(id -u)']);
    expect(img?.Config.User).toBe('1234:5678');
    expect(img?.Config.WorkingDir).toBe('/bin');
    // regctl inspect shows the same.
    const ours = JSON.parse((await runCli(['inspect', '--json', `${reg.host}/lib/mut:v2`])).stdout) as object;
    expect(ours).toMatchObject({
      configDigest: img?.Id,
      labels: img?.Config.Labels,
      env: img?.Config.Env,
      entrypoint: img?.Config.Entrypoint,
      cmd: img?.Config.Cmd,
      user: img?.Config.User,
      workingDir: img?.Config.WorkingDir,
    });
    const ran = await d.docker(['run', '--rm', '--network', 'none', `${reg.host}/lib/mut:v2`]);
    expect(ran.stdout.trim()).toBe('hi there from /bin as 1234');
  });

  it('a multi-platform index regctl pushed: docker pulls the host platform child, index digest kept', async () => {
    const host = hostPlatform();
    const other = host.architecture === 'arm64' ? 'linux/amd64' : 'linux/arm64';
    const idx = await makeIndexLayout(join(work, 'idx'), {
      layers: [3000],
      seed: 'dk-multi',
      tag: 'multi',
      platforms: [other, `linux/${host.architecture}`],
      gzipLevel: 6,
    });
    const digest = await regctl(['push', `oci:${idx.dir}:multi`, `${reg.host}/lib/multi:m`]);
    expect(digest).toBe(idx.indexDigest);
    const pulled = await d.docker(['pull', `${reg.host}/lib/multi:m`]);
    expect(pulled.stdout).toContain(`Digest: ${digest}`);
    const img = await d.inspectImage(`${reg.host}/lib/multi:m`);
    const child = idx.images.find((i) => i.platform.architecture === host.architecture)!;
    expect(img?.Id).toBe(child.configDigest);
    expect(img?.Architecture).toBe(host.architecture);
    expect(img?.RepoDigests).toContain(`${reg.host}/lib/multi@${digest}`);
  });
  it('regctl tag, docker pull of the new tag: same digest, = regctl digest; inspect --raw = manifest inspect', async () => {
    // Docker media types: `docker manifest inspect` of 20.10 does not accept OCI manifests, and distribution answers
    // such a GET with MANIFEST_UNKNOWN ("OCI manifest found, but accept header does not support OCI manifests").
    const dbb = await makeBusyboxLayout(join(work, 'dbb'), { tag: 'v1', mediaTypes: 'docker' });
    await regctl(['push', `oci:${dbb.dir}:v1`, `${reg.host}/lib/tagged:v1`]);
    const r = await runCli(['tag', `${reg.host}/lib/tagged:v1`, 'stable']);
    expect(r.code, r.stderr).toBe(0);
    const pulled = await d.docker(['pull', `${reg.host}/lib/tagged:stable`]);
    expect(pulled.stdout).toContain(`Digest: ${dbb.manifestDigest}`);
    expect((await runCli(['digest', `${reg.host}/lib/tagged:stable`])).stdout.trim()).toBe(dbb.manifestDigest);
    const theirs = await d.docker(['manifest', 'inspect', '--insecure', `${reg.host}/lib/tagged:stable`]);
    const ours = await runCli(['inspect', '--raw', `${reg.host}/lib/tagged:stable`]);
    expect(JSON.parse(ours.stdout)).toEqual(JSON.parse(theirs.stdout));
  });

  it('regctl mutate of an image docker built and pushed (Docker media types): it runs with the new config', async () => {
    const ctx = join(work, 'ctx');
    const dockerfile = 'FROM scratch\nCOPY bin/busybox /bin/busybox\nENV A=1\nENTRYPOINT ["/bin/busybox"]\n';
    await makeBusyboxContext(ctx, dockerfile);
    const src = `${reg.host}/lib/dbuilt:1`;
    await d.docker(['build', '-q', '-t', src, ctx]);
    await d.docker(['push', src]);
    const digest = await regctl([
      'mutate',
      src,
      '-t',
      `${reg.host}/lib/dbuilt:2`,
      '--env',
      'B=2',
      '--user',
      '4321',
      '--workdir',
      '/bin',
      '--cmd',
      '["sh","-c","echo $A$B $(id -u) $(pwd)"]',
    ]);
    const pulled = await d.docker(['pull', `${reg.host}/lib/dbuilt:2`]);
    expect(pulled.stdout).toContain(`Digest: ${digest}`);
    const ran = await d.docker(['run', '--rm', '--network', 'none', `${reg.host}/lib/dbuilt:2`]);
    expect(ran.stdout.trim()).toBe('12 4321 /bin');
  });

  it('regctl copy --platform of one platform of an index: docker pulls exactly that image', async () => {
    const host = hostPlatform();
    const other = host.architecture === 'arm64' ? 'linux/amd64' : 'linux/arm64';
    const idx = await makeIndexLayout(join(work, 'idx1'), {
      layers: [1000],
      seed: 'dk-one',
      tag: 'multi',
      gzipLevel: 6,
      mediaTypes: 'docker',
      platforms: [other, `linux/${host.architecture}`],
    });
    const child = idx.images.find((i) => i.platform.architecture === host.architecture)!;
    const platform = `linux/${host.architecture}`;
    const digest = await regctl(['copy', '--platform', platform, `oci:${idx.dir}:multi`, `${reg.host}/lib/one:p`]);
    expect(digest).toBe(child.manifestDigest);
    const pulled = await d.docker(['pull', `${reg.host}/lib/one:p`]);
    expect(pulled.stdout).toContain(`Digest: ${child.manifestDigest}`);
    expect((await d.inspectImage(`${reg.host}/lib/one:p`))?.Id).toBe(child.configDigest);
  });
});
