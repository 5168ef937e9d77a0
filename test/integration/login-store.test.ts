// `regctl login` says once which store it used and why. The installed tree is copied as npm lays it out (bin, dist,
// node_modules/keytar) with keytar's native module never built (npm 11 withheld its install script) or keytar absent.
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { REGCTL_BIN, SCRUB } from '../support/run-cli.js';

const USER = 'carol';
const PASS = 'c4rol-secret-pw';
const ROOT = join(REGCTL_BIN, '..', '..');

let reg: RegistryHandle;
let work: string;
let n = 0;

/** A copy of the installed package: bin/ and dist/bundle/, and node_modules/keytar as `keytar` says. */
async function installTree(keytar: 'unbuilt' | 'absent'): Promise<string> {
  const dir = join(work, `tree-${keytar}`);
  await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  await cp(join(ROOT, 'dist', 'bundle'), join(dir, 'dist', 'bundle'), { recursive: true });
  await cp(join(ROOT, 'package.json'), join(dir, 'package.json'));
  await mkdir(join(dir, 'node_modules'));
  if (keytar === 'unbuilt') {
    const real = await realpath(join(ROOT, 'node_modules', 'keytar'));
    await cp(real, join(dir, 'node_modules', 'keytar'), {
      recursive: true,
      filter: (src) => !src.startsWith(join(real, 'build')),
    });
  }
  return dir;
}

async function login(
  bin: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string; home: string }> {
  const home = join(work, `home${++n}`);
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !SCRUB.test(k) && k !== 'NODE_PATH') base[k] = v;
  Object.assign(
    base,
    {
      HOME: home,
      DOCKER_CONFIG: join(home, '.docker'),
      XDG_CONFIG_HOME: join(home, '.config'),
      NO_COLOR: '1',
      CI: 'true',
    },
    env,
  );
  const child = execFile(process.execPath, [bin, 'login', '-u', USER, '--password-stdin', reg.host], { env: base });
  child.stdin!.end(`${PASS}\n`);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, stderr, home };
}

const storeLines = (stderr: string) => stderr.split('\n').filter((l) => /stored|storing/.test(l));

beforeAll(async () => {
  work = await makeTempDir('login-store');
  reg = await startRegistry({ mode: 'htpasswd', users: { [USER]: PASS } });
});

afterAll(async () => {
  await reg?.stop();
  await removeTempDir(work);
});

describe('regctl login names its store once, and why', () => {
  it('keytar installed but not built: one warning naming config.json, the reason and the npm command', async () => {
    const tree = await installTree('unbuilt');
    const r = await login(join(tree, 'bin', 'regctl'));
    expect(r.code, r.stderr).toBe(0);
    expect(storeLines(r.stderr)).toEqual([
      `warning: the OS keychain is not usable (keytar is installed but not built: ` +
        `npm did not run its install script): ` +
        `storing the credentials unencrypted in ${join(r.home, '.docker', 'config.json')}; ` +
        'for the keychain: npm rebuild -g --allow-scripts=keytar keytar',
    ]);
    const cfg = JSON.parse(await readFile(join(r.home, '.docker', 'config.json'), 'utf8'));
    expect(Buffer.from(cfg.auths[reg.host].auth, 'base64').toString()).toBe(`${USER}:${PASS}`);
  });

  it('keytar not installed: one warning saying so', async () => {
    const tree = await installTree('absent');
    const r = await login(join(tree, 'bin', 'regctl'));
    expect(r.code, r.stderr).toBe(0);
    expect(storeLines(r.stderr)).toEqual([
      expect.stringMatching(
        /^warning: the OS keychain is not usable \(keytar is not installed\): storing the credentials unencrypted in .*config\.json; for/,
      ),
    ]);
  });

  it('REGCTL_NO_KEYCHAIN: one line naming config.json and the variable', async () => {
    const r = await login(REGCTL_BIN, { REGCTL_NO_KEYCHAIN: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(storeLines(r.stderr)).toEqual([
      `credentials for ${reg.host} stored unencrypted in ${join(r.home, '.docker', 'config.json')} ` +
        `(REGCTL_NO_KEYCHAIN is set)`,
    ]);
  });
});
