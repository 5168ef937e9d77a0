// Faults between regctl and real registries: dropped bodies resume with Range, 5xx/429 retried (Retry-After honoured,
// shared per host), broken uploads restart in a fresh session, --timeout bounds a stalled server.
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultProxy, ProxyRecord } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, registryDigest, seedImage } from '../support/images.js';
import { type RegistryHandle, openUploads } from '../support/registry.js';
import { type CliResult, runCli } from '../support/run-cli.js';
import { type ProxiedPair, startProxiedPair } from '../support/proxied.js';

let pair: ProxiedPair;
let src: RegistryHandle;
let dst: RegistryHandle;
/** in front of the source registry */
let A: FaultProxy;
/** in front of the destination registry */
let B: FaultProxy;
let work: string;
let image: ImageFixture;
/** one large layer and many small ones, for the shared-backoff test */
let many: ImageFixture;
let n = 0;
/** A fresh destination repository for each copy. */
const fresh = (name: string): string => `${dst.host}/${name}/r${++n}:v1`;

/** stderr holds exactly one `regctl:` line (and maybe a `hint:`), no stack trace. */
function expectOneLineError(r: CliResult): string {
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !/^(retrying|warning:)/.test(l));
  const errors = lines.filter((l) => l.startsWith('regctl: '));
  expect(errors, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  return errors[0];
}

const blobGets = (p: FaultProxy, digest: string): ProxyRecord[] =>
  p.stats.filter((r) => r.kind === 'blob-get' && r.ref === digest);

beforeAll(async () => {
  pair = await startProxiedPair('faults-test');
  ({ work, src, dst, A, B } = pair);
  [image, many] = await Promise.all([
    makeImageLayout(join(work, 'img'), { layers: [400_000, 200_000, 100_000], seed: 'faults-img', tag: 'v1' }),
    makeImageLayout(join(work, 'many'), {
      layers: [300_000, ...Array.from({ length: 8 }, () => 8_000)],
      seed: 'faults-many',
      tag: 'v1',
    }),
  ]);
  await Promise.all([
    seedImage(`oci:${image.dir}:v1`, `${src.host}/src/app:v1`),
    seedImage(`oci:${many.dir}:v1`, `${src.host}/src/many:v1`),
  ]);
});

afterAll(async () => {
  await pair?.stop();
});

const reset = (): void => pair.reset();

describe('a broken blob download', () => {
  it('resumes with Range from the byte where it broke, and the digest still checks', async () => {
    reset();
    const big = image.layerDigests[0];
    const size = image.layerSizes[0];
    A.dropAfter((r) => r.kind === 'blob-get' && r.ref === big, 150_000);
    // Slow enough that the break comes while regctl reads: bytes that arrive before the upload session is open wait
    // in a buffer, and a connection dropped then takes them along (the read restarts at byte 0, no Range to see).
    A.slowBody(1_000_000, (r) => r.kind === 'blob-get' && r.ref === big);
    const to = fresh('resume');
    const r = await runCli(['copy', `${A.host}/src/app:v1`, to]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${to}@${image.manifestDigest}`);
    const gets = blobGets(A, big);
    expect(gets.map((g) => g.range)).toEqual([undefined, 'bytes=150000-']);
    expect(gets[0]).toMatchObject({ fault: 'drop', bytesOut: 150_000 });
    expect(gets[1]).toMatchObject({ status: 206, bytesOut: size - 150_000 });
    expect(gets[1].bytesOut).toBeLessThan(size);
    expect(await registryDigest(dst.host, to.slice(dst.host.length + 1, -3), 'v1')).toBe(image.manifestDigest);
  });

  it('from a registry that ignores Range starts over at byte 0 and still verifies', async () => {
    reset();
    const big = image.layerDigests[0];
    const size = image.layerSizes[0];
    A.dropAfter((r) => r.kind === 'blob-get' && r.ref === big, 150_000);
    A.slowBody(1_000_000, (r) => r.kind === 'blob-get' && r.ref === big); // as above: the break comes mid-read
    A.ignoreRange((r) => r.kind === 'blob-get' && r.ref === big && r.headers.range !== undefined);
    const to = fresh('norange');
    const r = await runCli(['copy', `${A.host}/src/app:v1`, to]);
    expect(r.code, r.stderr).toBe(0);
    const gets = blobGets(A, big);
    expect(gets).toHaveLength(2);
    // A 200 with the whole blob to a ranged request: the Range was ignored (the record's fault label says 'slow').
    expect(gets[1]).toMatchObject({ range: 'bytes=150000-', status: 200, bytesOut: size });
    expect(await registryDigest(dst.host, to.slice(dst.host.length + 1, -3), 'v1')).toBe(image.manifestDigest);
  });
});

describe('retries', () => {
  it('bursts of 500, 502, 503 and 504 on manifest and blob requests are retried until the copy succeeds', async () => {
    reset();
    A.failWith(500, 2, 'manifest-head');
    A.failWith(502, 1, 'manifest-get');
    A.failWith(503, 2, 'blob-get');
    A.failWith(504, 1, 'blob-get');
    // A new repository: its blobs are not HEADed (the tag list says it does not exist), so that request gets the 503.
    B.failWith(503, 1, 'tags');
    B.failWith(500, 1, (r) => r.kind === 'upload' && r.method === 'POST');
    B.failWith(502, 2, 'manifest-put');
    const repo = `burst/r${++n}`;
    const r = await runCli(['copy', `${A.host}/src/app:v1`, `${B.host}/${repo}:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(new RegExp(`@${image.manifestDigest}$`));
    const injected = [...A.stats, ...B.stats].filter((s) => s.fault === 'fail').map((s) => `${s.kind}:${s.status}`);
    expect(injected.sort()).toEqual(
      [
        'manifest-head:500',
        'manifest-head:500',
        'manifest-get:502',
        'blob-get:503',
        'blob-get:503',
        'blob-get:504',
        'tags:503',
        'upload:500',
        'manifest-put:502',
        'manifest-put:502',
      ].sort(),
    );
    expect(r.stderr).toMatch(/retrying/);
    expect(await registryDigest(dst.host, repo, 'v1')).toBe(image.manifestDigest);
  });

  it('--retries 0 fails at the first 503 with one clear line', async () => {
    reset();
    A.failWith(503, 1, 'manifest-head');
    const to = fresh('noretry');
    const r = await runCli(['copy', '--retries', '0', `${A.host}/src/app:v1`, to]);
    expect(r.code).toBe(1);
    expect(expectOneLineError(r)).toMatch(/^regctl: manifest .*src\/app:v1: 503 service unavailable/);
    expect(A.count('manifest-head')).toBe(1);
    expect(B.count('manifest-put')).toBe(0);
  });

  it('429 with Retry-After in seconds is honoured: the retry waits at least that long', async () => {
    reset();
    A.failWith(429, 1, 'manifest-head', { 'retry-after': '1' });
    const r = await runCli(['digest', `${A.host}/src/app:v1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(image.manifestDigest);
    const heads = A.stats.filter((s) => s.kind === 'manifest-head');
    expect(heads.map((h) => h.status)).toEqual([429, 200]);
    expect(heads[1].at - heads[0].at).toBeGreaterThanOrEqual(950);
  });

  it('429 with Retry-After as an HTTP date is honoured', async () => {
    reset();
    // HTTP dates have whole seconds: 4 s ahead is 3–4 s ahead, and the CLI starts in well under 2 s even on a busy CI.
    A.failWith(429, 1, 'manifest-head', { 'retry-after': new Date(Date.now() + 4000).toUTCString() });
    const r = await runCli(['digest', `${A.host}/src/app:v1`]);
    expect(r.code, r.stderr).toBe(0);
    const heads = A.stats.filter((s) => s.kind === 'manifest-head');
    expect(heads.map((h) => h.status)).toEqual([429, 200]);
    expect(heads[1].at - heads[0].at).toBeGreaterThanOrEqual(950);
    // The wait regctl chose is the date's distance (3–4 s), as its retry line states it, not a fallback or the cap.
    const chosen = Number(/next try in ([\d.]+) s/.exec(r.stderr)?.[1]);
    expect(chosen, r.stderr).toBeGreaterThanOrEqual(1);
    expect(chosen, r.stderr).toBeLessThanOrEqual(4);
  });

  it('a Retry-After beyond the cap ends at once in a one-line error saying how long the registry asked', async () => {
    reset();
    A.failWith(429, 1, 'manifest-head', { 'retry-after': '3600' });
    const r = await runCli(['copy', `${A.host}/src/app:v1`, fresh('toolong')]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/^retrying/m); // no wait was begun
    expect(expectOneLineError(r)).toMatch(/429 too many requests/);
    expect(r.stderr).toMatch(/^hint: .*retry in (60 min|3600 s)/m);
    expect(A.count('manifest-head')).toBe(1);
  });

  it('backoff is shared per host: a Retry-After on one blob pauses the other workers on that host too', async () => {
    reset();
    const big = many.layerDigests[0];
    A.failWith(429, 1, (r) => r.kind === 'blob-get' && r.ref === big, { 'retry-after': '2' });
    const to = fresh('shared');
    const r = await runCli(['copy', '--jobs', '2', `${A.host}/src/many:v1`, to]);
    expect(r.code, r.stderr).toBe(0);
    const limited = A.stats.find((s) => s.status === 429)!;
    expect(limited).toBeDefined();
    // Ordered by arrival, not by clock: without a shared pause the other workers fetch the 8 small layers while the
    // big blob waits out its 2 s; with it, between the 429 and the big blob's retry only requests already on their
    // way when the 429 came back may arrive: one per other slot (the other job and the small-blob slot).
    const at = A.stats.indexOf(limited);
    const retried = A.stats.findIndex((s, i) => i > at && s.kind === 'blob-get' && s.ref === big);
    expect(retried, 'the big blob is asked for again').toBeGreaterThan(at);
    const during = A.stats.slice(at + 1, retried);
    expect(during.length, during.map((s) => `${s.method} ${s.path}`).join('\n')).toBeLessThanOrEqual(3);
    const after = A.stats.slice(retried + 1).filter((s) => s.kind === 'blob-get');
    expect(after.length).toBeGreaterThan(1);
    expect(await registryDigest(dst.host, to.slice(dst.host.length + 1, -3), 'v1')).toBe(many.manifestDigest);
  });
});

describe('a broken upload', () => {
  it('restarts in a fresh upload session and cancels the abandoned one', async () => {
    reset();
    const big = (r: { method: string; kind: string; headers: Record<string, unknown> }) =>
      r.kind === 'upload' && r.method === 'PUT' && Number(r.headers['content-length'] ?? 0) > 300_000;
    B.dropAfter(big, 100_000);
    const repo = `upload/r${++n}`;
    const r = await runCli(['copy', `${src.host}/src/app:v1`, `${B.host}/${repo}:v1`]);
    expect(r.code, r.stderr).toBe(0);
    const puts = B.stats.filter((s) => s.kind === 'upload' && s.method === 'PUT');
    const dropped = puts.find((s) => s.fault === 'drop')!;
    expect(dropped).toBeDefined();
    const starts = B.stats.filter((s) => s.kind === 'upload' && s.method === 'POST');
    expect(starts).toHaveLength(1 + image.layerDigests.length + 1); // config + layers + the restart
    const deletes = B.stats.filter((s) => s.kind === 'upload' && s.method === 'DELETE');
    expect(deletes.map((d) => d.path)).toContain(dropped.path);
    expect(puts.filter((p) => p.status === 201)).toHaveLength(1 + image.layerDigests.length);
    // distribution 2.8 cannot cancel a session whose body was cut (its DELETE answers BLOB_UPLOAD_INVALID: the signed
    // _state no longer matches the bytes it kept), so that one session may stay; every other one is closed.
    const cut = dropped.path.split('/').pop()!;
    expect((await openUploads(dst, repo)).filter((u) => u !== cut)).toEqual([]);
    expect(await registryDigest(dst.host, repo, 'v1')).toBe(image.manifestDigest);
  });

  it('the source GET goes out beside the POST that opens the session; when that POST never answers, the GET is dropped and nothing is committed', async () => {
    reset();
    // The first session POST never gets an answer; --timeout 1 ends it, and --retries 0 ends the copy.
    B.hold((r) => r.kind === 'upload' && r.method === 'POST', 1);
    const repo = `upload/r${++n}`;
    const r = await runCli(
      ['copy', '--timeout', '1', '--retries', '0', `${A.host}/src/app:v1`, `${B.host}/${repo}:v1`],
      { timeoutMs: 30_000 },
    );
    expect(r.code).toBe(1);
    expectOneLineError(r);
    expect(B.stats.find((s) => s.fault === 'hold')).toMatchObject({ kind: 'upload', method: 'POST', status: 0 });
    // --timeout ended the unanswered POST and --retries 0 sent no second one: at most one session per blob.
    const posts = B.stats.filter((s) => s.kind === 'upload' && s.method === 'POST');
    expect(posts.length).toBeLessThanOrEqual(1 + image.layerDigests.length);
    // Every blob was asked of the source, the one behind the unanswered POST too: waiting for the POST first would
    // have left that GET unsent.
    const blobs = [image.configDigest, ...image.layerDigests];
    expect(new Set(A.stats.filter((s) => s.kind === 'blob-get').map((s) => s.ref))).toEqual(new Set(blobs));
    expect(B.count('manifest-put')).toBe(0);
  });
});

describe('--timeout', () => {
  it('a blob body that stalls fails within about N s per try, and never hangs', async () => {
    reset();
    A.stall('blob-get', 100);
    const r = await runCli(['copy', '--timeout', '1', '--retries', '1', `${A.host}/src/app:v1`, fresh('stall')], {
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(1);
    expectOneLineError(r);
    // Each stalled body was given up after --timeout and tried once more (--retries 1), never a third time.
    const stalled = A.stats.filter((s) => s.fault === 'stall');
    expect(stalled.length).toBeGreaterThan(0);
    for (const ref of new Set(stalled.map((s) => s.ref))) {
      expect(A.count((q) => q.kind === 'blob-get' && q.ref === ref)).toBeLessThanOrEqual(2);
    }
    expect(B.count('manifest-put')).toBe(0);
  });

  it('bounds silence, not length: a slow but steady download and upload longer than N s succeed', async () => {
    reset();
    // ~2 s for the largest layer each way, under --timeout 1
    A.slowBody(250_000, 'blob-get');
    B.slowBody(250_000, (r) => r.kind === 'upload' && r.method === 'PUT');
    const repo = `slow/r${++n}`;
    const r = await runCli(['copy', '--timeout', '1', `${A.host}/src/app:v1`, `${B.host}/${repo}:v1`], {
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    // The slow bodies were really served (each longer than --timeout), and none was cut and asked again.
    expect(A.stats.some((s) => s.fault === 'slow' && s.kind === 'blob-get')).toBe(true);
    expect(B.stats.some((s) => s.fault === 'slow' && s.kind === 'upload')).toBe(true);
    expect(A.count('blob-get')).toBe(1 + image.layerDigests.length);
    expect(r.stderr).not.toMatch(/retrying/);
    expect(await registryDigest(dst.host, repo, 'v1')).toBe(image.manifestDigest);
  });

  it('a manifest body that stalls fails within about N s per try', async () => {
    reset();
    A.stall('manifest-get', 100);
    const r = await runCli(['copy', '--timeout', '1', '--retries', '1', `${A.host}/src/app:v1`, fresh('stallm')], {
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(1);
    expect(expectOneLineError(r)).toMatch(/manifest/);
    expect(A.count('manifest-get')).toBe(2); // one try and one retry, each ended by --timeout
  });

  describe('a server that accepts connections and never answers', () => {
    let silent: Server;
    const sockets = new Set<Socket>();
    let accepted = 0;
    beforeAll(async () => {
      silent = createServer((s) => {
        accepted++;
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {});
      });
      await new Promise<void>((resolve) => silent.listen({ host: '127.0.0.1', port: 0 }, resolve));
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });

    it('fails within about N s (plus retries) with one clear line', async () => {
      const { port } = silent.address() as { port: number };
      accepted = 0;
      const r = await runCli(['digest', '--timeout', '1', '--retries', '1', `127.0.0.1:${port}/x/y:z`], {
        timeoutMs: 30_000,
      });
      expect(r.code).toBe(1);
      expect(expectOneLineError(r)).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}`));
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThanOrEqual(2); // one try and one retry (--retries 1), each ended by --timeout
    });

    it('with --plain-http too', async () => {
      const { port } = silent.address() as { port: number };
      accepted = 0;
      const r = await runCli(
        ['digest', '--plain-http', '--timeout', '1', '--retries', '1', `127.0.0.1:${port}/x/y:z`],
        { timeoutMs: 30_000 },
      );
      expect(r.code).toBe(1);
      expectOneLineError(r);
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThanOrEqual(2);
    });
  });
});
