// The OS keychain for real: keytar against gnome-keyring in a private D-Bus session; without a bus, config.json and a
// warning.
import { spawn } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageFixture, makeImageLayout, seedImage } from '../support/images.js';
import { killChild, makeTempDir, removeTempDir, trackChild } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { REGCTL_BIN, runCli } from '../support/run-cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const USER = 'dave';
const PASS = 'd4ve-secret';

let reg: RegistryHandle;
let work: string;
let image: ImageFixture;

beforeAll(async () => {
  work = await makeTempDir('keychain-test');
  [reg, image] = await Promise.all([
    startRegistry({ mode: 'htpasswd', users: { [USER]: PASS } }),
    makeImageLayout(join(work, 'img'), { layers: [20_000], seed: 'keychain-img', tag: 'v1' }),
  ]);
  await seedImage(`oci:${image.dir}:v1`, `${reg.host}/lib/app:v1`, { creds: `${USER}:${PASS}` });
});

afterAll(async () => {
  await reg?.stop();
  await removeTempDir(work);
});

/**
 * The CLI's environment: an isolated HOME, no D-Bus or X display of the developer's session, no
 * REGCTL_/DOCKER_/AWS_/XDG_.
 */
function isolatedEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(REGCTL_|DOCKER_|AWS_|XDG_|DBUS_|DISPLAY$|WAYLAND_)/.test(k)) env[k] = v;
  return {
    ...env,
    HOME: home,
    DOCKER_CONFIG: join(home, '.docker'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_RUNTIME_DIR: join(home, 'run'),
    NO_COLOR: '1',
    CI: 'true',
  };
}

interface Step {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `steps` (name → shell command) in one `dbus-run-session` with gnome-keyring unlocked, as a desktop login would
 * leave it; each step's output and status are kept in files and read back.
 */
async function inKeyringSession(home: string, steps: Array<[string, string]>): Promise<Record<string, Step>> {
  const out = join(home, 'steps');
  await mkdir(out, { recursive: true });
  await mkdir(join(home, 'run'), { recursive: true, mode: 0o700 });
  const lines = steps.map(
    ([name, cmd]) => `( ${cmd} ) >${out}/${name}.out 2>${out}/${name}.err </dev/null; echo $? >${out}/${name}.rc`,
  );
  const script = ['echo -n session-pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null', ...lines].join(
    '\n',
  );
  const child = spawn('dbus-run-session', ['--', 'bash', '-c', script], {
    cwd: ROOT,
    env: isolatedEnv(home),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  trackChild(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => void killChild(child, 0), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  expect(code, stderr).toBe(0);
  const results: Record<string, Step> = {};
  for (const [name] of steps) {
    const read = (ext: string) => readFile(join(out, `${name}.${ext}`), 'utf8').catch(() => '');
    results[name] = { code: Number((await read('rc')).trim()), stdout: await read('out'), stderr: await read('err') };
  }
  return results;
}

const regctl = (args: string) => `node ${REGCTL_BIN} ${args}`;
const keytarGet = (account: string) =>
  `node --input-type=module -e "const k = (await import('keytar')).default; ` +
  `process.stdout.write(JSON.stringify(await k.getPassword('regctl', '${account}')))"`;
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

describe('the OS keychain (keytar + gnome-keyring over D-Bus)', () => {
  it('login stores in the keychain (not config.json), a later command uses it, logout removes it', async () => {
    const home = await makeTempDir('keychain-home');
    try {
      const r = await inKeyringSession(home, [
        ['login', `printf '%s' '${PASS}' | ${regctl(`login -u ${USER} --password-stdin ${reg.host}`)}`],
        ['stored', keytarGet(reg.host)],
        ['digest', regctl(`digest ${reg.host}/lib/app:v1`)],
        ['logout', regctl(`logout ${reg.host}`)],
        ['gone', keytarGet(reg.host)],
        ['after', regctl(`digest ${reg.host}/lib/app:v1`)],
      ]);
      expect(r.login, JSON.stringify(r.login)).toMatchObject({ code: 0, stdout: 'Login Succeeded\n' });
      expect(r.login.stderr).toMatch(/stored in the OS keychain/);
      expect(r.login.stderr).not.toContain(PASS);
      expect(JSON.parse(JSON.parse(r.stored.stdout) as string)).toEqual({ username: USER, password: PASS });
      expect(r.digest, JSON.stringify(r.digest)).toMatchObject({ code: 0, stdout: `${image.manifestDigest}\n` });
      expect(r.logout.code, r.logout.stderr).toBe(0);
      expect(r.logout.stdout).toMatch(/Removed login credentials/);
      expect(JSON.parse(r.gone.stdout)).toBeNull();
      expect(r.after.code).toBe(1);
      expect(r.after.stderr).toMatch(/401 unauthorized/);
      // The password never touched docker's config.json; regctl's index of keychain logins is empty again.
      expect(await exists(join(home, '.docker', 'config.json'))).toBe(false);
      expect(JSON.parse(await readFile(join(home, '.config', 'regctl', 'keychain-logins.json'), 'utf8'))).toEqual([]);
    } finally {
      await removeTempDir(home);
    }
  });
});

describe('without a session bus', () => {
  const env = (home: string) => ({ HOME: home, DBUS_SESSION_BUS_ADDRESS: undefined, DISPLAY: undefined });

  it('login falls back to config.json (0600) and says so; later commands use it', async () => {
    const home = await makeTempDir('nobus-home');
    try {
      const r = await runCli(['login', '-u', USER, '--password-stdin', reg.host], { env: env(home), input: PASS });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(
        /^warning: the OS keychain is not usable \(.*D-Bus.*\): storing the credentials unencrypted in .*config\.json$/m,
      );
      const path = join(home, '.docker', 'config.json');
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      const doc = JSON.parse(await readFile(path, 'utf8')) as { auths: Record<string, { auth: string }> };
      expect(Buffer.from(doc.auths[reg.host].auth, 'base64').toString()).toBe(`${USER}:${PASS}`);
      expect(await exists(join(home, '.config', 'regctl', 'keychain-logins.json'))).toBe(false);
      const d = await runCli(['digest', `${reg.host}/lib/app:v1`], { env: env(home) });
      expect(d.stdout.trim()).toBe(image.manifestDigest);
    } finally {
      await removeTempDir(home);
    }
  });

  it('a keychain login that cannot be reached now is no crash: lookups fall through, logout warns and forgets it', async () => {
    const home = await makeTempDir('nobus-home');
    try {
      await mkdir(join(home, '.config', 'regctl'), { recursive: true });
      await writeFile(join(home, '.config', 'regctl', 'keychain-logins.json'), JSON.stringify([reg.host]));
      const d = await runCli(['digest', `${reg.host}/lib/app:v1`], { env: env(home) });
      expect(d.code).toBe(1);
      expect(d.stderr.split('\n').filter(Boolean)).toEqual([
        expect.stringMatching(/^regctl: .*401 unauthorized/),
        expect.stringMatching(/^hint: /),
      ]);
      const withCreds = await runCli(['digest', '--creds', `${USER}:${PASS}`, `${reg.host}/lib/app:v1`], {
        env: env(home),
      });
      expect(withCreds.code).toBe(0);
      const out = await runCli(['logout', reg.host], { env: env(home) });
      expect(out.code, out.stderr).toBe(0);
      expect(out.stderr).toMatch(/^warning: could not delete the OS keychain entry of .*regctl no longer uses it$/m);
      expect(JSON.parse(await readFile(join(home, '.config', 'regctl', 'keychain-logins.json'), 'utf8'))).toEqual([]);
    } finally {
      await removeTempDir(home);
    }
  });
});
