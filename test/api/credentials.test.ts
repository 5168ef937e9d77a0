// Credentials given to the library as objects, for every registry or per side, against a real htpasswd registry;
// without them the default chain finds nothing and the registry's refusal carries its code.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegctlError, copy, listTags } from '../../src/index.js';
import { type ImageFixture, makeImageLayout, registryDigest } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';

const USER = 'apiuser';
const PASS = 'api-pass-7';
let locked: RegistryHandle;
let open: RegistryHandle;
let work: string;
let image: ImageFixture;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  work = await makeTempDir('api-creds');
  [locked, open] = await Promise.all([startRegistry({ mode: 'htpasswd', users: { [USER]: PASS } }), startRegistry()]);
  image = await makeImageLayout(join(work, 'img'), { layers: [20_000], seed: 'api-creds', tag: 'v1' });
  env = { HOME: work, DOCKER_CONFIG: join(work, '.docker'), XDG_CONFIG_HOME: join(work, '.config') };
});

afterAll(async () => {
  await Promise.all([locked?.stop(), open?.stop()]);
  await removeTempDir(work);
});

describe('credentials as objects', () => {
  it('{ destination } authenticates the push; the source needs none', async () => {
    const credentials = { destination: { username: USER, password: PASS } };
    const r = await copy(`oci:${image.dir}:v1`, `${locked.host}/app/one:v1`, { env, credentials });
    const creds = { username: USER, password: PASS };
    expect(r.digest).toBe(await registryDigest(locked.host, 'app/one', 'v1', creds));
  });

  it('one credential for every registry: the locked registry as the source', async () => {
    const credentials = { username: USER, password: PASS };
    await copy(`oci:${image.dir}:v1`, `${locked.host}/app/two:v1`, { env, credentials });
    const r = await copy(`${locked.host}/app/two:v1`, `${open.host}/app/two:v1`, { env, credentials });
    expect(r.digest).toBe(await registryDigest(open.host, 'app/two', 'v1'));
    expect(await listTags(`${locked.host}/app/two`, { env, credentials })).toEqual(['v1']);
  });

  it('no credentials: the default chain finds none and the error carries the registry code', async () => {
    const err = await listTags(`${locked.host}/app/one`, { env }).catch((e) => e);
    expect(err).toBeInstanceOf(RegctlError);
    expect((err as RegctlError).code).toBe('UNAUTHORIZED');
    expect((err as RegctlError).exitCode).toBe(1);
  });

  it("a username holding ':' is refused as usage before any request", async () => {
    const credentials = { username: 'a:b', password: 'x' };
    const err = await copy(`oci:${image.dir}:v1`, `${open.host}/app/three:v1`, { env, credentials }).catch((e) => e);
    expect(err).toMatchObject({ code: 'USAGE', exitCode: 2 });
  });
});
