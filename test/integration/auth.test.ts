// Authentication against the real registry: Basic (htpasswd) and Bearer tokens from a token server, and where
// credentials come from.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageFixture, makeImageLayout, registryDigest, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';
import { type TokenServerHandle, startTokenServer } from '../support/token-server.js';

const USER = 'alice';
const PASS = 'wonder:land';
const creds = `${USER}:${PASS}`;

let basic: RegistryHandle;
let tokens: TokenServerHandle;
let tokenReg: RegistryHandle;
let work: string;
let image: ImageFixture;

beforeAll(async () => {
  work = await makeTempDir('auth-test');
  tokens = await startTokenServer({ users: { [USER]: PASS } });
  [basic, tokenReg, image] = await Promise.all([
    startRegistry({ mode: 'htpasswd', users: { [USER]: PASS } }),
    startRegistry({ mode: 'token', token: tokens }),
    makeImageLayout(join(work, 'img'), { layers: [80_000, 40_000, 20_000], seed: 'auth-img', tag: 'v1' }),
  ]);
  await seedImage(`oci:${image.dir}:v1`, `${basic.host}/lib/app:v1`, { creds });
  await seedImage(`oci:${image.dir}:v1`, `${tokenReg.host}/lib/app:v1`, { creds });
});

afterAll(async () => {
  await Promise.all([basic?.stop(), tokenReg?.stop(), tokens?.stop()]);
  await removeTempDir(work);
});

async function homeWithDockerConfig(doc: unknown): Promise<string> {
  const home = await makeTempDir('home');
  await mkdir(join(home, '.docker'), { recursive: true });
  await writeFile(join(home, '.docker', 'config.json'), JSON.stringify(doc));
  return home;
}

describe('Basic auth (htpasswd registry)', () => {
  it('without credentials: exit 1, one line, a hint to log in', async () => {
    const r = await runCli(['digest', `${basic.host}/lib/app:v1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^regctl: .*401 unauthorized/m);
    expect(r.stderr).toMatch(/^hint: .*regctl login/m);
  });

  it('--creds USER:PASS (a password holding a colon) works', async () => {
    const r = await runCli(['digest', '--creds', creds, `${basic.host}/lib/app:v1`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
  });

  it("docker's config.json auths are used", async () => {
    const home = await homeWithDockerConfig({
      auths: { [basic.host]: { auth: Buffer.from(creds).toString('base64') } },
    });
    try {
      const r = await runCli(['copy', `${basic.host}/lib/app:v1`, `${basic.host}/lib/copy:v1`], {
        env: { HOME: home },
      });
      expect(r.code).toBe(0);
      expect(await registryDigest(basic.host, 'lib/copy', 'v1', { username: USER, password: PASS })).toBe(
        image.manifestDigest,
      );
    } finally {
      await removeTempDir(home);
    }
  });

  it('DOCKER_AUTH_CONFIG from the environment is used', async () => {
    const env = {
      DOCKER_AUTH_CONFIG: JSON.stringify({
        auths: { [`http://${basic.host}`]: { auth: Buffer.from(creds).toString('base64') } },
      }),
    };
    const r = await runCli(['digest', `${basic.host}/lib/app:v1`], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
  });

  it('login checks the password first: a wrong one is refused and nothing is stored', async () => {
    const home = await makeTempDir('home');
    try {
      const r = await runCli(['login', '-u', USER, '--password-stdin', basic.host], {
        env: { HOME: home, REGCTL_NO_KEYCHAIN: '1' },
        input: 'nope\n',
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^regctl: login to .*refused/m);
      await expect(stat(join(home, '.docker', 'config.json'))).rejects.toThrow();
    } finally {
      await removeTempDir(home);
    }
  });

  it('login stores in config.json (0600, other keys kept), later commands use it, logout drops it', async () => {
    const home = await homeWithDockerConfig({ auths: { 'other.example.com': { auth: 'eDp5' } }, psFormat: 'table' });
    const env = { HOME: home, REGCTL_NO_KEYCHAIN: '1' };
    try {
      const r = await runCli(['login', '-u', USER, '--password-stdin', basic.host], { env, input: `${PASS}\n` });
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe('Login Succeeded');
      expect(r.stderr).not.toContain(PASS);
      const path = join(home, '.docker', 'config.json');
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      const doc = JSON.parse(await readFile(path, 'utf8'));
      expect(doc.psFormat).toBe('table');
      expect(doc.auths['other.example.com']).toBeDefined();
      expect(Buffer.from(doc.auths[basic.host].auth, 'base64').toString()).toBe(creds);
      expect((await runCli(['digest', `${basic.host}/lib/app:v1`], { env })).stdout.trim()).toBe(image.manifestDigest);
      expect((await runCli(['logout', basic.host], { env })).code).toBe(0);
      expect(JSON.parse(await readFile(path, 'utf8')).auths[basic.host]).toBeUndefined();
      expect((await runCli(['digest', `${basic.host}/lib/app:v1`], { env })).code).toBe(1);
    } finally {
      await removeTempDir(home);
    }
  });

  it('a password on the command line works but warns', async () => {
    const home = await makeTempDir('home');
    try {
      const r = await runCli(['login', '-u', USER, '-p', PASS, basic.host], {
        env: { HOME: home, REGCTL_NO_KEYCHAIN: '1' },
      });
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/warning: .*--password-stdin/);
    } finally {
      await removeTempDir(home);
    }
  });
});

describe('Bearer tokens (token-auth registry, like Docker Hub)', () => {
  it('pulls anonymously with an anonymous pull token', async () => {
    const r = await runCli(['inspect', '--json', `${tokenReg.host}/lib/app:v1`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).digest).toBe(image.manifestDigest);
    expect(tokens.log.some((t) => t.anonymous && t.scope.includes('repository:lib/app:pull'))).toBe(true);
  });

  it('refuses an anonymous push with a one-line error and a hint', async () => {
    const r = await runCli(['copy', `${tokenReg.host}/lib/app:v1`, `${tokenReg.host}/anon/app:v1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^regctl: /m);
    expect(r.stderr).toMatch(/^hint: /m);
    expect(
      await registryDigest(tokenReg.host, 'anon/app', 'v1', { username: USER, password: PASS }).catch(() => 'missing'),
    ).toBe('missing');
  });

  it('pushes with credentials; a mount asks for one token holding pull on the source and push on the destination', async () => {
    const before = tokens.log.length;
    const r = await runCli(['copy', '--creds', creds, `${tokenReg.host}/lib/app:v1`, `${tokenReg.host}/pushed/app:v1`]);
    expect(r.stderr).not.toMatch(/regctl:/);
    expect(r.code).toBe(0);
    expect(await registryDigest(tokenReg.host, 'pushed/app', 'v1', { username: USER, password: PASS })).toBe(
      image.manifestDigest,
    );
    const asked = tokens.log.slice(before);
    const both = asked.find(
      (t) =>
        t.scope.some((s) => s.startsWith('repository:lib/app:pull')) &&
        t.scope.some((s) => s.startsWith('repository:pushed/app:') && s.includes('push')),
    );
    expect(both, JSON.stringify(asked.map((t) => t.scope))).toBeDefined();
    expect(both!.account).toBe(USER);
    // Tokens are cached per scope set: a handful of token requests, not one per blob.
    expect(asked.length).toBeLessThanOrEqual(4);
  });

  it('the password never appears in --debug output', async () => {
    const r = await runCli([
      'copy',
      '--debug',
      '--creds',
      creds,
      `${tokenReg.host}/lib/app:v1`,
      `${tokenReg.host}/debug/app:v1`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/debug: > HEAD/);
    expect(r.stderr).not.toContain(PASS);
    expect(r.stderr).not.toContain(Buffer.from(creds).toString('base64'));
    expect(r.stderr).not.toMatch(/authorization: (basic|bearer) [^*]/i);
  });
});
