// Where credentials live: docker credential helpers (credHelpers, credsStore), identity tokens, Docker Hub's key,
// DOCKER_AUTH_CONFIG.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CredHelper, makeCredHelper } from '../support/cred-helper.js';
import { CDN_USER, type Hub, startHub } from '../support/hub.js';
import { type ImageFixture, makeImageLayout, registryDigest, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

const USER = 'carol';
const PASS = 'c4r0l:pw';
const HUB_KEY = 'https://index.docker.io/v1/';
const b64 = (s: string) => Buffer.from(s).toString('base64');

let basic: RegistryHandle;
let hub: Hub;
let work: string;
let image: ImageFixture;
const helpers: CredHelper[] = [];
const homes: string[] = [];

beforeAll(async () => {
  work = await makeTempDir('creds-test');
  [basic, hub, image] = await Promise.all([
    startRegistry({ mode: 'htpasswd', users: { [USER]: PASS } }),
    startHub({ users: { [USER]: PASS } }),
    makeImageLayout(join(work, 'img'), { layers: [30_000], seed: 'creds-img', tag: 'v1' }),
  ]);
  await seedImage(`oci:${image.dir}:v1`, `${basic.host}/lib/app:v1`, { creds: `${USER}:${PASS}` });
  await seedImage(`oci:${image.dir}:v1`, `${hub.registry.host}/library/app:v1`, { creds: `${USER}:${PASS}` });
});

afterAll(async () => {
  await Promise.all([
    basic?.stop(),
    hub?.stop(),
    ...helpers.map((h) => h.remove()),
    ...homes.map((h) => removeTempDir(h)),
  ]);
  await removeTempDir(work);
});

/** A HOME with docker's config.json (and the hosts config pointing docker.io at the hub stand-in). */
async function home(dockerConfig?: unknown): Promise<string> {
  const dir = await makeTempDir('creds-home');
  homes.push(dir);
  await mkdir(join(dir, '.docker'), { recursive: true });
  await mkdir(join(dir, '.config', 'regctl'), { recursive: true });
  if (dockerConfig !== undefined) await writeFile(join(dir, '.docker', 'config.json'), JSON.stringify(dockerConfig));
  await writeFile(join(dir, '.config', 'regctl', 'config.json'), JSON.stringify(hub.hostsConfig()));
  return dir;
}

async function helper(name: string): Promise<CredHelper> {
  const h = await makeCredHelper(name);
  helpers.push(h);
  return h;
}

const readConfig = async (dir: string) =>
  JSON.parse(await readFile(join(dir, '.docker', 'config.json'), 'utf8')) as { auths?: Record<string, unknown> };
const digestOf = (ref: string, env: Record<string, string>) =>
  runCli(['digest', ref], { env: { REGCTL_NO_KEYCHAIN: '1', ...env } });
const clientTokens = (from: number) => hub.tokens.log.slice(from).filter((t) => t.account !== CDN_USER);

describe('docker credential helpers', () => {
  it('credHelpers: the named helper answers `get` for that registry', async () => {
    const h = await helper('pergistry');
    await h.put(basic.host, USER, PASS);
    const dir = await home({ credHelpers: { [basic.host]: 'pergistry' }, credsStore: 'not-installed' });
    const r = await digestOf(`${basic.host}/lib/app:v1`, { HOME: dir, PATH: h.path });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
    expect(await h.calls()).toEqual([{ verb: 'get', input: basic.host }]);
  });

  it('credsStore: the default helper answers `get`', async () => {
    const h = await helper('store1');
    await h.put(basic.host, USER, PASS);
    const dir = await home({ credsStore: 'store1' });
    const r = await digestOf(`${basic.host}/lib/app:v1`, { HOME: dir, PATH: h.path });
    expect(r.code, r.stderr).toBe(0);
    expect((await h.calls()).map((c) => c.verb)).toEqual(['get']);
  });

  it('a credsStore helper that is not installed is one line naming it, with a hint', async () => {
    const dir = await home({ credsStore: 'nowhere' });
    const r = await digestOf(`${basic.host}/lib/app:v1`, { HOME: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^regctl: credential helper docker-credential-nowhere: not found on PATH$/m);
    expect(r.stderr).toMatch(/^hint: /m);
  });

  it('login stores through credsStore (nothing in config.json), later commands get it back, logout erases it', async () => {
    const h = await helper('store2');
    const dir = await home({ credsStore: 'store2', psFormat: 'table' });
    const env = { HOME: dir, PATH: h.path, REGCTL_NO_KEYCHAIN: '1' };
    const login = await runCli(['login', '-u', USER, '--password-stdin', basic.host], { env, input: `${PASS}\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toMatch(/stored in docker-credential-store2/);
    expect(await h.store()).toEqual({ [basic.host]: { Username: USER, Secret: PASS } });
    const cfg = await readConfig(dir);
    expect(cfg.auths ?? {}).toEqual({});
    expect(JSON.stringify(cfg)).not.toContain(b64(`${USER}:${PASS}`));

    expect((await digestOf(`${basic.host}/lib/app:v1`, env)).stdout.trim()).toBe(image.manifestDigest);
    const logout = await runCli(['logout', basic.host], { env });
    expect(logout.code, logout.stderr).toBe(0);
    expect(await h.store()).toEqual({});
    expect((await h.calls()).map((c) => c.verb)).toEqual(['store', 'get', 'erase']);
    expect((await digestOf(`${basic.host}/lib/app:v1`, env)).code).toBe(1);
  });
});

describe('auths entries', () => {
  it("an identitytoken under Docker Hub's key goes through the OAuth refresh-token grant (and can push)", async () => {
    const u = new URL(hub.tokens.realm);
    u.searchParams.set('service', hub.tokens.service);
    u.searchParams.set('offline_token', 'true');
    const res = await fetch(u, { headers: { authorization: `Basic ${b64(`${USER}:${PASS}`)}` } });
    const refreshToken = ((await res.json()) as { refresh_token: string }).refresh_token;
    expect(refreshToken).toBeTruthy();
    const dir = await home({ auths: { [HUB_KEY]: { auth: b64(`${USER}:`), identitytoken: refreshToken } } });
    const before = hub.tokens.log.length;
    const r = await runCli(['copy', 'app:v1', `docker.io/${USER}/app:v1`], { env: { HOME: dir } });
    expect(r.code, r.stderr).toBe(0);
    expect(await registryDigest(hub.registry.host, `${USER}/app`, 'v1', { username: USER, password: PASS })).toBe(
      image.manifestDigest,
    );
    const asked = clientTokens(before);
    // No password is in that config: a token for carol can only have come from the refresh token.
    expect(
      asked.some(
        (t) =>
          t.account === USER &&
          !t.anonymous &&
          t.granted.some((g) => g.name === `${USER}/app` && g.actions.includes('push')),
      ),
    ).toBe(true);
    expect(asked.every((t) => t.status === 200)).toBe(true);
  });

  it("user:password under Docker Hub's key https://index.docker.io/v1/ is used for docker.io", async () => {
    const dir = await home({ auths: { [HUB_KEY]: { auth: b64(`${USER}:${PASS}`) } } });
    const before = hub.tokens.log.length;
    const r = await runCli(['copy', 'app:v1', `docker.io/${USER}/keyed:v1`], { env: { HOME: dir } });
    expect(r.code, r.stderr).toBe(0);
    expect(clientTokens(before).some((t) => t.account === USER && !t.anonymous)).toBe(true);
  });

  it("login to docker.io checks the password with the token server and stores it under Docker Hub's key", async () => {
    const dir = await home();
    const env = { HOME: dir, REGCTL_NO_KEYCHAIN: '1' };
    const bad = await runCli(['login', '-u', USER, '--password-stdin', 'docker.io'], { env, input: 'wrong\n' });
    expect(bad.code).toBe(1);
    await expect(stat(join(dir, '.docker', 'config.json'))).rejects.toThrow();
    const ok = await runCli(['login', '-u', USER, '--password-stdin', 'docker.io'], { env, input: `${PASS}\n` });
    expect(ok.code, ok.stderr).toBe(0);
    expect(Object.keys((await readConfig(dir)).auths ?? {})).toEqual([HUB_KEY]);
    expect((await runCli(['logout', 'docker.io'], { env })).code).toBe(0);
    expect((await readConfig(dir)).auths).toEqual({});
  });
});

describe('DOCKER_AUTH_CONFIG', () => {
  it("wins over docker's config.json, and takes Docker Hub's key too", async () => {
    const dir = await home({ auths: { [basic.host]: { auth: b64(`${USER}:wrong`) } } });
    const env = {
      HOME: dir,
      DOCKER_AUTH_CONFIG: JSON.stringify({
        auths: { [basic.host]: { auth: b64(`${USER}:${PASS}`) }, [HUB_KEY]: { auth: b64(`${USER}:${PASS}`) } },
      }),
    };
    const r = await digestOf(`${basic.host}/lib/app:v1`, env);
    expect(r.code, r.stderr).toBe(0);
    const before = hub.tokens.log.length;
    const push = await runCli(['copy', 'app:v1', `docker.io/${USER}/from-env:v1`], { env });
    expect(push.code, push.stderr).toBe(0);
    expect(clientTokens(before).some((t) => t.account === USER)).toBe(true);
  });
});
