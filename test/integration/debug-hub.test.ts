// --debug against the Docker Hub stand-in: rate-limit headers and the CDN redirect's Location are shown, its
// signature masked; the anonymous token request names the scopes asked and granted.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hub, startHub } from '../support/hub.js';
import { type ImageFixture, makeImageLayout, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

const USER = 'hubuser';
const PASS = 'hub-debug-pass';

let hub: Hub;
let dst: RegistryHandle;
let work: string;
let home: string;
let image: ImageFixture;

beforeAll(async () => {
  work = await makeTempDir('debug-hub');
  [hub, dst, image] = await Promise.all([
    startHub({ users: { [USER]: PASS } }),
    startRegistry(),
    makeImageLayout(join(work, 'img'), { layers: [30_000], seed: 'debug-hub', tag: '1.0' }),
  ]);
  await seedImage(`oci:${image.dir}:1.0`, `${hub.registry.host}/library/dbg:1.0`, { creds: `${USER}:${PASS}` });
  home = await makeTempDir('debug-hub-home');
  await mkdir(join(home, '.config', 'regctl'), { recursive: true });
  await writeFile(join(home, '.config', 'regctl', 'config.json'), JSON.stringify(hub.hostsConfig()));
});

afterAll(async () => {
  await Promise.all([hub?.stop(), dst?.stop()]);
  await removeTempDir(work);
  await removeTempDir(home);
});

describe('--debug against Docker Hub', () => {
  it('shows rate-limit headers, the CDN Location with its signature masked, and the anonymous grant', async () => {
    const r = await runCli(['copy', '--debug', 'dbg:1.0', `${dst.host}/mirror/dbg:1.0`], { env: { HOME: home } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^debug: <\s+ratelimit-limit: 100;w=21600$/m);
    expect(r.stderr).toMatch(/^debug: <\s+ratelimit-remaining: \d+;w=21600$/m);
    const cdn = /^debug: <\s+location: http:\/\/127\.0\.0\.1:\d+\/blobs\/library\/dbg\/sha256:[0-9a-f]{64}\?(.*)$/m;
    expect(r.stderr).toMatch(cdn);
    expect(cdn.exec(r.stderr)![1]).toBe('expires=***&signature=***');
    expect(r.stderr).not.toMatch(/signature=[0-9a-f]/);
    const scope = 'repository:library/dbg:pull';
    const grant = `token for docker.io (anonymous): asked ${scope}; granted ${scope}`;
    expect(r.stderr.split('\n')).toContain(`debug: < ${grant}`);
  });
});
