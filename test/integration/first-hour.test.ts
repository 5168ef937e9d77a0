// A new user's first hour (issue 16): bare names, other tools' locations, compressed-tar names, file-system errors,
// login on a terminal, and what pull prints — each against the real registry, the built CLI and a real pty.
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, fillSeeded, makeImageLayout, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { runOnPty } from '../support/pty.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { REGCTL_BIN, runCli } from '../support/run-cli.js';

const run = promisify(execFile);
const USER = 'bob';
const PASS = 'b0b-secret-pw';

let reg: RegistryHandle;
let basic: RegistryHandle;
let work: string;
let image: ImageFixture;

beforeAll(async () => {
  work = await makeTempDir('first-hour');
  await chmod(work, 0o755);
  [reg, basic, image] = await Promise.all([
    startRegistry(),
    startRegistry({ mode: 'htpasswd', users: { [USER]: PASS } }),
    makeImageLayout(join(work, 'img'), { layers: [30_000, 10_000], seed: 'first-hour', tag: 'v1' }),
  ]);
  await seedImage(`oci:${image.dir}:v1`, `${reg.host}/lib/app:v1`);
});

afterAll(async () => {
  await Promise.all([reg?.stop(), basic?.stop()]);
  await removeTempDir(work);
});

/** Runs regctl under a command prefix (unshare, setpriv), with a clean environment; never throws. */
type Ran = { code: number; stdout: string; stderr: string };
async function runWrapped(prefix: string[], args: string[], cwd?: string): Promise<Ran> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, DOCKER_CONFIG: join(work, '.none'), CI: 'true' };
  const argv = [...prefix.slice(1), process.execPath, REGCTL_BIN, ...args];
  try {
    const { stdout, stderr } = await run(prefix[0], argv, { env, cwd, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('a bare file name (item 3)', () => {
  it('inspect and copy of a bare name that is a local file ask "did you mean ./NAME?", exit 2', async () => {
    const dir = join(work, 'bare');
    await mkdir(dir, { recursive: true });
    const saved = await runCli(['pull', `${reg.host}/lib/app:v1`, join(dir, 'saved.tar')]);
    expect(saved.code, saved.stderr).toBe(0);
    const app = `${reg.host}/lib/app:v1`;
    const copy = `${reg.host}/lib/copy:v1`;
    for (const args of [
      ['inspect', 'saved.tar'],
      ['copy', 'saved.tar', copy],
      ['copy', app, 'saved.tar'],
    ]) {
      const r = await runCli(['--retries', '0', ...args], { cwd: dir });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^regctl: saved\.tar: did you mean \.\/saved\.tar\?/m);
      expect(r.stderr).not.toMatch(/ENOTFOUND|getaddrinfo|registry-1\.docker\.io/);
    }
    const ok = await runCli(['inspect', './saved.tar'], { cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('a host that does not resolve while no network is reachable says so (not "check the host name")', async () => {
    const r = await runWrapped(['unshare', '-rn'], ['--retries', '0', 'inspect', 'registry.example.com/team/app:v1']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^regctl: .*no network is reachable/m);
    expect(r.stderr).not.toMatch(/check the registry host name/);
  });
});

describe("other tools' locations (item 12)", () => {
  it.each([
    ['docker-daemon:alpine:3.20', /cannot read or write a Docker daemon/, /docker save/],
    ['containers-storage:localhost/app:v1', /cannot read or write Podman/, /podman save/],
    ['dir:/tmp/img', /cannot read or write skopeo's dir:/, /oci:/],
  ])('%s names what is supported (exit 2)', async (loc, what, how) => {
    const r = await runCli(['copy', loc, `${reg.host}/lib/x:v1`]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(what);
    expect(r.stderr).toMatch(/docker-archive:PATH, oci:PATH, oci-archive:PATH/);
    expect(r.stderr).toMatch(how);
    expect(r.stderr).not.toMatch(/invalid (repository name|registry host)/);
  });

  it('http://host/repo:tag says to write the host and add --plain-http', async () => {
    const r = await runCli(['inspect', `http://${reg.host}/lib/app:v1`]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/not a URL/);
    expect(r.stderr).toContain(`hint: write ${reg.host}/lib/app:v1 and add --plain-http`);
  });

  it('dir:1.0 without a path is still the Docker Hub image library/dir (a valid reference)', async () => {
    const r = await runCli(['--retries', '0', 'copy', 'dir:1.0', `oci:${join(work, 'never')}`]);
    expect(r.stderr).not.toMatch(/cannot read or write/);
  });
});

describe('pull to a compressed-tar name (item 7)', () => {
  it.each(['out.tar.gz', 'out.tgz', 'out.tar.zst', 'out.tar.xz'])('pull REF %s is refused (exit 2)', async (name) => {
    const dir = join(work, `gz-${name}`);
    await mkdir(dir, { recursive: true });
    const ref = `${reg.host}/lib/app:v1`;
    for (const args of [
      ['pull', ref, name],
      ['pull', '--format', 'oci', ref, name],
      ['copy', ref, `oci:${name}`],
    ]) {
      const r = await runCli(args, { cwd: dir });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^regctl: .*writes no compressed tar/m);
      expect(r.stderr).toMatch(/^hint: write (\.\/)?out\.tar /m);
    }
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('file-system errors (item 9)', () => {
  it("a directory one may not write in: one line naming the user's path (no temp name) and what to do", async () => {
    const ro = join(work, 'ro');
    await mkdir(ro, { recursive: true });
    await chmod(ro, 0o555);
    await chmod(image.dir, 0o755);
    // root writes anywhere: drop to nobody for this one run
    const prefix = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : ['env'];
    const r = await runWrapped(prefix, ['copy', `oci:${image.dir}:v1`, './ro/x.tar'], work);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^regctl: \.\/ro\/x\.tar: permission denied$/m);
    expect(r.stderr).toMatch(/^hint: you may not write in \.\/ro/m);
    expect(r.stderr).not.toMatch(/tmp-|staging-|EACCES/);
    expect(r.stderr.trim().split('\n')).toHaveLength(2);
  });

  it('a 3-byte file is "too short to be a tar archive", not "empty"', async () => {
    const three = join(work, 'three.tar');
    await writeFile(three, 'abc');
    for (const src of [three, `docker-archive:${three}`]) {
      const r = await runCli(['inspect', src]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/too short to be a tar archive/);
      expect(r.stderr).not.toMatch(/empty/);
    }
  });
});

describe('login and logout (item 8)', () => {
  it('on a terminal, login asks for the user name and a hidden password, checks and stores them', async () => {
    const home = await makeTempDir('pty-login');
    try {
      const env = { HOME: home, DOCKER_CONFIG: join(home, '.docker'), REGCTL_NO_KEYCHAIN: '1' };
      const steps: Array<[string, string]> = [
        ['Username: ', `${USER}\r`],
        ['Password: ', `${PASS}\r`],
      ];
      const r = await runOnPty(['login', basic.host], { env, steps });
      expect(r.unanswered).toEqual([]);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toContain('Login Succeeded');
      expect(r.output).toContain(USER);
      expect(r.output).not.toContain(PASS);
      const cfg = JSON.parse(await readFile(join(home, '.docker', 'config.json'), 'utf8'));
      expect(Buffer.from(cfg.auths[basic.host].auth, 'base64').toString()).toBe(`${USER}:${PASS}`);
      expect((await stat(join(home, '.docker', 'config.json'))).mode & 0o777).toBe(0o600);
    } finally {
      await removeTempDir(home);
    }
  });

  it('--password-stdin with empty stdin says "no password on stdin" (exit 2)', async () => {
    const env = { REGCTL_NO_KEYCHAIN: '1' };
    const r = await runCli(['login', '-u', USER, '--password-stdin', basic.host], { env, input: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^regctl: no password on stdin$/m);
  });

  it('not on a terminal, login without -u names the flag (exit 2)', async () => {
    const r = await runCli(['login', basic.host], { env: { REGCTL_NO_KEYCHAIN: '1' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^regctl: login needs a user name/m);
  });

  it('logout of a host with nothing stored exits 0 with a note', async () => {
    const r = await runCli(['logout', basic.host], { env: { REGCTL_NO_KEYCHAIN: '1' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Not logged in to ${basic.host.replace(/[.]/g, '\\.')}`));
  });
});

describe('what pull and copy to a docker-archive print (item 14)', () => {
  it('docker-archive:PATH:NAME@DIGEST, the image digest as ref@digest', async () => {
    const out = join(work, 'printed.tar');
    const r = await runCli(['pull', `${reg.host}/lib/app:v1`, out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`docker-archive:${out}:${reg.host}/lib/app:v1@${image.manifestDigest}`);
  });
});

describe('mutate of a docker-archive (item 5)', () => {
  async function repoTags(tar: string): Promise<string[]> {
    const { stdout } = await run('tar', ['-xOf', tar, 'manifest.json']);
    return JSON.parse(stdout)[0].RepoTags;
  }

  it('keeps the name (RepoTags) in place, or takes a new one from -t docker-archive:PATH:NAME', async () => {
    const dir = join(work, 'mutate');
    await mkdir(dir, { recursive: true });
    const saved = join(dir, 'saved.tar');
    expect((await runCli(['pull', `${reg.host}/lib/app:v1`, saved])).code).toBe(0);
    expect(await repoTags(saved)).toEqual([`${reg.host}/lib/app:v1`]);
    const inPlace = await runCli(['mutate', saved, '--label', 'stage=two']);
    expect(inPlace.code, inPlace.stderr).toBe(0);
    expect(await repoTags(saved)).toEqual([`${reg.host}/lib/app:v1`]);
    const renamed = await runCli(['mutate', saved, '--env', 'A=1', '-t', `docker-archive:${dir}/new.tar:myapp:v2`]);
    expect(renamed.code, renamed.stderr).toBe(0);
    expect(await repoTags(join(dir, 'new.tar'))).toEqual(['myapp:v2']);
    const copied = await runCli(['copy', saved, join(dir, 'copy.tar')]);
    expect(copied.code, copied.stderr).toBe(0);
    expect(await repoTags(join(dir, 'copy.tar'))).toEqual([`${reg.host}/lib/app:v1`]);
  });
});

describe('inspect shows Env and annotations (item 13)', () => {
  it('as text (Env:, Annotations:) and in --json (annotations)', async () => {
    const changes = ['--env', 'GREETING=hello', '--annotation', 'org.example.team=blue'];
    const made = await runCli(['mutate', `${reg.host}/lib/app:v1`, '-t', `${reg.host}/lib/ann:v1`, ...changes]);
    expect(made.code, made.stderr).toBe(0);
    const text = await runCli(['inspect', `${reg.host}/lib/ann:v1`]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Env:\n( {2}.*\n)* {2}GREETING=hello$/m);
    expect(text.stdout).toMatch(/^ {2}PATH=\/usr\/local\/bin/m);
    expect(text.stdout).toMatch(/^Annotations:\n {2}org\.example\.team=blue$/m);
    const json = await runCli(['inspect', '--json', `${reg.host}/lib/ann:v1`]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      annotations: { 'org.example.team': 'blue' },
      env: expect.arrayContaining(['GREETING=hello']),
    });
  });
});

describe('live rows fit a 60-column terminal (item 13)', () => {
  let slow: FaultProxy;
  beforeAll(async () => {
    slow = await startFaultProxy(reg.url);
    // Blobs crawl, so the live view draws its rows while they are in flight.
    slow.slowBody(25_000, 'blob-get');
  });
  afterAll(async () => {
    await slow?.stop();
  });

  /** What the terminal showed, line by line: escape sequences removed, split at CR and LF. */
  const screenLines = (output: string) =>
    output
      .replace(/\x1b\[[0-9;]*m/g, '')
      .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n')
      .split(/\r|\n/)
      .filter((l) => l.trim());

  it('copy: per-blob rows do not wrap', async () => {
    const dir = join(work, 'narrow-copy');
    const r = await runOnPty(['copy', `${slow.host}/lib/app:v1`, `oci:${dir}:v1`], { cols: 60 });
    expect(r.code, r.output).toBe(0);
    const lines = screenLines(r.output);
    expect(
      lines.some((l) => /^\s+sha256:[0-9a-f]{12}\s.*\d+%\s.*\/s$/.test(l)),
      lines.join('\n'),
    ).toBe(true);
    // stdout's `ref@digest` (a result, not a live row) may be as long as the path is
    for (const l of lines.filter((x) => !x.startsWith('oci:'))) expect(Array.from(l).length, l).toBeLessThanOrEqual(60);
  });

  it('sync: rows with long names are cut in the middle, not wrapped', async () => {
    const spec = join(work, 'narrow.yaml');
    const target = `${reg.host}/a-rather-long/mirror-path/for-the-team/app`;
    await writeFile(spec, `sync:\n  - source: ${slow.host}/lib/app\n    target: ${target}\n    tags: { list: [v1] }\n`);
    const r = await runOnPty(['sync', spec], { cols: 60 });
    expect(r.code, r.output).toBe(0);
    const lines = screenLines(r.output);
    expect(
      lines.some((l) => l.includes('…')),
      r.output,
    ).toBe(true);
    for (const l of lines) expect(Array.from(l).length, l).toBeLessThanOrEqual(60);
  });
});

describe('build summaries count each byte once (item 10)', () => {
  let other: RegistryHandle;
  beforeAll(async () => {
    other = await startRegistry();
  });
  afterAll(async () => {
    await other?.stop();
  });

  it('layers sent while building are not "already there" at the push; its summary counts its own bytes', async () => {
    const dir = join(work, 'build-ctx');
    await mkdir(dir, { recursive: true });
    const big = Buffer.alloc(300_000);
    fillSeeded(big, 'first-hour-build'); // incompressible
    await writeFile(join(dir, 'big.bin'), big);
    await writeFile(join(dir, 'Dockerfile'), `FROM ${reg.host}/lib/app:v1\nCOPY big.bin /big.bin\n`);
    const r = await runCli(['build', '--json', '-t', `${other.host}/fresh/app:v1`, dir]);
    const text = await runCli(['build', '-t', `${other.host}/fresh/two:v1`, dir]);
    expect(text.code, text.stderr).toBe(0);
    expect(r.code, r.stderr).toBe(0);
    // The new layer went up while it was written, the base layers while building: said once, each.
    expect(text.stderr).toMatch(/: layer [a-f0-9]{12} \(.*\) sent while it was written/);
    expect(text.stderr).toMatch(/base layers moved while building: 2 copied/);
    expect(text.stderr).not.toMatch(/already there/);
    const summary = /^pushed to 1 destination: ([\d.]+) (B|KiB|MiB) sent in /m.exec(text.stderr);
    expect(summary, text.stderr).not.toBeNull();
    const bytes = Number(summary![1]) * { B: 1, KiB: 1024, MiB: 1 << 20 }[summary![2] as 'B' | 'KiB' | 'MiB'];
    expect(bytes).toBeLessThan(10_000); // the config (and nothing sent earlier)
    // --json still counts every byte the build sent, once.
    expect(JSON.parse(r.stdout).bytesSent).toBeGreaterThan(300_000);
  });
});
