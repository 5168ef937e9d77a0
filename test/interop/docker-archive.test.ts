// Tarballs between regctl and Docker Engine (dockerd 20.10): `regctl pull` → `docker load`,
// `docker save` → `regctl push`.
//
// Not covered, because docker 20.10 cannot: `docker load` of an OCI archive without docker's manifest.json
// (`regctl pull --format oci-archive`) needs Docker 25; 20.10 answers `open …/blobs/json: no such file or directory`.
// And `docker save` of 20.10 writes only the classic layout: the Docker 25 OCI-in-tar layout is read from the tars
// that test/transports/local.test.ts builds instead.
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
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

let d: DockerHandle;
let reg: RegistryHandle;
let reg2: RegistryHandle;
let work: string;
let bb: BusyboxFixture;

async function regctl(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await runCli(args);
  if (r.code !== 0) throw new Error(`regctl ${args.join(' ')} exited ${r.code}\n${r.stderr}`);
  return r;
}

/** `docker build` (classic builder: no RUN, so vfs is enough) of a busybox image with `extra` Dockerfile lines. */
async function dockerBuild(tag: string, extra: string): Promise<string> {
  const ctx = await makeTempDir('dk-ctx');
  try {
    const cmd = `CMD ["/bin/busybox", "echo", "${BUSYBOX_GREETING}"]`;
    await makeBusyboxContext(ctx, `FROM scratch\nCOPY bin/busybox /bin/busybox\n${extra}\n${cmd}\n`);
    return (await d.docker(['build', '-q', '-t', tag, ctx])).stdout.trim();
  } finally {
    await removeTempDir(ctx);
  }
}

describeDocker('docker-archive between regctl and docker', () => {
  beforeAll(async () => {
    work = await makeTempDir('dk-archive');
    [d, reg, reg2, bb] = await Promise.all([
      startDocker(),
      startRegistry(),
      startRegistry(),
      makeBusyboxLayout(join(work, 'bb'), { tag: 'v1' }),
    ]);
    await regctl(['push', `oci:${bb.dir}:v1`, `${reg.host}/lib/bb:v1`]);
  });
  afterAll(async () => {
    await d?.stop();
    await reg?.stop();
    await reg2?.stop();
    await removeTempDir(work);
  });

  it('regctl pull to a .tar, docker load: image ID = config digest, the tag the one asked for, and it runs', async () => {
    const tar = join(d.dir, 'pulled.tar');
    await regctl(['pull', `${reg.host}/lib/bb:v1`, tar]);
    const loaded = await d.docker(['load', '-i', tar]);
    expect(loaded.stdout.trim()).toBe(`Loaded image: ${reg.host}/lib/bb:v1`);
    const img = await d.inspectImage(`${reg.host}/lib/bb:v1`);
    expect(img?.Id).toBe(bb.configDigest);
    expect(img?.RepoTags).toEqual([`${reg.host}/lib/bb:v1`]);
    const ran = await d.docker(['run', '--rm', '--network', 'none', `${reg.host}/lib/bb:v1`]);
    expect(ran.stdout.trim()).toBe(BUSYBOX_GREETING);

    // A name given in the destination is the tag docker loads; docker.io names load in docker's short form.
    const named = join(d.dir, 'named.tar');
    await regctl(['copy', `${reg.host}/lib/bb:v1`, `docker-archive:${named}:docker.io/library/myapp:v9`]);
    expect((await d.docker(['load', '-i', named])).stdout.trim()).toBe('Loaded image: myapp:v9');
    expect((await d.inspectImage('myapp:v9'))?.Id).toBe(bb.configDigest);
  });

  it('regctl pull of a multi-platform index to a .tar: docker loads the host platform image', async () => {
    const host = hostPlatform();
    const other = host.architecture === 'arm64' ? 'linux/amd64' : 'linux/arm64';
    const idx = await makeIndexLayout(join(work, 'idx'), {
      layers: [2000],
      seed: 'dk-archive-multi',
      tag: 'm',
      gzipLevel: 6,
      platforms: [other, `linux/${host.architecture}`],
    });
    await regctl(['push', `oci:${idx.dir}:m`, `${reg.host}/lib/multi:m`]);
    const tar = join(d.dir, 'multi.tar');
    await regctl(['pull', `${reg.host}/lib/multi:m`, tar]);
    expect((await d.docker(['load', '-i', tar])).stdout.trim()).toBe(`Loaded image: ${reg.host}/lib/multi:m`);
    const img = await d.inspectImage(`${reg.host}/lib/multi:m`);
    expect(img?.Id).toBe(idx.images.find((i) => i.platform.architecture === host.architecture)!.configDigest);
    expect(img?.Architecture).toBe(host.architecture);
  });

  it('docker save of one image, regctl push: docker pull of the pushed tag gets the same image ID, which runs', async () => {
    const id = await dockerBuild('saved/one:1', 'LABEL org.example.saved=one');
    const tar = join(d.dir, 'one.tar');
    await d.docker(['save', '-o', tar, 'saved/one:1']);
    const pushed = (await regctl(['push', tar, `${reg.host}/lib/one:1`])).stdout.trim();
    await d.docker(['rmi', 'saved/one:1']);
    expect(await d.inspectImage(id)).toBeUndefined();
    const pulled = await d.docker(['pull', `${reg.host}/lib/one:1`]);
    expect(pushed).toBe(`${reg.host}/lib/one:1@${/Digest: (\S+)/.exec(pulled.stdout)?.[1]}`);
    const img = await d.inspectImage(`${reg.host}/lib/one:1`);
    expect(img?.Id).toBe(id);
    expect(img?.Config.Labels).toEqual({ 'org.example.saved': 'one' });
    const ran = await d.docker(['run', '--rm', '--network', 'none', `${reg.host}/lib/one:1`]);
    expect(ran.stdout.trim()).toBe(BUSYBOX_GREETING);
  });

  it('docker save of several images in one tar: regctl inspect lists them, and each pushes by its name', async () => {
    const idA = await dockerBuild('many/a:1', 'LABEL which=a');
    const idB = await dockerBuild('many/b:2', 'LABEL which=b');
    const tar = join(d.dir, 'many.tar');
    await d.docker(['save', '-o', tar, 'many/a:1', 'many/b:2']);

    const listed = await regctl(['inspect', `docker-archive:${tar}`]);
    expect(listed.stdout).toContain('Images:      2');
    expect(listed.stdout).toMatch(new RegExp(`many/a:1\\s+${idA}`));
    expect(listed.stdout).toMatch(new RegExp(`many/b:2\\s+${idB}`));
    type Listing = { images: Array<{ names: string[]; id: string }> };
    const json = JSON.parse((await regctl(['inspect', '--json', tar])).stdout) as Listing;
    // docker 20.10 writes manifest.json in map order (random), so compare as a set.
    expect(json.images.map((i) => [i.names, i.id]).sort()).toEqual([
      [['many/a:1'], idA],
      [['many/b:2'], idB],
    ]);

    await regctl(['push', `docker-archive:${tar}:many/b:2`, `${reg.host}/lib/b:2`]);
    await d.docker(['rmi', 'many/b:2']);
    await d.docker(['pull', `${reg.host}/lib/b:2`]);
    const img = await d.inspectImage(`${reg.host}/lib/b:2`);
    expect(img?.Id).toBe(idB);
    expect(img?.Config.Labels).toEqual({ which: 'b' });
    const ran = await d.docker(['run', '--rm', '--network', 'none', `${reg.host}/lib/b:2`]);
    expect(ran.stdout.trim()).toBe(BUSYBOX_GREETING);
  });

  it('docker build and docker push, regctl copy to another registry, docker pull there: identical digest', async () => {
    const src = `${reg.host}/built/app:1`;
    const id = await dockerBuild(src, 'LABEL org.example.built=docker\nENV MODE=prod\nWORKDIR /srv');
    const pushed = await d.docker(['push', src]);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1];
    expect(digest, pushed.stdout).toBeDefined();
    const copied = await regctl(['copy', src, `${reg2.host}/mirror/app:1`]);
    expect(copied.stdout.trim()).toBe(`${reg2.host}/mirror/app:1@${digest}`);
    const pulled = await d.docker(['pull', `${reg2.host}/mirror/app:1`]);
    expect(pulled.stdout).toContain(`Digest: ${digest}`);
    const img = await d.inspectImage(`${reg2.host}/mirror/app:1`);
    expect(img?.Id).toBe(id);
    expect(img?.RepoDigests).toContain(`${reg2.host}/mirror/app@${digest}`);
  });
});
