// Build parity with Docker's classic builder (dockerd 20.10, DOCKER_BUILDKIT=0): the same Dockerfiles over the same
// base (/bin -> usr/bin, /tmp 1777, a 0700 home owned by app) built by `docker build` and by `regctl build` give the
// same root filesystem (`docker export`: type, mode, owner, size, link target, content hash of every entry; not
// mtimes) and run the same as the image's USER. And an image regctl builds over a base regctl pushed runs as written.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { APP_UID, BUSYBOX, makeParityBase, writeParityContext } from '../support/build-base.js';
import { type DockerHandle, describeDocker, makeBusyboxLayout, startDocker } from '../support/docker.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

let d: DockerHandle;
let reg: RegistryHandle;
let work: string;
let ctx: string;
let BASE: string;

/** What a container of each image prints, as the image's USER. */
const SHOW = 'id -u; for p in "$@"; do busybox stat -c "%n %a %u:%g %F" "$p" 2>&1; done; cat /tmp/sub/x 2>&1; true';

/** Each case: a Dockerfile body over the base (FROM is added), and the paths its container shows. */
const CASES: Array<[string, string, string[]]> = [
  [
    '1 parent directories: existing kept, missing 0755 root (or the --chown owner of a file)',
    [
      'COPY a.txt /tmp/sub/x',
      'COPY a.txt /home/app/new/',
      'COPY --chown=1234:1234 b.txt /srv/data/b.txt',
      'VOLUME /vol',
      'COPY a.txt /vol/sub/a.txt',
    ].join('\n'),
    ['/tmp', '/tmp/sub', '/home/app', '/home/app/new', '/srv', '/srv/data', '/vol/sub'],
  ],
  [
    '2 a destination under a symlinked directory',
    'COPY tool /bin/tool\nCOPY tool /bin/more/',
    ['/bin', '/usr/bin/tool', '/usr/bin/more'],
  ],
  [
    '3 COPY into an existing directory keeps it',
    'COPY dir1 /tmp/\nCOPY --chown=5:6 dir1 /home/app',
    ['/tmp', '/tmp/sub', '/home/app', '/home/app/one.txt'],
  ],
  [
    '4 a file into an existing directory without a slash',
    'COPY b.txt /usr/local/bin',
    ['/usr/local/bin', '/usr/local/bin/b.txt'],
  ],
  [
    '5 WORKDIR makes its directory',
    'WORKDIR /srv/www\nWORKDIR logs\nCOPY a.txt .\nUSER app\nWORKDIR /home/app/w',
    ['/srv/www', '/srv/www/logs/a.txt'],
  ],
  [
    '6 a new directory destination',
    'COPY dir1 /opt/d1\nCOPY --chown=7:8 dir1 /opt/d2',
    ['/opt/d1', '/opt/d2', '/opt/d2/sub'],
  ],
  [
    '7 hard links; ADD of gzip, xz and bzip2 archives',
    'COPY linked /l/\nADD links.tar.gz /links/\nADD p.tar.xz /x/\nADD p.tar.bz2 /b',
    ['/l/second', '/links', '/x/share/readme', '/b/share'],
  ],
  [
    '8 where regctl already agreed: stages, --chown by name, setuid, symlinks, .dockerignore',
    [
      'COPY --chown=app:app a.txt /home/app/',
      'COPY suid /usr/local/bin/',
      'COPY links/ /links/',
      'COPY . /ctx/',
      'FROM BASE',
      'WORKDIR /w',
      'COPY --from=0 /home/app/a.txt /usr/local/bin/suid ./',
      'COPY --from=0 /links /links',
      'COPY --from=0 /ctx /ctx',
    ].join('\n'),
    ['/w/a.txt', '/links/to-a', '/links/abs', '/ctx', '/ctx/links'],
  ],
];

const TAR_FLAGS = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0'];

interface Entry {
  type: string;
  mode: string;
  owner: string;
  size: number;
  link?: string;
  sha?: string;
}

/** `docker export` of a container of `image`: every entry but mtimes. */
async function exported(image: string, name: string): Promise<Record<string, Entry>> {
  const id = (await d.docker(['create', image])).stdout.trim();
  const file = join(work, `${name}.tar`);
  await d.docker(['export', '-o', file, id]);
  await d.docker(['rm', id]);
  const out: Record<string, Entry> = {};
  const ex = extract();
  const reading = (async () => {
    for await (const e of ex) {
      const h = e.header;
      const mode = ((h.mode ?? 0) & 0o7777).toString(8);
      const entry: Entry = { type: h.type ?? 'file', mode, owner: `${h.uid}:${h.gid}`, size: h.size ?? 0 };
      if (h.linkname) entry.link = h.linkname;
      const hash = createHash('sha256');
      for await (const c of e) hash.update(c as Buffer);
      if (h.type === 'file') entry.sha = hash.digest('hex').slice(0, 16);
      out[h.name.replace(/\/$/, '')] = entry;
    }
  })();
  createReadStream(file).pipe(ex);
  await reading;
  return out;
}

const runAsUser = async (image: string, paths: string[]) =>
  d.docker(['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', image, '-c', SHOW, 'show', ...paths], {
    reject: false,
  });

describeDocker('regctl build gives the root filesystem docker build (classic) gives', () => {
  beforeAll(async () => {
    work = await makeTempDir('dk-build');
    [d, reg] = await Promise.all([startDocker(), startRegistry()]);
    BASE = await makeParityBase(work, `${reg.host}/base/parity:v1`);
    ctx = join(work, 'ctx');
    await writeParityContext(ctx);
    await writeFile(join(ctx, 'suid'), 'setuid\n');
    await chmod(join(ctx, 'suid'), 0o4755);
    await mkdir(join(ctx, 'links'));
    await symlink('../a.txt', join(ctx, 'links/to-a'));
    await symlink('/etc/passwd', join(ctx, 'links/abs'));
    await writeFile(join(ctx, 'ignored.log'), 'not in the image\n');
    await writeFile(join(ctx, '.dockerignore'), '*.log\n');
    const src = join(work, 'arch');
    await mkdir(join(src, 'share'), { recursive: true });
    await writeFile(join(src, 'share/readme'), 'packed\n');
    await writeFile(join(src, 'big'), Buffer.alloc(256 * 1024, 7));
    for (let i = 0; i < 5; i++) await link(join(src, 'big'), join(src, `l${i}`));
    const tar = (name: string, flag: string) =>
      execFileSync('tar', [...TAR_FLAGS, flag, '-C', src, '-cf', join(ctx, name), '.']);
    tar('links.tar.gz', '-z');
    tar('p.tar.xz', '-J');
    tar('p.tar.bz2', '-j');
    await d.docker(['pull', BASE]);
  });
  afterAll(async () => {
    await d?.stop();
    await reg?.stop();
    await removeTempDir(work);
  });

  it.each(CASES)('%s', async (name, body, paths) => {
    const n = name.split(' ')[0];
    const user = body.includes('USER') ? '' : 'USER app\n';
    const dockerfile = `FROM BASE\n${body}\n${user}`.replaceAll('FROM BASE', `FROM ${BASE}`);
    await writeFile(join(ctx, 'Dockerfile'), dockerfile);
    const built = await d.docker(['build', '-q', '-t', `docker-built/case${n}`, ctx], { reject: false });
    expect(built.code, built.stderr).toBe(0);
    const cache = { XDG_CACHE_HOME: join(work, 'cache') };
    const r = await runCli(['build', '-t', `${reg.host}/regctl-built/case${n}:v1`, ctx], { env: cache });
    expect(r.stderr).not.toMatch(/regctl:/);
    expect(r.code).toBe(0);
    const ours = `${reg.host}/regctl-built/case${n}:v1`;
    await d.docker(['pull', ours]);
    const [theirs, mine] = [await exported(`docker-built/case${n}`, `d${n}`), await exported(ours, `r${n}`)];
    // The one known difference: setuid/setgid bits of context files are kept as BuildKit keeps them (issue 15: keep
    // it so); the classic builder drops them.
    for (const p of Object.keys(mine).filter((k) => /(^|\/)suid$/.test(k))) {
      expect([mine[p]?.mode, theirs[p]?.mode]).toEqual(['4755', '755']);
      theirs[p].mode = '4755';
    }
    expect(mine).toEqual(theirs);
    const [ranTheirs, ranMine] = [await runAsUser(`docker-built/case${n}`, paths), await runAsUser(ours, paths)];
    expect(ranMine.stdout).toBe(ranTheirs.stdout);
    expect(ranMine.code).toBe(ranTheirs.code);
    expect(ranMine.stdout.split('\n')[0]).toBe(String(APP_UID));
  });
});

describeDocker('docker runs what regctl builds over a base regctl pushed', () => {
  let dd: DockerHandle;
  let r2: RegistryHandle;
  let w: string;
  beforeAll(async () => {
    w = await makeTempDir('dk-build2');
    [dd, r2] = await Promise.all([startDocker(), startRegistry()]);
  });
  afterAll(async () => {
    await dd?.stop();
    await r2?.stop();
    await removeTempDir(w);
  });

  it('FROM scratch + COPY of static busybox to /bin + USER 1234 runs (bin/ is in the layer, 0755)', async () => {
    const c = join(w, 'scratch-ctx');
    await mkdir(c);
    await copyFile(BUSYBOX, join(c, 'busybox'));
    await chmod(join(c, 'busybox'), 0o755);
    const df = 'FROM scratch\nCOPY busybox /bin/busybox\nUSER 1234\nENTRYPOINT ["/bin/busybox","echo","hi from 1234"]';
    await writeFile(join(c, 'Dockerfile'), df);
    const cache = { XDG_CACHE_HOME: join(w, 'cache') };
    const r = await runCli(['build', '-t', `${r2.host}/lib/scratch:v1`, c], { env: cache });
    expect(r.code).toBe(0);
    await dd.docker(['pull', `${r2.host}/lib/scratch:v1`]);
    const ran = await dd.docker(['run', '--rm', '--network', 'none', `${r2.host}/lib/scratch:v1`], { reject: false });
    expect(ran.stderr).toBe('');
    expect(ran.stdout).toBe('hi from 1234\n');
  });

  it('COPY --chown/--chmod, WORKDIR, USER, ENV, ENTRYPOINT/CMD: docker run shows modes, owners, env', async () => {
    const bb = await makeBusyboxLayout(join(w, 'bb'), { tag: 'v1' });
    const pushed = await runCli(['push', `oci:${bb.dir}:v1`, `${r2.host}/lib/bb:v1`]);
    expect(pushed.code).toBe(0);
    const c = join(w, 'ctx');
    await mkdir(c);
    await writeFile(join(c, 'a.txt'), 'from the context\n');
    await writeFile(join(c, 'tool'), 'x');
    await writeFile(
      join(c, 'Dockerfile'),
      `FROM ${r2.host}/lib/bb:v1
ENV GREETING="hi there" APP_HOME=/srv/app
WORKDIR $APP_HOME
COPY --chown=1234:5678 a.txt ./
COPY --chmod=0750 tool /usr/local/bin/tool
USER 1234:5678
ENTRYPOINT ["/bin/busybox", "sh", "-c"]
CMD ["busybox id -u; busybox id -g; echo $GREETING; pwd; \\
  busybox stat -c '%n %a %u:%g' /srv/app/a.txt /srv/app /usr/local/bin/tool /usr/local /usr; busybox cat a.txt"]
`,
    );
    const r = await runCli(['build', '-t', `${r2.host}/lib/app:v1`, c], { env: { XDG_CACHE_HOME: join(w, 'cache') } });
    expect(r.stderr).not.toMatch(/regctl:/);
    expect(r.code).toBe(0);
    await dd.docker(['pull', `${r2.host}/lib/app:v1`]);
    const ran = await dd.docker(['run', '--rm', '--network', 'none', `${r2.host}/lib/app:v1`]);
    expect(ran.stdout.split('\n')).toEqual([
      '1234',
      '5678',
      'hi there',
      '/srv/app',
      '/srv/app/a.txt 644 1234:5678',
      '/srv/app 755 0:0',
      '/usr/local/bin/tool 750 0:0',
      '/usr/local 755 0:0',
      '/usr 755 0:0',
      'from the context',
      '',
    ]);
  });
});
