// TLS: verified by default (a self-signed CA made here with openssl), --insecure, a per-host CA or tls mode in the
// hosts config; the loopback HTTPS→HTTP probe never turns a certificate failure into plain HTTP.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageFixture, makeImageLayout, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { type CliResult, runCli } from '../support/run-cli.js';

const run = promisify(execFile);

let work: string;
let tls: RegistryHandle;
let plain: RegistryHandle;
let image: ImageFixture;
let caPem: string;
let otherCaPem: string;
let n = 0;

/** A CA (key + self-signed certificate) in `dir`; returns the certificate path. */
async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-keyout',
    key,
    '-out',
    cert,
    '-subj',
    `/CN=regctl test ${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

/** A server certificate for 127.0.0.1 and localhost, signed by the CA. */
async function makeServerCert(
  dir: string,
  ca: { cert: string; key: string },
): Promise<{ certificate: string; key: string }> {
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const certificate = join(dir, 'server.pem');
  const ext = join(dir, 'server.ext');
  await writeFile(
    ext,
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' +
      'keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  await run('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    '/CN=127.0.0.1',
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    certificate,
    '-extfile',
    ext,
  ]);
  return { certificate, key };
}

async function configWith(hosts: Record<string, unknown>): Promise<string> {
  const path = join(work, `config-${++n}.json`);
  await writeFile(path, JSON.stringify({ hosts }));
  return path;
}

function expectCertificateError(r: CliResult): void {
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines.filter((l) => l.startsWith('regctl: '))).toHaveLength(1);
  expect(r.stderr).toMatch(/^regctl: 127\.0\.0\.1:\d+: the TLS certificate is not trusted/m);
  expect(r.stderr).toMatch(/^hint: .*"ca".*--insecure/m);
  // Not the answer of a plain-HTTP attempt against a TLS port.
  expect(r.stderr).not.toMatch(/400|HTTP request to an HTTPS server/);
}

beforeAll(async () => {
  work = await makeTempDir('tls-test');
  const ca = await makeCa(work, 'ca');
  caPem = ca.cert;
  otherCaPem = (await makeCa(work, 'other-ca')).cert;
  const server = await makeServerCert(work, ca);
  [tls, plain, image] = await Promise.all([
    startRegistry({ tls: server }),
    startRegistry(),
    makeImageLayout(join(work, 'img'), { layers: [40_000, 20_000], seed: 'tls-img', tag: 'v1' }),
  ]);
  await Promise.all([
    seedImage(`oci:${image.dir}:v1`, `${tls.host}/src/app:v1`),
    seedImage(`oci:${image.dir}:v1`, `${plain.host}/src/app:v1`),
  ]);
});

afterAll(async () => {
  await Promise.all([tls?.stop(), plain?.stop()]);
  await removeTempDir(work);
});

describe('TLS', () => {
  it('is verified by default: an untrusted certificate is a one-line error with a hint, never a fall back to HTTP', async () => {
    expect(tls.url).toMatch(/^https:/);
    const r = await runCli(['digest', `${tls.host}/src/app:v1`]);
    expectCertificateError(r);
  });

  it('a copy to a registry with an untrusted certificate fails the same way and sends nothing', async () => {
    const r = await runCli(['copy', `${plain.host}/src/app:v1`, `${tls.host}/dst/app:v1`]);
    expectCertificateError(r);
  });

  it('--insecure skips verification', async () => {
    const r = await runCli(['digest', '--insecure', `${tls.host}/src/app:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
  });

  it('a per-host CA in the hosts config is trusted, for reads and for pushes', async () => {
    const config = await configWith({ [tls.host]: { ca: caPem } });
    const r = await runCli(['digest', `${tls.host}/src/app:v1`], { env: { REGCTL_CONFIG: config } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
    const c = await runCli(['copy', `${plain.host}/src/app:v1`, `${tls.host}/pushed/app:v1`], {
      env: { REGCTL_CONFIG: config },
    });
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout.trim()).toBe(`${tls.host}/pushed/app:v1@${image.manifestDigest}`);
    const back = await runCli(['digest', `${tls.host}/pushed/app:v1`], { env: { REGCTL_CONFIG: config } });
    expect(back.stdout.trim()).toBe(image.manifestDigest);
  });

  it('a CA that did not sign the certificate is not enough', async () => {
    const config = await configWith({ [tls.host]: { ca: otherCaPem } });
    const r = await runCli(['digest', `${tls.host}/src/app:v1`], { env: { REGCTL_CONFIG: config } });
    expectCertificateError(r);
  });

  it('tls: "insecure" for the host in the hosts config skips verification for that host only', async () => {
    const config = await configWith({ [tls.host]: { tls: 'insecure' } });
    const r = await runCli(['digest', `${tls.host}/src/app:v1`], { env: { REGCTL_CONFIG: config } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
  });

  it('a missing CA file is a usage error naming the file (exit 2)', async () => {
    const config = await configWith({ [tls.host]: { ca: join(work, 'no-such-ca.pem') } });
    const r = await runCli(['digest', `${tls.host}/src/app:v1`], { env: { REGCTL_CONFIG: config } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^regctl: .*no-such-ca\.pem/m);
  });

  it('a plain-HTTP loopback registry is still reached through the HTTPS→HTTP probe', async () => {
    const r = await runCli(['digest', `${plain.host}/src/app:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
  });
});
