// Files holding credentials (issue 14, item 6): written through writeAtomic — a random temp name created O_EXCL with
// mode 0600, then renamed — so a link planted at the old predictable temp name `FILE.<pid>.tmp` is never written
// through.
import { lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keychainIndexPath, writeKeychainIndex } from '../../src/credentials/keychain.js';
import { storeLogin } from '../../src/credentials/store.js';
import { writeAtomic } from '../../src/util/fs.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';

let dir: string;
let victim: string;
const VICTIM_TEXT = 'the victim file: must stay as it is\n';

beforeAll(async () => {
  dir = await makeTempDir('cred-files');
  victim = join(dir, 'victim.txt');
});

afterAll(async () => {
  await removeTempDir(dir);
});

/** A link at every temp name the old code used for `path` (pid-based), pointing at the victim file. */
async function plant(path: string): Promise<void> {
  await writeFile(victim, VICTIM_TEXT);
  await symlink(victim, `${path}.${process.pid}.tmp`);
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('credential files are never written through a planted link', () => {
  it('regctl login (config.json fallback): the link target is untouched, config.json is 0600', async () => {
    const docker = join(dir, 'docker');
    await mkdir(docker);
    const path = join(docker, 'config.json');
    await plant(path);
    const log = { info() {}, warn() {}, debug() {} };
    const deps = { env: { DOCKER_CONFIG: docker, REGCTL_NO_KEYCHAIN: '1' }, log };
    expect((await storeLogin(deps, 'registry.example:5000', { username: 'u', password: 'p4ss' })).where).toBe(path);
    expect(await readFile(victim, 'utf8')).toBe(VICTIM_TEXT);
    expect((await lstat(path)).isFile()).toBe(true);
    expect(await mode(path)).toBe(0o600);
    const doc = JSON.parse(await readFile(path, 'utf8'));
    expect(doc.auths['registry.example:5000'].auth).toBe(Buffer.from('u:p4ss').toString('base64'));
  });

  it("the keychain fallback's list of logins: the link target is untouched, the file is 0600", async () => {
    const env = { XDG_CONFIG_HOME: join(dir, 'xdg') };
    const path = keychainIndexPath(env);
    await mkdir(join(dir, 'xdg', 'regctl'), { recursive: true });
    await plant(path);
    await writeKeychainIndex(env, ['registry.example:5000']);
    expect(await readFile(victim, 'utf8')).toBe(VICTIM_TEXT);
    expect(await mode(path)).toBe(0o600);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(['registry.example:5000']);
  });

  it('writeAtomic: mode 0600 on request, and no temp name is left behind', async () => {
    const path = join(dir, 'token.json');
    await writeAtomic(path, Buffer.from('{}'), undefined, { mode: 0o600 });
    expect(await mode(path)).toBe(0o600);
    expect((await readdir(dir)).filter((n) => n.includes('token.json') && n !== 'token.json')).toEqual([]);
  });
});
