// What regctl build's layers hold, entry by entry, over a Debian-shaped base (/bin -> usr/bin, /tmp 1777, a 0700
// home): parent directories, symlinked and existing destinations, WORKDIR, hard links, ADD archives and their cap,
// and a build context that cannot reach outside itself.
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_UID, type TarEntry, layoutLayers, makeParityBase, writeParityContext } from '../support/build-base.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

let reg: RegistryHandle;
let work: string;
let ctx: string;
let out: string;
let BASE: string;
let n = 0;

const cache = () => ({ XDG_CACHE_HOME: join(work, 'cache') });

/** Builds a Dockerfile over the base into the OCI layout; the layers it added, as tar entries (mode octal). */
async function layersOf(dockerfile: string, extra: string[] = []): Promise<TarEntry[][]> {
  const tag = `t${++n}`;
  await writeFile(join(ctx, 'Dockerfile'), dockerfile.replaceAll('BASE', BASE));
  const r = await runCli(['build', ...extra, '-t', `oci:${out}:${tag}`, ctx], { env: cache() });
  expect(r.stderr).not.toMatch(/regctl:/);
  expect(r.code).toBe(0);
  const layers = await layoutLayers(out, tag);
  return dockerfile.startsWith('FROM scratch') ? layers : layers.slice(1);
}

/** Each entry as `path type mode uid:gid` (mode octal). */
const brief = (es: TarEntry[]) => es.map((e) => `${e.path} ${e.type} ${e.mode} ${e.uid}:${e.gid}`);

beforeAll(async () => {
  work = await makeTempDir('build-layers');
  reg = await startRegistry();
  BASE = await makeParityBase(work, `${reg.host}/base/parity:v1`);
  ctx = join(work, 'ctx');
  out = join(work, 'out');
  await writeParityContext(ctx);
});

afterAll(async () => {
  await reg?.stop();
  await removeTempDir(work);
});

describe('regctl build layers carry their parent directories (issue 15)', () => {
  it('COPY over scratch writes bin/ 0755 root before bin/busybox; --chown owns a file’s new parents', async () => {
    const df = 'FROM scratch\nCOPY tool /bin/busybox\nCOPY --chown=1234:1234 a.txt /srv/data/a.txt\n';
    const [plain, owned] = await layersOf(df);
    expect(brief(plain)).toEqual(['bin/ directory 755 0:0', 'bin/busybox file 755 0:0']);
    expect(brief(owned)).toEqual([
      'srv/ directory 755 1234:1234',
      'srv/data/ directory 755 1234:1234',
      'srv/data/a.txt file 644 1234:1234',
    ]);
  });

  it('1: existing parents keep the base’s mode and owner (/tmp 1777, 0700 home); missing ones: 0755 root', async () => {
    const [tmp, home] = await layersOf('FROM BASE\nCOPY a.txt /tmp/sub/x\nCOPY a.txt /home/app/new/\n');
    expect(brief(tmp)).toEqual(['tmp/ directory 1777 0:0', 'tmp/sub/ directory 755 0:0', 'tmp/sub/x file 644 0:0']);
    expect(brief(home)).toEqual([
      'home/ directory 755 0:0',
      `home/app/ directory 700 ${APP_UID}:${APP_UID}`,
      'home/app/new/ directory 755 0:0',
      'home/app/new/a.txt file 644 0:0',
    ]);
  });

  it('1: a second build over the same base reads no base layer (its index is in the user cache)', async () => {
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${BASE}\nCOPY a.txt /srv/\n`);
    const r1 = await runCli(['build', ctx], { env: { XDG_CACHE_HOME: join(work, 'cache2') } });
    expect(r1.stderr).toMatch(/base layers read once to index their directories \(kept in the cache\): 1 /);
    const r2 = await runCli(['build', ctx], { env: { XDG_CACHE_HOME: join(work, 'cache2') } });
    expect(r2.code).toBe(0);
    expect(r2.stderr).not.toMatch(/read once to index/);
    expect(r2.stdout).toBe(r1.stdout);
  });

  it('2: a destination under a symlinked directory lands where the link points (usr/bin/tool, no bin/)', async () => {
    const [l] = await layersOf('FROM BASE\nCOPY tool /bin/tool\n');
    expect(brief(l)).toEqual(['usr/ directory 755 0:0', 'usr/bin/ directory 755 0:0', 'usr/bin/tool file 755 0:0']);
  });

  it('3: a directory COPY into an existing one keeps that directory’s mode and owner, with --chown too', async () => {
    const [tmp, home] = await layersOf('FROM BASE\nCOPY dir1 /tmp/\nCOPY --chown=5:6 dir1 /home/app\n');
    expect(brief(tmp)).toEqual([
      'tmp/ directory 1777 0:0',
      'tmp/one.txt file 644 0:0',
      'tmp/sub/ directory 755 0:0',
      'tmp/sub/two.txt file 644 0:0',
    ]);
    expect(brief(home).slice(0, 3)).toEqual([
      'home/ directory 755 0:0',
      `home/app/ directory 700 ${APP_UID}:${APP_UID}`,
      'home/app/one.txt file 644 5:6',
    ]);
  });

  it('4: a file COPY to an existing directory without a trailing slash goes inside it', async () => {
    const [l] = await layersOf('FROM BASE\nCOPY b.txt /usr/local/bin\n');
    expect(l.map((e) => e.path)).toEqual(['usr/', 'usr/local/', 'usr/local/bin/', 'usr/local/bin/b.txt']);
  });

  it('5: WORKDIR makes its directory (0755 root, parents too) in a layer; an existing one costs none', async () => {
    const layers = await layersOf('FROM BASE\nWORKDIR /tmp\nWORKDIR /srv/www\nUSER app\nWORKDIR logs\n');
    expect(layers.map(brief)).toEqual([
      ['srv/ directory 755 0:0', 'srv/www/ directory 755 0:0'],
      ['srv/ directory 755 0:0', 'srv/www/ directory 755 0:0', 'srv/www/logs/ directory 755 0:0'],
    ]);
  });

  it('6: a new destination directory of a directory COPY is 0755 root (or --chown), not the source’s', async () => {
    const [plain, owned] = await layersOf('FROM BASE\nCOPY dir1 /opt/d1\nCOPY --chown=7:8 dir1 /opt/d2\n');
    expect(brief(plain).slice(0, 2)).toEqual(['opt/ directory 755 0:0', 'opt/d1/ directory 755 0:0']);
    const made = ['opt/ directory 755 0:0', 'opt/d2/ directory 755 7:8', 'opt/d2/one.txt file 644 7:8'];
    expect(brief(owned).slice(0, 3)).toEqual(made);
  });

  it('7: hard links in the context stay hard links', async () => {
    const [l] = await layersOf('FROM BASE\nCOPY linked /l/\n');
    expect(l.filter((e) => e.path.startsWith('l/')).map((e) => [e.path, e.type, e.size, e.link ?? ''])).toEqual([
      ['l/', 'directory', 0, ''],
      ['l/first', 'file', 11, ''],
      ['l/second', 'link', 0, 'l/first'],
    ]);
  });

  it('8: COPY of a URL says so as Docker does; a missing --from source names the WORKDIR', async () => {
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY http://example.com/x /x\n');
    const url = await runCli(['build', ctx], { env: cache() });
    expect(url.code).toBe(2);
    expect(url.stderr).toMatch(/^regctl: Dockerfile:2: http:\/\/example.com\/x: source can't be a URL for COPY/m);
    const df = 'FROM scratch AS a\nCOPY a.txt /app/a.txt\nFROM scratch\nWORKDIR /app\nCOPY --from=a a.txt /x\n';
    await writeFile(join(ctx, 'Dockerfile'), df);
    const wd = await runCli(['build', ctx], { env: cache() });
    expect(wd.code).toBe(2);
    const says = "a.txt: not found in stage a (--from sources start at the root of stage a, not at this stage's";
    expect(wd.stderr).toContain(says);
  });
});

/** A gzip'd tar from `tar` itself: hard links as hard-link entries. */
async function systemTar(dir: string, name: string, flags: string[]): Promise<string> {
  const file = join(ctx, name);
  execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', ...flags, '-C', dir, '-cf', file, '.']);
  return file;
}

describe('regctl build ADD archives (issues 14 and 15)', () => {
  it('7, 14.4: hard links in an archive are written as hard-link entries (the layer stays small)', async () => {
    const src = join(work, 'links');
    await mkdir(src);
    await writeFile(join(src, 'big'), Buffer.alloc(1024 * 1024, 7));
    for (let i = 0; i < 50; i++) await link(join(src, 'big'), join(src, `l${i}`));
    await systemTar(src, 'links.tar.gz', ['-z']);
    const [l] = await layersOf('FROM BASE\nADD links.tar.gz /links/\n');
    const links = l.filter((e) => e.type === 'link');
    expect(links).toHaveLength(50);
    expect(l.filter((e) => e.type === 'file').map((e) => [e.path, e.size])).toEqual([['links/big', 1024 * 1024]]);
    expect(new Set(links.map((e) => e.link))).toEqual(new Set(['links/big']));
  });

  it('7: ADD unpacks .tar.xz and .tar.bz2 as Docker does', async () => {
    const src = join(work, 'xz');
    await mkdir(join(src, 'share'), { recursive: true });
    await writeFile(join(src, 'share/readme'), 'packed\n');
    await systemTar(src, 'p.tar.xz', ['-J']);
    await systemTar(src, 'p.tar.bz2', ['-j']);
    const [xz, bz] = await layersOf('FROM BASE\nADD p.tar.xz /x/\nADD p.tar.bz2 /b/\n');
    expect(xz.map((e) => e.path)).toEqual(['x/', 'x/share/', 'x/share/readme']);
    expect(bz.map((e) => e.path)).toEqual(['b/', 'b/share/', 'b/share/readme']);
  });

  it('14.4: an archive unpacking past --max-add-size stops, exit 2 and a hint; a higher cap lets it through', async () => {
    const src = join(work, 'bomb');
    await mkdir(src);
    // 48 MiB of zeros: about 50 KiB of gzip.
    const tarFile = join(work, 'bomb.tar');
    await writeFile(join(src, 'zeros'), Buffer.alloc(48 * 1024 * 1024));
    execFileSync('tar', ['-C', src, '-cf', tarFile, 'zeros']);
    await pipeline(createReadStream(tarFile), createGzip(), createWriteStream(join(ctx, 'bomb.tar.gz')));
    expect((await readFile(join(ctx, 'bomb.tar.gz'))).length).toBeLessThan(1024 * 1024);
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${BASE}\nADD bomb.tar.gz /b/\n`);
    const r = await runCli(['build', '--max-add-size', '16MiB', ctx], { env: cache() });
    expect(r.code).toBe(2);
    const says = 'regctl: Dockerfile:2: ADD: the archives unpack to more than 16 MiB, the most one ADD may extract\n';
    expect(r.stderr).toContain(says);
    expect(r.stderr).toMatch(/hint: raise the limit with --max-add-size/);
    const ok = await runCli(['build', '--max-add-size', '64MiB', ctx], { env: cache() });
    expect(ok.code).toBe(0);
  });
});

describe('a build context reaches nothing outside itself (issue 14 item 11)', () => {
  it('refuses a Dockerfile or .dockerignore symlinked out of the context, without echoing the target', async () => {
    const c = join(work, 'ctx-evil');
    await mkdir(c);
    await writeFile(join(work, 'shadow'), 'root:$6$secrethash:19000:0:99999:7:::\n');
    await symlink(join(work, 'shadow'), join(c, 'Dockerfile'));
    const r = await runCli(['build', c], { env: cache() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^regctl: Dockerfile .*: a symlink to a place outside/m);
    expect(r.stderr).not.toContain('secrethash');
    // Named on the command line, the same file is read (and fails as a Dockerfile would).
    const named = await runCli(['build', '-f', join(work, 'shadow'), c], { env: cache() });
    expect(named.code).toBe(2);
    await writeFile(join(work, 'inside-df'), 'FROM scratch\n');
    const c2 = join(work, 'ctx-evil2');
    await mkdir(c2);
    await writeFile(join(c2, 'Dockerfile'), 'FROM scratch\nCOPY . /\n');
    await symlink(join(work, 'shadow'), join(c2, '.dockerignore'));
    const ig = await runCli(['build', c2], { env: cache() });
    expect(ig.code).toBe(2);
    expect(ig.stderr).toMatch(/\.dockerignore .*: a symlink to a place outside/);
    expect(ig.stderr).not.toContain('secrethash');
    // A FIFO is refused before it is opened (opening one would wait for a writer forever).
    const c3 = join(work, 'ctx-fifo');
    await mkdir(c3);
    await writeFile(join(c3, 'Dockerfile'), 'FROM scratch\n');
    execFileSync('mkfifo', [join(c3, '.dockerignore')]);
    const fifo = await runCli(['build', c3], { env: cache(), timeoutMs: 20_000 });
    expect(fifo.code).toBe(2);
    expect(fifo.stderr).toMatch(/\.dockerignore .*: not a regular file/);
  });

  it('refuses FROM / COPY --from paths that leave the context; --build-context names them', async () => {
    const layout = join(work, 'outside-layout');
    const b = await runCli(['copy', BASE, `oci:${layout}:v1`], { env: cache() });
    expect(b.code).toBe(0);
    await writeFile(join(ctx, 'Dockerfile'), `FROM scratch\nCOPY --from=oci:../outside-layout:v1 /etc/passwd /p\n`);
    const r = await runCli(['build', ctx], { env: cache() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^regctl: oci:\.\.\/outside-layout:v1: the path is outside the build context$/m);
    expect(r.stderr).toMatch(/hint: name it on the command line: --build-context/);
    await writeFile(join(ctx, 'Dockerfile'), `FROM base\nCOPY --from=base /etc/passwd /p\n`);
    const ok = await runCli(['build', '--build-context', `base=oci:${layout}:v1`, ctx], { env: cache() });
    expect(ok.stderr).not.toMatch(/regctl:/);
    expect(ok.code).toBe(0);
  });
});
