// Permission is not authentication: a token granted fewer scopes than asked, or a 403, is "denied", while a wrong
// password keeps its login hint; --debug shows headers and token scopes asked and granted, secrets masked.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, registryDigest, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';
import { type TokenServerHandle, startTokenServer } from '../support/token-server.js';

const OWNER = 'owner';
const OWNER_PASS = 'owner-secret-pw';
const READER = 'reader';
const READER_PASS = 'reader-secret-pw';

let tokens: TokenServerHandle;
let reg: RegistryHandle;
let plain: RegistryHandle;
let proxy: FaultProxy;
let work: string;
let image: ImageFixture;

beforeAll(async () => {
  work = await makeTempDir('permission-test');
  tokens = await startTokenServer({
    users: { [OWNER]: OWNER_PASS, [READER]: READER_PASS },
    userActions: { [READER]: ['pull'] },
  });
  [reg, plain, image] = await Promise.all([
    startRegistry({ mode: 'token', token: tokens }),
    startRegistry(),
    makeImageLayout(join(work, 'img'), { layers: [40_000, 20_000], seed: 'permission', tag: 'v1' }),
  ]);
  proxy = await startFaultProxy(plain.url);
  await Promise.all([
    seedImage(`oci:${image.dir}:v1`, `${reg.host}/lib/app:v1`, { creds: `${OWNER}:${OWNER_PASS}` }),
    seedImage(`oci:${image.dir}:v1`, `${plain.host}/lib/app:v1`),
  ]);
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([reg?.stop(), plain?.stop(), tokens?.stop()]);
  await removeTempDir(work);
});

const owner = { username: OWNER, password: OWNER_PASS };
const reader = `${READER}:${READER_PASS}`;

describe('permission is not authentication', () => {
  it('valid credentials without push (a token granted pull only) say "denied: you may not push to REPO"', async () => {
    const r = await runCli(['copy', '--creds', reader, `${reg.host}/lib/app:v1`, `${reg.host}/team/app:v1`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^regctl: denied: you may not push to ${reg.host}/team/app$`, 'm'));
    expect(r.stderr).not.toMatch(/regctl login/);
    expect(r.stderr).toMatch(/^hint: .*lack push access/m);
    expect(await registryDigest(reg.host, 'team/app', 'v1', owner).catch(() => 'missing')).toBe('missing');
    // The token server was asked for push and answered 200 with pull only (a subset is not an error for it).
    const asksPush = (s: string) => s.startsWith('repository:team/app:') && s.includes('push');
    const asked = tokens.log.filter((t) => t.account === READER && t.scope.some(asksPush));
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((t) => t.status === 200 && t.granted.every((g) => !g.actions.includes('push')))).toBe(true);
  });

  it('a wrong password keeps the login hint and is not called a denial', async () => {
    const wrong = `${READER}:not-the-password`;
    const r = await runCli(['copy', '--creds', wrong, `${reg.host}/lib/app:v1`, `${reg.host}/team/app:v1`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(/denied/);
    expect(r.stderr).toMatch(/^hint: .*regctl login/m);
  });

  it('a 403 from the registry is "denied: you may not push to REPO"', async () => {
    proxy.failWith(403, 100, 'upload');
    try {
      const r = await runCli(['copy', `${plain.host}/lib/app:v1`, `${proxy.host}/locked/app:v1`]);
      expect(r.code, r.stderr).toBe(1);
      const denied = `^regctl: denied: you may not push to ${proxy.host}/locked/app: 403 forbidden`;
      expect(r.stderr).toMatch(new RegExp(denied, 'm'));
    } finally {
      proxy.clearFaults();
    }
  });

  it('--debug names the scopes asked and granted, and never a secret', async () => {
    const r = await runCli(['copy', '--debug', '--creds', reader, `${reg.host}/lib/app:v1`, `${reg.host}/team/dbg:v1`]);
    expect(r.code, r.stderr).toBe(1);
    const grant = /^debug: < token for .* \(user reader\): asked .*repository:team\/dbg:pull,push.*; granted (.*)$/m;
    expect(r.stderr).toMatch(grant);
    expect(grant.exec(r.stderr)![1].split(' ')).toContain('repository:team/dbg:pull');
    expect(r.stderr).not.toContain(READER_PASS);
    expect(r.stderr).not.toContain(Buffer.from(`${READER}:${READER_PASS}`).toString('base64'));
    expect(r.stderr).not.toMatch(/eyJ[A-Za-z0-9_-]{4,}\./);
  });
});

describe('--debug shows request and answer headers, secrets masked', () => {
  it('prints WWW-Authenticate, Docker-Distribution-Api-Version, Location, Range; Authorization masked', async () => {
    const creds = `${OWNER}:${OWNER_PASS}`;
    const r = await runCli(['copy', '--debug', '--creds', creds, `oci:${image.dir}:v1`, `${reg.host}/debug/hdr:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^debug: <\s+www-authenticate: Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token"/m);
    expect(r.stderr).toMatch(/^debug: <\s+docker-distribution-api-version: registry\/2\.0$/m);
    expect(r.stderr).toMatch(/^debug: <\s+location: \S*\/v2\/debug\/hdr\/blobs\/uploads\//m);
    expect(r.stderr).toMatch(/^debug: <\s+range: 0-\d+$/m);
    expect(r.stderr).toMatch(/^debug: >\s+authorization: Bearer \*\*\*$/m);
    expect(r.stderr).toMatch(/^debug: >\s+user-agent: regctl-js\//m);
    expect(r.stderr).not.toContain(OWNER_PASS);
    expect(r.stderr).not.toMatch(/eyJ[A-Za-z0-9_-]{4,}\./);
    expect(r.stderr).not.toMatch(/authorization: (basic|bearer) [^*]/i);
  });
});
