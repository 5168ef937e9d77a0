// regctl build against a real registry: every instruction, files/modes/owners as umoci unpacks them, base layers never
// downloaded nor re-uploaded, reproducible digests, nothing uploaded on a re-build, refusals; interop with
// skopeo/oci-image-tool.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FsEntry, listTree, makeContext, run } from '../support/build-fixtures.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, seedImage, skopeo } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, registryDigest, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

let reg: RegistryHandle;
let other: RegistryHandle;
let proxy: FaultProxy;
let work: string;
let ctxDir: string;
let base: ImageFixture;
let R: string;
let builtDigest: string;

const DOCKERFILE = `# syntax=docker/dockerfile:1
# escape=\\
ARG REG
ARG BASE_REPO=base/single
FROM \${REG}/\${BASE_REPO}:v1 AS main
ARG VERSION=1.0
ENV APP_HOME=/app \\
    APP_VERSION=\${VERSION}
LABEL org.opencontainers.image.version="\${APP_VERSION}" com.example.team=infra
WORKDIR $APP_HOME
COPY --chown=1000:1000 app/ ./
COPY --chmod=0600 config.json /etc/app/
COPY bin/tool-* /usr/local/bin/
ADD notes.txt docs/
ADD bundle.tar.gz /opt/bundle/
COPY . /ctx/
USER 1000:1000
EXPOSE 8080 9090/udp
VOLUME ["/data"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["/usr/local/bin/tool-a", "health"]
SHELL ["/bin/bash", "-c"]
ENTRYPOINT ["/usr/local/bin/tool-a"]
CMD serve --port 8080
ONBUILD COPY . /onbuild/
MAINTAINER team@example.com

FROM scratch AS extra
COPY extra.txt /extra.txt

FROM main
COPY --from=extra /extra.txt /srv/extra.txt
`;

beforeAll(async () => {
  work = await makeTempDir('build-test');
  [reg, other] = await Promise.all([startRegistry(), startRegistry()]);
  proxy = await startFaultProxy(reg.url);
  R = proxy.host;
  ctxDir = join(work, 'ctx');
  await makeContext(ctxDir);
  await writeFile(join(ctxDir, 'Dockerfile'), DOCKERFILE);
  base = await makeImageLayout(join(work, 'base'), { layers: [150_000, 80_000], seed: 'build-base', tag: 'v1' });
  await seedImage(`oci:${base.dir}:v1`, `${reg.host}/base/single:v1`);
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([reg?.stop(), other?.stop()]);
  await removeTempDir(work);
});

const baseBlobs = () => new Set(base.layerDigests);
/** regctl build with one user cache for the file (base layers' directory indexes are kept there). */
const buildCli = (args: string[]) => runCli(['build', ...args], { env: { XDG_CACHE_HOME: join(work, 'cache') } });

describe('regctl build into a registry', () => {
  it('builds a Dockerfile using every supported instruction, mounting the base layers, reading each once for its index', async () => {
    proxy.reset();
    const r = await buildCli([
      '--build-arg',
      `REG=${R}`,
      '--label',
      'org.opencontainers.image.revision=abc',
      '-t',
      `${R}/built/app:v1`,
      ctxDir,
    ]);
    expect(r.stderr).not.toMatch(/regctl:/);
    expect(r.code).toBe(0);
    const m = /^(\S+)@(sha256:[a-f0-9]{64})$/.exec(r.stdout.trim());
    expect(m?.[1]).toBe(`${R}/built/app:v1`);
    builtDigest = m![2];
    expect(await registryDigest(reg.host, 'built/app', 'v1')).toBe(builtDigest);
    expect(r.stderr).toMatch(/^\[1\/\d+\] FROM /m);
    expect(r.stderr).toMatch(/COPY --chown=1000:1000 app\/ \.\/: 3 files, .* → layer [a-f0-9]{12} \(/);
    // The base layers: one GET each (their directory index, for where COPY lands), no upload; mounted from base/single.
    const base = baseBlobs();
    for (const d of base) expect(proxy.count((q) => q.kind === 'blob-get' && q.ref === d)).toBe(1);
    expect(proxy.count((q) => q.kind === 'upload' && [...base].some((d) => q.query.get('digest') === d))).toBe(0);
    expect(proxy.count((q) => q.kind === 'mount' && base.has(q.ref ?? ''))).toBe(base.size);
    expect(proxy.count((q) => q.kind === 'mount' && !base.has(q.ref ?? ''))).toBe(0);
    // The repository was empty: the new layers went up while they were written, each once.
    expect(r.stderr).toMatch(/: layer [a-f0-9]{12} \(.*\) sent while it was written/);
    const puts = proxy.stats
      .filter((q) => q.kind === 'upload' && q.method === 'PUT')
      .map((q) => new URLSearchParams(q.query).get('digest'));
    expect(new Set(puts).size).toBe(puts.length);
  });

  it('writes a config with the env, labels, entrypoint, cmd, workdir, user, ports and the rest', async () => {
    const r = await runCli(['inspect', '--config', `${reg.host}/built/app:v1`]);
    expect(r.code).toBe(0);
    const cfg = JSON.parse(r.stdout);
    const c = cfg.config;
    expect(c.Env).toEqual(['PATH=/usr/local/bin:/usr/bin:/bin', 'APP_HOME=/app', 'APP_VERSION=1.0']);
    expect(c.Labels).toEqual({
      'org.regctl.test.seed': 'build-base',
      'org.opencontainers.image.version': '1.0',
      'com.example.team': 'infra',
      'org.opencontainers.image.revision': 'abc',
    });
    expect(c.Entrypoint).toEqual(['/usr/local/bin/tool-a']);
    expect(c.Cmd).toEqual(['/bin/bash', '-c', 'serve --port 8080']);
    expect(c.WorkingDir).toBe('/app');
    expect(c.User).toBe('1000:1000');
    expect(c.ExposedPorts).toEqual({ '8080/tcp': {}, '9090/udp': {} });
    expect(c.Volumes).toEqual({ '/data': {} });
    expect(c.StopSignal).toBe('SIGINT');
    expect(c.Healthcheck).toEqual({
      Test: ['CMD', '/usr/local/bin/tool-a', 'health'],
      Interval: 30e9,
      Timeout: 5e9,
      Retries: 3,
    });
    expect(c.Shell).toEqual(['/bin/bash', '-c']);
    expect(c.OnBuild).toEqual(['COPY . /onbuild/']);
    expect(cfg.author).toBe('team@example.com');
    expect(cfg.created).toBe('1970-01-01T00:00:00Z');
    expect(cfg.rootfs.diff_ids.slice(0, 2)).toEqual(base.diffIds);
    // Seven COPY/ADD layers and WORKDIR's, which made /app.
    expect(cfg.rootfs.diff_ids).toHaveLength(2 + 8);
    expect(cfg.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer)).toHaveLength(2 + 8);
  });

  it('holds exactly the context’s files with the asked modes and owners (umoci unpack), and passes oci-image-tool validate', async () => {
    const layout = join(work, 'layout');
    await skopeo(['copy', '--src-tls-verify=false', `docker://${reg.host}/built/app:v1`, `oci:${layout}:v1`]);
    await run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=v1', layout]);
    const bundle = join(work, 'bundle');
    await run('umoci', ['unpack', '--image', `${layout}:v1`, bundle]);
    const tree = await listTree(join(bundle, 'rootfs'));
    const leaves = [...tree]
      .filter(([, e]) => e.type !== 'dir')
      .map(([p]) => p)
      .sort();
    const ctxFiles = [
      '.dockerignore',
      'Dockerfile',
      'app/current',
      'app/lib/util.js',
      'app/run.sh',
      'app/server.js',
      'bin/readme.md',
      'bin/tool-a',
      'bin/tool-b',
      'bundle.tar.gz',
      'config.json',
      'extra.txt',
      'notes.txt',
      'secret/public.pem',
    ];
    expect(leaves).toEqual(
      [
        'app/current',
        'app/docs/notes.txt',
        'app/lib/util.js',
        'app/run.sh',
        'app/server.js',
        'etc/app/config.json',
        'layer-0.bin',
        'layer-1.bin',
        'opt/bundle/share/data.txt',
        'srv/extra.txt',
        'usr/local/bin/tool-a',
        'usr/local/bin/tool-b',
        ...ctxFiles.map((f) => `ctx/${f}`),
      ].sort(),
    );
    const at = (p: string): FsEntry => tree.get(p)!;
    const own = (p: string) => [at(p).uid, at(p).gid, at(p).mode.toString(8)];
    expect(own('app/server.js')).toEqual([1000, 1000, '644']);
    expect(own('app/run.sh')).toEqual([1000, 1000, '755']);
    expect(own('app/lib/util.js')).toEqual([1000, 1000, '600']);
    expect(own('app/lib')).toEqual([1000, 1000, '755']);
    // WORKDIR made /app (root's, as Docker's builder makes it); COPY into it keeps its owner.
    expect(own('app')).toEqual([0, 0, '755']);
    expect(at('app/current')).toMatchObject({ type: 'symlink', target: 'server.js', uid: 1000 });
    expect(own('etc/app/config.json')).toEqual([0, 0, '600']);
    expect(own('usr/local/bin/tool-a')).toEqual([0, 0, '755']);
    expect(own('opt/bundle/share/data.txt')).toEqual([33, 33, '644']);
    expect(own('ctx/app/run.sh')).toEqual([0, 0, '755']);
    expect(await readFile(join(bundle, 'rootfs/srv/extra.txt'), 'utf8')).toBe('extra\n');
    expect(await readFile(join(bundle, 'rootfs/ctx/secret/public.pem'), 'utf8')).toBe('re-included\n');
  });

  it('gives the same digest on a re-build, which uploads nothing', async () => {
    proxy.reset();
    const r = await buildCli([
      '--build-arg',
      `REG=${R}`,
      '--label',
      'org.opencontainers.image.revision=abc',
      '-t',
      `${R}/built/app:v1`,
      ctxDir,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${R}/built/app:v1@${builtDigest}`);
    expect(proxy.count('upload')).toBe(0);
    // Only configs are read (the base's, to extend it; the destination's, for its layers' diffIDs), never a layer:
    // the layers' tars hash the same as the destination's, so they were not even compressed again.
    const m = (await (
      await fetch(`${reg.url}/v2/built/app/manifests/v1`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      })
    ).json()) as { config: { digest: string }; layers: Array<{ digest: string }> };
    expect(
      proxy.stats
        .filter((q) => q.kind === 'blob-get')
        .map((q) => q.ref)
        .sort(),
    ).toEqual([base.configDigest, m.config.digest].sort());
    expect(r.stderr).toMatch(/already at the destination/);
    expect(proxy.bytes(['upload', 'manifest-put'])).toBe(0);
    // Into another repository: the same digest again (nothing host- or time-dependent went in).
    const again = await buildCli([
      '--json',
      '--build-arg',
      `REG=${R}`,
      '--label',
      'org.opencontainers.image.revision=abc',
      ctxDir,
    ]);
    expect(JSON.parse(again.stdout).digest).toBe(builtDigest);
  });

  it('a new tag in a repository that holds the layers sends none of them again', async () => {
    proxy.reset();
    const r = await buildCli([
      '--build-arg',
      `REG=${R}`,
      '--label',
      'org.opencontainers.image.revision=abc',
      '-t',
      `${R}/built/app:v2`,
      ctxDir,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${R}/built/app:v2@${builtDigest}`);
    expect(proxy.count('upload')).toBe(0);
    expect(r.stderr).not.toMatch(/sent while it was written/);
  });

  it('after one file changed, compresses and sends only the layers that hold it', async () => {
    const notes = join(ctxDir, 'notes.txt');
    const before = await readFile(notes, 'utf8');
    await writeFile(notes, 'changed notes\n');
    try {
      proxy.reset();
      const r = await buildCli(['--build-arg', `REG=${R}`, '-t', `${R}/built/app:v1`, ctxDir]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain(builtDigest);
      // ADD notes.txt and COPY . /ctx/ changed; the five other layers of the context were found by their diffIDs.
      expect(r.stderr.match(/already at the destination\)/g)).toHaveLength(5);
      const puts = proxy.stats.filter((q) => q.kind === 'upload' && q.method === 'PUT');
      expect(puts).toHaveLength(3); // two layers and the config
    } finally {
      await writeFile(notes, before);
    }
  });

  it('copies the base layers through the copy engine when the destination is another registry', async () => {
    const r = await buildCli(['--build-arg', `REG=${reg.host}`, '-t', `${other.host}/elsewhere/app:v1`, ctxDir]);
    expect(r.code).toBe(0);
    for (const d of base.layerDigests)
      expect((await fetch(`${other.url}/v2/elsewhere/app/blobs/${d}`, { method: 'HEAD' })).status).toBe(200);
  });

  it('writes to an OCI layout and to several destinations in one run', async () => {
    const out = join(work, 'out-layout');
    const r = await buildCli(['--build-arg', `REG=${R}`, '-t', `oci:${out}:v1`, '-t', `${R}/built/second:v1`, ctxDir]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^oci:${out}.*@sha256:`));
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(lines[0].split('@')[1]);
  });
});

describe('regctl build refusals', () => {
  const build = async (dockerfile: string, extra: string[] = []) => {
    const dir = await makeTempDir('refuse');
    await makeContext(dir);
    await writeFile(join(dir, 'Dockerfile'), dockerfile);
    try {
      return await buildCli([...extra, dir]);
    } finally {
      await removeTempDir(dir);
    }
  };

  it('refuses RUN with exit 2 and one line naming the line, why, and what to do', async () => {
    const r = await build('FROM scratch\nCOPY notes.txt /\nRUN apt-get install -y curl\n');
    expect(r.code).toBe(2);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('regctl:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^regctl: Dockerfile:3: RUN cannot be built: .*no container runtime.*COPY its output/);
    expect(r.stderr).not.toMatch(/\[1\//);
  });

  it('refuses ADD of a URL and a source outside the context with exit 2', async () => {
    const url = await build('FROM scratch\nADD https://example.com/x.tgz /x\n');
    expect(url.code).toBe(2);
    expect(url.stderr).toMatch(/Dockerfile:2: ADD https:\/\/example.com\/x.tgz: .*never downloads/);
    const esc = await build('FROM scratch\nCOPY ../../etc/passwd /x\n');
    expect(esc.code).toBe(2);
    expect(esc.stderr).toMatch(/Dockerfile:2: COPY \.\.\/\.\.\/etc\/passwd: the path is outside the build context/);
  });

  it('names a missing or ignored source and an unknown --target', async () => {
    const ignored = await build('FROM scratch\nCOPY debug.log /\n');
    expect(ignored.code).toBe(2);
    expect(ignored.stderr).toMatch(/COPY debug.log: not found in the build context \(or excluded by \.dockerignore\)/);
    const target = await build('FROM scratch AS a\nCOPY notes.txt /\n', ['--target', 'nope']);
    expect(target.code).toBe(2);
    expect(target.stderr).toMatch(/--target nope: no such stage/);
  });
});
