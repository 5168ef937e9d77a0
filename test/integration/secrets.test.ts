// Secrets stay secret: --debug traces and error messages never show passwords, tokens, Authorization values or signed
// URLs.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, registryDigest, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { freePort } from '../support/ports.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { type CliResult, runCli } from '../support/run-cli.js';
import { type TokenServerHandle, startTokenServer } from '../support/token-server.js';

const USER = 'carol';
const PASS = 'Sup3r-Secret-Passw0rd';
const creds = `${USER}:${PASS}`;
const BASIC = Buffer.from(creds).toString('base64');
const SIGNATURE = 'deadbeefcafef00d0123456789abcdef';
const AMZ_CREDENTIAL = 'AKIAIOSFODNN7EXAMPLE';
const SESSION_TOKEN = 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN';

let tokens: TokenServerHandle;
let tokenReg: RegistryHandle;
let basicReg: RegistryHandle;
let plain: RegistryHandle;
let T: FaultProxy;
let B: FaultProxy;
let P: FaultProxy;
let work: string;
let image: ImageFixture;
let n = 0;

/** Every secret a run could leak: the password, the Basic value, any token the registry was sent, signed URL parts. */
function expectNoSecret(r: CliResult, proxies: FaultProxy[]): void {
  const out = `${r.stdout}\n${r.stderr}`;
  const sent = proxies.flatMap((p) => p.stats.map((s) => s.authHeader).filter((h): h is string => Boolean(h)));
  const values = new Set([
    PASS,
    BASIC,
    SIGNATURE,
    AMZ_CREDENTIAL,
    SESSION_TOKEN,
    ...sent.map((h) => h.replace(/^\S+\s+/, '')),
  ]);
  for (const v of values) expect(out.includes(v), `leaked ${v.slice(0, 12)}…`).toBe(false);
  expect(out).not.toMatch(/eyJ[\w-]{8,}\.[\w-]{8,}/); // no JWT at all
}

beforeAll(async () => {
  work = await makeTempDir('secrets-test');
  tokens = await startTokenServer({ users: { [USER]: PASS } });
  [tokenReg, basicReg, plain, image] = await Promise.all([
    startRegistry({ mode: 'token', token: tokens }),
    startRegistry({ mode: 'htpasswd', users: { [USER]: PASS } }),
    startRegistry(),
    makeImageLayout(join(work, 'img'), { layers: [50_000, 20_000], seed: 'secrets-img', tag: 'v1' }),
  ]);
  [T, B, P] = await Promise.all([
    startFaultProxy(tokenReg.url),
    startFaultProxy(basicReg.url),
    startFaultProxy(plain.url),
  ]);
  await Promise.all([
    seedImage(`oci:${image.dir}:v1`, `${tokenReg.host}/lib/app:v1`, { creds }),
    seedImage(`oci:${image.dir}:v1`, `${basicReg.host}/lib/app:v1`, { creds }),
    seedImage(`oci:${image.dir}:v1`, `${plain.host}/lib/app:v1`),
  ]);
});

afterAll(async () => {
  await Promise.all([T?.stop(), B?.stop(), P?.stop()]);
  await Promise.all([tokenReg?.stop(), basicReg?.stop(), plain?.stop(), tokens?.stop()]);
  await removeTempDir(work);
});

describe('--debug traces', () => {
  it('show every request but no password, token or Authorization value (Bearer token registry)', async () => {
    T.clearFaults();
    T.reset();
    const r = await runCli([
      'copy',
      '--debug',
      '--creds',
      creds,
      `${T.host}/lib/app:v1`,
      `${T.host}/copy/app${++n}:v1`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^debug: > HEAD /m);
    expect(r.stderr).toMatch(/^debug: < 20\d PUT /m);
    expect(T.stats.some((s) => s.authorization === 'bearer')).toBe(true);
    expectNoSecret(r, [T]);
  });

  it('show no password or Basic value (htpasswd registry)', async () => {
    B.clearFaults();
    B.reset();
    const r = await runCli([
      'copy',
      '--debug',
      '--creds',
      creds,
      `${B.host}/lib/app:v1`,
      `${B.host}/copy/app${++n}:v1`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(B.stats.some((s) => s.authorization === 'basic')).toBe(true);
    expect(r.stderr).toMatch(/^debug: /m);
    expectNoSecret(r, [B]);
  });

  it('mask signed query strings of a redirect (X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token)', async () => {
    P.clearFaults();
    P.reset();
    const layer = image.layerDigests[0];
    const signed =
      `${plain.url}/v2/lib/app/blobs/${layer}?X-Amz-Algorithm=AWS4-HMAC-SHA256` +
      `&X-Amz-Credential=${AMZ_CREDENTIAL}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request` +
      `&X-Amz-Date=20240101T000000Z&X-Amz-Expires=600&X-Amz-Security-Token=${SESSION_TOKEN}` +
      `&X-Amz-SignedHeaders=host&X-Amz-Signature=${SIGNATURE}`;
    P.rewrite(
      (r) => r.kind === 'blob-get' && r.ref === layer,
      () => ({ status: 307, headers: { location: signed }, body: Buffer.alloc(0) }),
    );
    const repo = `redirect/app${++n}`;
    const r = await runCli(['copy', '--debug', `${P.host}/lib/app:v1`, `${plain.host}/${repo}:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(await registryDigest(plain.host, repo, 'v1')).toBe(image.manifestDigest);
    // The CDN hop is traced, with its secrets masked.
    expect(r.stderr).toMatch(
      /^debug: > GET http:\/\/127\.0\.0\.1:\d+\/v2\/lib\/app\/blobs\/sha256:[0-9a-f]+\?.*X-Amz-Signature=\*\*\*/m,
    );
    expect(r.stderr).toMatch(/X-Amz-Credential=\*\*\*/);
    expectNoSecret(r, [P]);
  });

  it('mask the verify= signature of a Docker Hub CDN redirect', async () => {
    P.clearFaults();
    P.reset();
    const layer = image.layerDigests[0];
    // Docker Hub's blob redirects are Cloudflare URLs signed by one query parameter: `…/data?verify=<expiry>-<sig>`.
    const verify = 'S1gnedByTheCdnOnly-Zm9vYmFyLWNkbg';
    const location = `${plain.url}/v2/lib/app/blobs/${layer}?verify=1733300000-${verify}`;
    const redirect = { status: 307, headers: { location }, body: Buffer.alloc(0) };
    P.rewrite(
      (r) => r.kind === 'blob-get' && r.ref === layer,
      () => redirect,
    );
    const r = await runCli(['copy', '--debug', `${P.host}/lib/app:v1`, `${plain.host}/verify/app${++n}:v1`]);
    expect(r.stderr).not.toContain(verify);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^debug: > GET http:\/\/127\.0\.0\.1:\d+\/v2\/lib\/app\/blobs\/\S+\?verify=\*\*\*/m);
  });
});

describe('error messages', () => {
  it('a registry error that echoes the password or the Basic value in its own words does not pass it on', async () => {
    B.clearFaults();
    B.reset();
    const message = `creds ${BASIC} refused: bad password ${PASS}`;
    const body = Buffer.from(JSON.stringify({ errors: [{ code: 'DENIED', message }] }));
    B.rewrite('manifest-get', () => ({ status: 403, headers: { 'content-type': 'application/json' }, body }), 5);
    const dest = `${plain.host}/echo/app${++n}:v1`;
    const r = await runCli(['copy', '--debug', '--creds', creds, `${B.host}/lib/app:v1`, dest]);
    expectNoSecret(r, [B]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^regctl: .*403 forbidden \(DENIED: creds \*\*\* refused: bad password \*\*\*\)$/m);
  });

  it('a registry error that echoes the Authorization header does not pass it on', async () => {
    T.clearFaults();
    T.reset();
    T.rewrite('manifest-get', (_res, req) => ({
      status: 403,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(
        JSON.stringify({
          errors: [
            {
              code: 'DENIED',
              message: `access denied for ${req.headers.authorization}`,
              detail: { authorization: req.headers.authorization },
            },
          ],
        }),
      ),
    }));
    const r = await runCli(['copy', '--creds', creds, `${T.host}/lib/app:v1`, `${plain.host}/denied/app${++n}:v1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^regctl: .*403 forbidden \(DENIED: access denied for Bearer \*\*\*\)/m);
    expectNoSecret(r, [T]);
  });

  it('credentials in a mirror endpoint URL never appear in the error', async () => {
    const port = await freePort(); // nothing listens there
    const config = join(work, `mirror-${++n}.json`);
    await writeFile(
      config,
      JSON.stringify({ hosts: { 'mirror.invalid': { endpoint: `http://bob:${PASS}@127.0.0.1:${port}` } } }),
    );
    const r = await runCli(['digest', '--retries', '0', 'mirror.invalid/lib/app:v1'], {
      env: { REGCTL_CONFIG: config },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^regctl: .*connection refused/m);
    expectNoSecret(r, []);
    expect(r.stderr).not.toContain('bob:');
  });

  it('credentials in a mirror endpoint URL never appear in an HTTP error or the --debug trace', async () => {
    P.clearFaults();
    P.reset();
    P.failWith(500, 5, 'manifest-head');
    const config = join(work, `mirror-${++n}.json`);
    await writeFile(
      config,
      JSON.stringify({ hosts: { 'mirror.invalid': { endpoint: `http://bob:${PASS}@${P.host}` } } }),
    );
    const r = await runCli(['digest', '--debug', '--retries', '0', 'mirror.invalid/lib/app:v1'], {
      env: { REGCTL_CONFIG: config },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^regctl: .*500 server error/m);
    expectNoSecret(r, [P]);
  });

  it('a signed redirect that fails names the blob, not the signed URL', async () => {
    P.clearFaults();
    P.reset();
    const layer = image.layerDigests[1];
    const signed =
      `${plain.url}/nowhere/${layer}?X-Amz-Credential=${AMZ_CREDENTIAL}` +
      `&X-Amz-Security-Token=${SESSION_TOKEN}&X-Amz-Signature=${SIGNATURE}`;
    P.rewrite(
      (r) => r.kind === 'blob-get' && r.ref === layer,
      () => ({ status: 302, headers: { location: signed }, body: Buffer.alloc(0) }),
      10,
    );
    const r = await runCli(['copy', '--retries', '0', `${P.host}/lib/app:v1`, `${plain.host}/signed/app${++n}:v1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^regctl: blob .*${layer}: 404`, 'm'));
    expectNoSecret(r, [P]);
  });
});
