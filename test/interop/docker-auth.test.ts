// Credentials shared with Docker Engine's CLI (docker 20.10): config.json `auths` and credsStore helpers, both ways.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type CredHelper, makeCredHelper } from '../support/cred-helper.js';
import {
  type BusyboxFixture,
  type DockerHandle,
  describeDocker,
  makeBusyboxLayout,
  startDocker,
} from '../support/docker.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';
import { type TokenServerHandle, startTokenServer } from '../support/token-server.js';

const USER = 'alice';
const PASS = 'al1ce-secret';

let d: DockerHandle;
let basic: RegistryHandle;
let tokens: TokenServerHandle;
let token: RegistryHandle;
let work: string;
let bb: BusyboxFixture;
let helper: CredHelper;
let n = 0;

/** A fresh DOCKER_CONFIG dir shared by docker and regctl, optionally with a config.json. */
async function configDir(doc?: object): Promise<string> {
  const dir = join(work, `cfg-${++n}`);
  await mkdir(dir, { mode: 0o700 });
  if (doc) await writeFile(join(dir, 'config.json'), JSON.stringify(doc));
  return dir;
}

/**
 * regctl with that DOCKER_CONFIG; no D-Bus session, so the OS keychain is unusable and `regctl login` falls back to
 * config.json (or the configured credsStore), where docker finds it.
 */
function regctl(args: string[], cfg: string, extra: { input?: string; path?: string } = {}) {
  const env = {
    DOCKER_CONFIG: cfg,
    DBUS_SESSION_BUS_ADDRESS: undefined,
    DISPLAY: undefined,
    ...(extra.path ? { PATH: extra.path } : {}),
  };
  return runCli(args, { env, ...(extra.input !== undefined ? { input: extra.input } : {}) });
}

function docker(args: string[], cfg: string, extra: { input?: string; path?: string } = {}) {
  const env = { DOCKER_CONFIG: cfg, ...(extra.path ? { PATH: extra.path } : {}) };
  return d.docker(args, { env, reject: false, ...(extra.input !== undefined ? { input: extra.input } : {}) });
}

/** The helper's dir first on PATH (for both CLIs), and stdin. */
const withHelper = (input?: string) => ({ path: helper.path, ...(input !== undefined ? { input } : {}) });

const MODES = ['htpasswd', 'token'] as const;
const registry = (mode: (typeof MODES)[number]): RegistryHandle => (mode === 'htpasswd' ? basic : token);

describeDocker('credentials shared by docker and regctl', () => {
  beforeAll(async () => {
    work = await makeTempDir('dk-auth');
    tokens = await startTokenServer({ users: { [USER]: PASS }, anonymousPull: false });
    [d, basic, token, bb, helper] = await Promise.all([
      startDocker(),
      startRegistry({ mode: 'htpasswd', users: { [USER]: PASS } }),
      startRegistry({ mode: 'token', token: tokens }),
      makeBusyboxLayout(join(work, 'bb'), { tag: 'v1' }),
      makeCredHelper('regctltest'),
    ]);
    for (const reg of [basic, token]) {
      const cfg = await configDir();
      const r = await regctl(['push', '--creds', `${USER}:${PASS}`, `oci:${bb.dir}:v1`, `${reg.host}/lib/bb:v1`], cfg);
      expect(r.code, r.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await d?.stop();
    await basic?.stop();
    await token?.stop();
    await tokens?.stop();
    await helper?.remove();
    await removeTempDir(work);
  });

  it.each(MODES)(
    'docker login (%s) writes config.json, regctl pushes with it, and regctl logout undoes it for docker',
    async (mode) => {
      const reg = registry(mode);
      const cfg = await configDir();
      const login = await docker(['login', '-u', USER, '--password-stdin', reg.host], cfg, { input: PASS });
      expect(login.code, login.stderr).toBe(0);
      type Written = { auths: Record<string, { auth?: string; identitytoken?: string }> };
      const written = JSON.parse(await readFile(join(cfg, 'config.json'), 'utf8')) as Written;
      expect(Object.keys(written.auths)).toEqual([reg.host]);
      // Against a token server docker keeps the refresh token it asked for (offline_token=true), not the password.
      if (mode === 'token') expect(written.auths[reg.host]?.identitytoken).toBeTruthy();
      else expect(written.auths[reg.host]?.auth).toBe(Buffer.from(`${USER}:${PASS}`).toString('base64'));
      const pushed = await regctl(['push', `oci:${bb.dir}:v1`, `${reg.host}/lib/from-docker-login:v1`], cfg);
      expect(pushed.code, pushed.stderr).toBe(0);
      expect(pushed.stdout.trim()).toBe(`${reg.host}/lib/from-docker-login:v1@${bb.manifestDigest}`);
      // regctl logout drops docker's entry (a refresh token for the token registry): docker's next pull is refused.
      expect((await regctl(['logout', reg.host], cfg)).code).toBe(0);
      expect(JSON.parse(await readFile(join(cfg, 'config.json'), 'utf8'))).toEqual({ auths: {} });
      expect((await docker(['pull', `${reg.host}/lib/bb:v1`], cfg)).code).not.toBe(0);
    },
  );

  it.each(MODES)(
    'regctl login (%s, config.json) lets docker pull; after regctl logout docker is anonymous, refused',
    async (mode) => {
      const reg = registry(mode);
      const cfg = await configDir();
      const ref = `${reg.host}/lib/bb:v1`;
      expect((await docker(['pull', ref], cfg)).code).not.toBe(0);
      const login = await regctl(['login', reg.host, '-u', USER, '--password-stdin'], cfg, { input: PASS });
      expect(login.code, login.stderr).toBe(0);
      expect(login.stderr).toContain(join(cfg, 'config.json'));
      const pulled = await docker(['pull', ref], cfg);
      expect(pulled.code, pulled.stderr).toBe(0);
      expect(pulled.stdout).toContain(`Digest: ${bb.manifestDigest}`);
      await d.docker(['rmi', ref]);

      const logout = await regctl(['logout', reg.host], cfg);
      expect(logout.code, logout.stderr).toBe(0);
      const anonymous = await docker(['pull', ref], cfg);
      expect(anonymous.code).not.toBe(0);
      const refused = mode === 'htpasswd' ? /no basic auth credentials/ : /access to the resource is denied/;
      expect(anonymous.stderr).toMatch(refused);
    },
  );

  it.each(MODES)(
    'credsStore helper (%s): regctl login stores through it, docker pulls through it, logout erases',
    async (mode) => {
      const reg = registry(mode);
      const cfg = await configDir({ credsStore: helper.name });
      const ref = `${reg.host}/lib/bb:v1`;
      const login = await regctl(['login', reg.host, '-u', USER, '--password-stdin'], cfg, withHelper(PASS));
      expect(login.code, login.stderr).toBe(0);
      expect((await helper.store())[reg.host]).toEqual({ Username: USER, Secret: PASS });
      expect(JSON.parse(await readFile(join(cfg, 'config.json'), 'utf8'))).toEqual({ credsStore: helper.name });

      const before = (await helper.calls()).length;
      const pulled = await docker(['pull', ref], cfg, { path: helper.path });
      expect(pulled.code, pulled.stderr).toBe(0);
      expect((await helper.calls()).slice(before)).toContainEqual({ verb: 'get', input: reg.host });
      await d.docker(['rmi', ref]);

      const logout = await regctl(['logout', reg.host], cfg, { path: helper.path });
      expect(logout.code, logout.stderr).toBe(0);
      expect((await helper.store())[reg.host]).toBeUndefined();
      const anonymous = await docker(['pull', ref], cfg, { path: helper.path });
      expect(anonymous.code).not.toBe(0);
    },
  );

  it('with credHelpers naming a helper for one registry: regctl login stores there, docker pulls through it', async () => {
    const cfg = await configDir({ credHelpers: { [basic.host]: helper.name } });
    const login = await regctl(['login', basic.host, '-u', USER, '--password-stdin'], cfg, withHelper(PASS));
    expect(login.code, login.stderr).toBe(0);
    expect((await helper.store())[basic.host]).toEqual({ Username: USER, Secret: PASS });
    const pulled = await docker(['pull', `${basic.host}/lib/bb:v1`], cfg, { path: helper.path });
    expect(pulled.code, pulled.stderr).toBe(0);
    await d.docker(['rmi', `${basic.host}/lib/bb:v1`]);
    expect((await regctl(['logout', basic.host], cfg, { path: helper.path })).code).toBe(0);
    expect((await helper.store())[basic.host]).toBeUndefined();
  });

  it.each(MODES)(
    'docker login via a credsStore helper (%s): regctl pushes with it; regctl logout erases it',
    async (mode) => {
      const reg = registry(mode);
      const cfg = await configDir({ credsStore: helper.name });
      const login = await docker(['login', '-u', USER, '--password-stdin', reg.host], cfg, withHelper(PASS));
      expect(login.code, login.stderr).toBe(0);
      expect((await helper.store())[reg.host]?.Username).toBeDefined();
      const pushed = await regctl(['push', `oci:${bb.dir}:v1`, `${reg.host}/lib/from-helper:v1`], cfg, withHelper());
      expect(pushed.code, pushed.stderr).toBe(0);
      expect(pushed.stdout.trim()).toBe(`${reg.host}/lib/from-helper:v1@${bb.manifestDigest}`);
      // And regctl logout undoes docker's login: the helper entry and docker's empty `auths` entry go.
      const logout = await regctl(['logout', reg.host], cfg, { path: helper.path });
      expect(logout.code, logout.stderr).toBe(0);
      expect((await helper.store())[reg.host]).toBeUndefined();
      const left = JSON.parse(await readFile(join(cfg, 'config.json'), 'utf8')) as unknown;
      expect(left).toEqual({ auths: {}, credsStore: helper.name });
      expect((await docker(['pull', `${reg.host}/lib/bb:v1`], cfg, { path: helper.path })).code).not.toBe(0);
    },
  );
});
