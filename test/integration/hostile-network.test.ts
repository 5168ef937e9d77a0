// Issue 14 (network): hostile registries and token servers get no credential off the registry's origin, no read
// without a cap, and no name of theirs becomes a path elsewhere. Each is a fault proxy in front of a real registry.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { selfSignedCert } from '../support/certs.js';
import { type FaultProxy, type ProxyRequest, type ProxyResponse, startFaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, registryDigest, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';
import { type TokenServerHandle, startTokenServer } from '../support/token-server.js';

const USER = 'dave';
const PASS = 'N3twork-Secret-Passw0rd';
const creds = `${USER}:${PASS}`;
/** The tag of issue 14: it matches `^v1\.`, and URL parsing collapses its `..` into another repository's manifest. */
const EVIL = 'v1.0/../../../../../../v2/prod/app/manifests/latest';

let work: string;
let tokens: TokenServerHandle;
let tokenReg: RegistryHandle;
let basicReg: RegistryHandle;
let plainReg: RegistryHandle;
/** In front of the token server: the realm every token request of tokenReg goes to. */
let TP: FaultProxy;
/** tokenReg (Bearer), plain HTTP. */
let T: FaultProxy;
/** Another origin in front of tokenReg: where hostile Location / Link / redirects point. */
let O: FaultProxy;
/** basicReg over HTTPS, and another origin in front of it over plain HTTP. */
let S: FaultProxy;
let Sx: FaultProxy;
/** tokenReg over HTTPS: its realm (TP) is plain HTTP. */
let ST: FaultProxy;
/** plainReg. */
let F: FaultProxy;
let image: ImageFixture;
let other: ImageFixture;
let n = 0;

const all = (): FaultProxy[] => [TP, T, O, S, Sx, ST, F];
/** The requests `p` saw with any Authorization header. */
const noAuth = (p: FaultProxy): string[] =>
  p.stats.filter((s) => s.authorization !== 'none').map((s) => `${s.method} ${s.path} ${s.authorization}`);
/** The requests `p` saw whose path contains `what`. */
const touched = (p: FaultProxy, what: string): string[] =>
  p.stats.filter((s) => s.path.includes(what)).map((s) => `${s.method} ${s.path}`);

beforeAll(async () => {
  work = await makeTempDir('hostile-net');
  tokens = await startTokenServer({ users: { [USER]: PASS } });
  TP = await startFaultProxy(new URL(tokens.realm).origin);
  const cert = await selfSignedCert(work);
  [tokenReg, basicReg, plainReg, image, other] = await Promise.all([
    startRegistry({ mode: 'token', token: { ...tokenConfig(tokens), realm: `${TP.url}/token` } }),
    startRegistry({ mode: 'htpasswd', users: { [USER]: PASS } }),
    startRegistry(),
    makeImageLayout(join(work, 'img'), { layers: [30_000, 10_000], seed: 'hostile-net', tag: 'v1.0' }),
    makeImageLayout(join(work, 'other'), { layers: [20_000], seed: 'hostile-net-prod', tag: 'latest' }),
  ]);
  [T, O, S, Sx, ST, F] = await Promise.all([
    startFaultProxy(tokenReg.url),
    startFaultProxy(tokenReg.url),
    startFaultProxy(basicReg.url, { tls: cert }),
    startFaultProxy(basicReg.url),
    startFaultProxy(tokenReg.url, { tls: cert }),
    startFaultProxy(plainReg.url),
  ]);
  await Promise.all([
    seedImage(`oci:${image.dir}:v1.0`, `${tokenReg.host}/lib/app:v1`, { creds }),
    seedImage(`oci:${image.dir}:v1.0`, `${plainReg.host}/lib/app:v1.0`),
    seedImage(`oci:${other.dir}:latest`, `${plainReg.host}/prod/app:latest`),
  ]);
});

afterAll(async () => {
  await Promise.all(all().map((p) => p?.stop()));
  await Promise.all([tokenReg?.stop(), basicReg?.stop(), plainReg?.stop(), tokens?.stop()]);
  await removeTempDir(work);
});

beforeEach(() => {
  for (const p of all()) {
    p.clearFaults();
    p.reset();
  }
});

const uploadPost = (r: ProxyRequest): boolean => r.kind === 'upload' && r.method === 'POST';
/** The answer with its Location moved to `host` (same path). */
const movedTo =
  (host: string) =>
  (res: ProxyResponse): ProxyResponse => {
    const path = new URL(res.headers.location ?? '/', 'http://x').pathname;
    return { ...res, headers: { ...res.headers, location: `http://${host}${path}` } };
  };
const withHeader =
  (name: string, value: string) =>
  (res: ProxyResponse): ProxyResponse => ({ ...res, headers: { ...res.headers, [name]: value } });
const withBody =
  (doc: unknown) =>
  (res: ProxyResponse): ProxyResponse => ({ ...res, body: Buffer.from(JSON.stringify(doc)) });
const tokenConfig = (t: TokenServerHandle) => ({
  realm: t.realm,
  service: t.service,
  issuer: t.issuer,
  rootCertBundle: t.rootCertBundle,
});
const appTags = (r: ProxyRequest): boolean => r.kind === 'tags' && r.repo === 'lib/app';

describe("credentials go only to the registry's own origin (issue 14 item 2)", () => {
  it("an HTTPS registry's upload Location on plain HTTP elsewhere is refused: no request goes there", async () => {
    S.rewrite(uploadPost, movedTo(Sx.host), 10);
    const dest = `${S.host}/up/app${++n}:v1`;
    const r = await runCli(['copy', '--insecure', '--creds', creds, '--retries', '0', `oci:${image.dir}:v1.0`, dest]);
    expect(Sx.stats).toEqual([]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^regctl: upload .*refused to move from HTTPS to plain HTTP \(http:\/\/127\.0\.0\.1:/m);
    expect(S.stats.some((s) => s.authorization === 'basic')).toBe(true); // the registry itself got them
  });

  it("an upload Location on another origin gets the upload without the registry's Bearer token", async () => {
    T.rewrite(uploadPost, movedTo(O.host), 10);
    const dest = `${T.host}/up/app${++n}:v1`;
    const r = await runCli(['copy', '--creds', creds, '--retries', '0', `oci:${image.dir}:v1.0`, dest]);
    expect(r.code, r.stderr).toBe(1);
    expect(O.count()).toBeGreaterThan(0);
    expect(noAuth(O)).toEqual([]);
    expect(T.stats.filter((s) => s.authorization === 'basic')).toEqual([]);
  });

  it("a Link to another origin gets no token, and that origin's 401 Basic never gets the password", async () => {
    T.rewrite('tags', withHeader('link', `<http://${O.host}/v2/lib/app/tags/list?last=v1&n=1>; rel="next"`), 5);
    O.rewrite(
      () => true,
      () => ({
        status: 401,
        headers: { 'www-authenticate': 'Basic realm="other"', 'content-type': 'application/json' },
        body: Buffer.from('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'),
      }),
      10,
    );
    const r = await runCli(['ls', '--creds', creds, '--retries', '0', `${T.host}/lib/app`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^regctl: tags of .*401 unauthorized/m);
    expect(O.count('tags')).toBeGreaterThan(0);
    expect(noAuth(O)).toEqual([]);
    expect(T.stats.filter((s) => s.authorization === 'basic')).toEqual([]);
  });

  it("a 401 Basic from the CDN a blob redirects to is not taken as the registry's challenge", async () => {
    const layer = image.layerDigests[0];
    const cdn = `http://${O.host}/cdn/${layer}`;
    const redirect = { status: 307, headers: { location: cdn }, body: Buffer.alloc(0) };
    T.rewrite(
      (r) => r.kind === 'blob-get' && r.ref === layer,
      () => redirect,
      10,
    );
    const challenge = { 'www-authenticate': 'Basic realm="cdn"' };
    O.rewrite(
      () => true,
      () => ({ status: 401, headers: challenge, body: Buffer.from('no') }),
      10,
    );
    const dest = `${plainReg.host}/cdn/app${++n}:v1`;
    const r = await runCli(['copy', '--creds', creds, '--retries', '0', `${T.host}/lib/app:v1`, dest]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^regctl: blob .*${layer}: 401 unauthorized`, 'm'));
    expect(T.stats.filter((s) => s.authorization === 'basic')).toEqual([]);
    expect(noAuth(O)).toEqual([]);
  });
});

describe('a plain-HTTP token realm for an HTTPS registry (issue 14 item 8)', () => {
  it('is refused with a clear error before the password is sent', async () => {
    const r = await runCli(['ls', '--insecure', '--creds', creds, `${ST.host}/lib/app`]);
    expect(TP.stats).toEqual([]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^regctl: 127\.0\.0\.1:\d+: refused the token realm http:\/\/127\.0\.0\.1:\d+\/token: /m);
    expect(r.stderr).toMatch(/: plain HTTP for an HTTPS registry$/m);
    expect(r.stderr).toMatch(/^hint: .*"allowHttpRealm": true/m);
  });

  it('is used when the hosts config allows it for that registry (allowHttpRealm)', async () => {
    const config = join(work, `realm-${++n}.json`);
    await writeFile(config, JSON.stringify({ hosts: { [ST.host]: { allowHttpRealm: true } } }));
    const env = { REGCTL_CONFIG: config };
    const r = await runCli(['ls', '--insecure', '--creds', creds, `${ST.host}/lib/app`], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('v1');
    expect(TP.count()).toBeGreaterThan(0);
  });
});

describe('every metadata read has a cap (issue 14 item 3)', () => {
  it('a token answer that never ends is cut off past 1 MiB', async () => {
    const json = { 'content-type': 'application/json' };
    TP.endless((r) => r.path === '/token', 200, json, '{"token":"', 'A'.repeat(64 * 1024), 5);
    const r = await runCli(['ls', `${T.host}/lib/app`], { timeoutMs: 60_000 });
    const sent = TP.stats.filter((s) => s.path === '/token').reduce((t, s) => t + s.bytesOut, 0);
    expect(sent).toBeLessThan(16 * 1024 * 1024); // what the kernel's socket buffers took, not the 64 MiB on offer
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^regctl: token server 127\.0\.0\.1:\d+: the answer is over the 1 MiB limit$/m);
  });

  it('an error answer that never ends is read only to its cap: one short line', async () => {
    T.endless('tags', 500, { 'content-type': 'text/html' }, '<html>', '<p>oops</p>'.repeat(6000), 5);
    const r = await runCli(['ls', '--retries', '0', `${T.host}/lib/app`], { timeoutMs: 60_000 });
    expect(T.bytes('tags')).toBeLessThan(16 * 1024 * 1024);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('regctl: '));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/500 server error/);
    expect(lines[0].length).toBeLessThan(400);
  });

  it('a tag list paging without end stops at the total bound (64 MiB over all pages)', async () => {
    let page = 0;
    const pad = 'x'.repeat(1024 * 1024);
    F.rewrite(
      appTags,
      () => {
        const p = ++page;
        return {
          status: 200,
          headers: {
            'content-type': 'application/json',
            link: `</v2/lib/app/tags/list?n=1000&last=p${p}>; rel="next"`,
          },
          body: Buffer.from(JSON.stringify({ name: 'lib/app', tags: [`p${p}`], pad })),
        };
      },
      100,
    );
    const r = await runCli(['ls', `${F.host}/lib/app`]);
    expect(F.count('tags')).toBeLessThanOrEqual(65);
    expect(r.code, r.stderr.slice(0, 500)).toBe(1);
    expect(r.stderr).toMatch(/^regctl: tags of .*lib\/app: the pages together are over the 64 MiB limit$/m);
  });

  it('one tag-list page over 4 MiB is refused (JSON bodies are capped at 4 MiB)', async () => {
    F.rewrite('tags', withBody({ name: 'lib/app', tags: ['v1.0'], pad: 'x'.repeat(5 * 1024 * 1024) }), 5);
    const r = await runCli(['ls', `${F.host}/lib/app`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^regctl: tags of .*: .*over the 4 MiB limit$/m);
  });
});

describe('names from a server or a file never become other paths (issue 14 item 1)', () => {
  async function syncSpec(source: string, target: string): Promise<string> {
    const path = join(work, `sync-${++n}.yaml`);
    await writeFile(path, `sync:\n  - source: ${source}\n    target: ${target}\n    tags: { allow: ['^v1\\.'] }\n`);
    return path;
  }

  it('sync skips (and reports) a listed tag that is not a tag, from a registry: prod/app:latest kept', async () => {
    F.rewrite(appTags, withBody({ name: 'lib/app', tags: ['v1.0', EVIL] }), 5);
    const spec = await syncSpec(`${F.host}/lib/app`, `${F.host}/mirror/app`);
    const r = await runCli(['sync', spec, '--json']);
    expect(touched(F, 'prod/app')).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { warnings: string[]; images: Array<{ source: string; status: string }> };
    const warning = `skipped 1 listed name(s) that are not valid tags: ${JSON.stringify(EVIL)}`;
    expect(report.warnings.join('\n')).toContain(warning);
    expect(report.images.map((i) => [i.source, i.status])).toEqual([[`${F.host}/lib/app:v1.0`, 'copied']]);
    expect(touched(F, 'prod/app')).toEqual([]);
    expect(touched(F, '..')).toEqual([]);
    expect(await registryDigest(plainReg.host, 'prod/app', 'latest')).toBe(other.manifestDigest);
    expect(await registryDigest(plainReg.host, 'mirror/app', 'v1.0')).toBe(image.manifestDigest);
  });

  it('sync skips a ref.name of an oci: source that is not a tag: it never becomes a target path', async () => {
    type Index = { manifests: Array<{ annotations: Record<string, string> }> };
    const index = JSON.parse(await readFile(join(image.dir, 'index.json'), 'utf8')) as Index;
    const layout = join(work, `evil-layout-${++n}`);
    await runCli(['copy', `oci:${image.dir}:v1.0`, `oci:${layout}:v1.0`]).then((c) => expect(c.code, c.stderr).toBe(0));
    const copied = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: object[] };
    copied.manifests.push({ ...index.manifests[0], annotations: { 'org.opencontainers.image.ref.name': EVIL } });
    await writeFile(join(layout, 'index.json'), JSON.stringify(copied));
    const spec = await syncSpec(`oci:${layout}`, `${F.host}/mirror2/app`);
    const r = await runCli(['sync', spec, '--json']);
    expect(touched(F, 'prod/app')).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { warnings: string[]; images: Array<{ target: string; status: string }> };
    expect(report.warnings.join('\n')).toContain('not valid tags');
    expect(report.images.map((i) => [i.target, i.status])).toEqual([[`${F.host}/mirror2/app:v1.0`, 'copied']]);
    expect(touched(F, 'prod/app')).toEqual([]);
    expect(await registryDigest(plainReg.host, 'prod/app', 'latest')).toBe(other.manifestDigest);
  });

  it('an upload Location with ".." segments is refused before it is requested', async () => {
    F.rewrite(uploadPost, withHeader('location', '/v2/up/app/blobs/uploads/../../../../prod/app/manifests/latest'), 10);
    const r = await runCli(['copy', '--retries', '0', `oci:${image.dir}:v1.0`, `${F.host}/up/app${++n}:v1`]);
    expect(touched(F, 'prod/app')).toEqual([]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^regctl: start upload to .*: the registry sent a URL with "\." or "\.\." path segments/m);
  });

  it('a Link to another path (or with ".." segments) is not followed', async () => {
    F.rewrite(appTags, withHeader('link', '</v2/prod/app/tags/list?n=1>; rel="next"'), 5);
    let r = await runCli(['ls', `${F.host}/lib/app`]);
    expect(touched(F, 'prod/app')).toEqual([]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^regctl: tags of .*: the Link to the next page names another path \(\/v2\/prod\/app\//m);
    F.clearFaults();
    F.rewrite(appTags, withHeader('link', '</v2/lib/app/tags/list/../../../prod/app/tags/list?n=1>; rel="next"'), 5);
    r = await runCli(['ls', `${F.host}/lib/app`]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/path segments/);
    expect(touched(F, 'prod/app')).toEqual([]);
  });
});
