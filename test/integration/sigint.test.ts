// Ctrl-C and SIGTERM during a slow copy: every request aborted, upload sessions cancelled, nothing committed, exit 130
// / 143.
import { createHash } from 'node:crypto';
import { cp, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, seedImage } from '../support/images.js';
import { type RegistryHandle, openUploads } from '../support/registry.js';
import { type CliProcess, startCli } from '../support/run-cli.js';
import { type ProxiedPair, startProxiedPair } from '../support/proxied.js';

let pair: ProxiedPair;
let src: RegistryHandle;
let dst: RegistryHandle;
/** in front of the source: slow blob bodies */
let A: FaultProxy;
/** in front of the destination: sees the upload sessions and their cancellation */
let B: FaultProxy;
let work: string;
let image: ImageFixture;
/** a small layout that is already there when a copy goes into it */
let other: ImageFixture;
let n = 0;

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Stat = (typeof B.stats)[number];

/**
 * Signal the CLI once blob bytes are flowing into open upload sessions; the result, and the uploads that were still
 * streaming at the signal (their records at the destination's proxy, updated as they end).
 */
async function interrupt(
  cli: CliProcess,
  signal: NodeJS.Signals,
  ready: () => boolean,
): Promise<{ code: number; stderr: string; stdout: string; streaming: Stat[] }> {
  await until(ready, 'the copy to be under way');
  const streaming = B.stats.filter((s) => s.kind === 'upload' && s.method === 'PUT' && s.status === 0);
  cli.child.kill(signal);
  const r = await cli.result;
  return { ...r, streaming };
}

/** The exit came at once: the uploads streaming at the signal (seconds from done, fed at 200 kB/s) never completed. */
function expectCutShort(streaming: Stat[]): void {
  expect(streaming.length).toBeGreaterThan(0);
  for (const s of streaming) expect(s.status, `${s.method} ${s.path}`).not.toBe(201);
}

/** A layer (not just the small config) is streaming into an open upload session. */
const uploadsInFlight = (): boolean =>
  B.stats.some((s) => s.kind === 'upload' && s.method === 'PUT' && s.status === 0 && s.bytesIn > 50_000);

/** Every upload session that was opened and not completed got a DELETE, and none is left open in the registry. */
async function expectSessionsCancelled(repo: string): Promise<void> {
  const opened = B.stats
    .filter((s) => s.kind === 'upload' && s.method === 'POST' && s.status === 202 && s.location)
    .map((s) => s.location!);
  const completed = new Set(
    B.stats.filter((s) => s.kind === 'upload' && s.method === 'PUT' && s.status === 201).map((s) => s.path),
  );
  const deleted = new Set(B.stats.filter((s) => s.kind === 'upload' && s.method === 'DELETE').map((s) => s.path));
  const unfinished = opened.filter((l) => !completed.has(l));
  expect(unfinished.length).toBeGreaterThan(0);
  for (const path of unfinished) expect(deleted.has(path), `no DELETE for ${path}`).toBe(true);
  // distribution 2.8 cannot cancel a session whose body was cut mid-way (its DELETE answers BLOB_UPLOAD_INVALID:
  // the signed _state no longer matches the bytes it kept); every other session is gone.
  const cut = new Set(
    B.stats
      .filter((s) => s.kind === 'upload' && s.method === 'PUT' && s.status !== 201 && s.bytesIn > 0)
      .map((s) => s.path.split('/').pop()!),
  );
  expect((await openUploads(dst, repo)).filter((u) => !cut.has(u))).toEqual([]);
}

beforeAll(async () => {
  pair = await startProxiedPair('sigint-test');
  ({ work, src, dst, A, B } = pair);
  image = await makeImageLayout(join(work, 'img'), {
    layers: [900_000, 700_000, 500_000],
    seed: 'sigint-img',
    tag: 'v1',
  });
  other = await makeImageLayout(join(work, 'other'), { layers: [2_000], seed: 'sigint-other', tag: 'old' });
  await seedImage(`oci:${image.dir}:v1`, `${src.host}/src/app:v1`);
});

afterAll(async () => {
  await pair?.stop();
});

beforeEach(() => {
  pair.reset();
  // ~10 s for the whole image: plenty of time to interrupt it mid-body.
  A.slowBody(200_000, 'blob-get');
});

describe('interrupting a copy between registries', () => {
  it('SIGINT: exit 130 at once, no manifest at the destination, open upload sessions cancelled', async () => {
    const repo = `sigint/r${++n}`;
    const cli = await startCli(['copy', `${A.host}/src/app:v1`, `${B.host}/${repo}:v1`], { timeoutMs: 30_000 });
    const r = await interrupt(cli, 'SIGINT', uploadsInFlight);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/^regctl: interrupted$/m);
    expect(r.stdout).toBe('');
    expectCutShort(r.streaming);
    expect(B.count('manifest-put')).toBe(0);
    expect((await fetch(`${dst.url}/v2/${repo}/manifests/v1`, { method: 'HEAD' })).status).toBe(404);
    await expectSessionsCancelled(repo);
    // The source downloads were aborted too: nothing keeps reading after the exit.
    const moved = A.bytes('blob-get');
    await new Promise((res) => setTimeout(res, 300));
    expect(A.bytes('blob-get')).toBe(moved);
  });

  it('SIGTERM: exit 143, the same clean-up', async () => {
    const repo = `sigterm/r${++n}`;
    const cli = await startCli(['copy', `${A.host}/src/app:v1`, `${B.host}/${repo}:v1`], { timeoutMs: 30_000 });
    const r = await interrupt(cli, 'SIGTERM', uploadsInFlight);
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/^regctl: interrupted$/m);
    expectCutShort(r.streaming);
    expect((await fetch(`${dst.url}/v2/${repo}/manifests/v1`, { method: 'HEAD' })).status).toBe(404);
    await expectSessionsCancelled(repo);
  });

  it('SIGINT while waiting out a long Retry-After ends at once', async () => {
    A.failWith(503, 1, 'manifest-head', { 'retry-after': '60' });
    const cli = await startCli(['copy', `${A.host}/src/app:v1`, `${B.host}/wait/r${++n}:v1`], { timeoutMs: 30_000 });
    const r = await interrupt(cli, 'SIGINT', () => A.stats.some((s) => s.status === 503));
    expect(r.code).toBe(130);
    expect(A.count('manifest-head')).toBe(1); // the 60 s wait was cut short: no second HEAD
  });

  it('a second Ctrl-C exits at once even if clean-up hangs', async () => {
    // Upload cancellation (DELETE) stalls: the first SIGINT waits for it, the second does not.
    B.stall((r) => r.kind === 'upload' && r.method === 'DELETE', 100);
    const repo = `twice/r${++n}`;
    const cli = await startCli(['copy', `${A.host}/src/app:v1`, `${B.host}/${repo}:v1`], { timeoutMs: 30_000 });
    await until(uploadsInFlight, 'uploads');
    cli.child.kill('SIGINT');
    await until(() => B.stats.some((s) => s.method === 'DELETE'), 'the cancellation to start');
    cli.child.kill('SIGINT');
    const r = await cli.result;
    expect(r.code).toBe(130);
    // The exit came from the second Ctrl-C, not from the clean-up giving up on the stalled DELETE (after its 5 s
    // bound): that path ends in the `regctl: interrupted` line, the immediate exit prints nothing more.
    expect(r.stderr).not.toMatch(/^regctl: interrupted$/m);
    expect((await fetch(`${dst.url}/v2/${repo}/manifests/v1`, { method: 'HEAD' })).status).toBe(404);
  });
});

describe('interrupting a pull into local files', () => {
  const entries = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
        if (e.isDirectory()) await walk(join(d, e.name));
        else out.push(join(d, e.name).slice(dir.length + 1));
      }
    };
    await walk(dir);
    return out.sort();
  };

  it('into a new OCI layout: exit 130 and nothing at PATH, nor beside it', async () => {
    const name = `layout-${++n}`;
    const out = join(work, name);
    const cli = await startCli(['copy', `${A.host}/src/app:v1`, `oci:${out}:v1`], { timeoutMs: 30_000 });
    // A blob is complete (the config, at least) and a layer is under way.
    const r = await interrupt(cli, 'SIGINT', () =>
      A.stats.some((s) => s.kind === 'blob-get' && s.status === 200 && s.bytesOut > 100_000),
    );
    expect(r.code).toBe(130);
    expect(await stat(out).catch(() => 'missing')).toBe('missing');
    expect((await readdir(work)).filter((f) => f.includes(name))).toEqual([]);
  });

  it('into an existing OCI layout: exit 130, only whole verified blobs added, index.json untouched', async () => {
    const out = join(work, `existing-${++n}`);
    await cp(other.dir, out, { recursive: true });
    const before = await entries(out);
    const index = await readFile(join(out, 'index.json'));
    const cli = await startCli(['copy', `${A.host}/src/app:v1`, `oci:${out}:v1`], { timeoutMs: 30_000 });
    const r = await interrupt(cli, 'SIGINT', () =>
      A.stats.some((s) => s.kind === 'blob-get' && s.status === 200 && s.bytesOut > 100_000),
    );
    expect(r.code).toBe(130);
    const files = await entries(out);
    expect(files).toEqual(expect.arrayContaining(before));
    for (const f of files.filter((f) => !before.includes(f))) {
      expect(f).toMatch(/^blobs\/sha256\/[0-9a-f]{64}$/);
      const bytes = await readFile(join(out, f));
      expect(createHash('sha256').update(bytes).digest('hex'), f).toBe(f.slice('blobs/sha256/'.length));
    }
    const layers = new Set(image.layerDigests.map((d) => `blobs/sha256/${d.slice(7)}`));
    expect(files.filter((f) => layers.has(f)).length).toBeLessThan(layers.size);
    expect(await readFile(join(out, 'index.json'))).toEqual(index);
  });

  it('into a docker-archive tar: exit 130 and no file left at all', async () => {
    const dir = join(work, `archive-${++n}`);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir);
    const cli = await startCli(['copy', `${A.host}/src/app:v1`, `docker-archive:${join(dir, 'app.tar')}:app:v1`], {
      timeoutMs: 30_000,
      env: { TMPDIR: dir },
    });
    const r = await interrupt(cli, 'SIGINT', () => A.stats.some((s) => s.kind === 'blob-get' && s.bytesOut > 100_000));
    expect(r.code).toBe(130);
    expect(await entries(dir)).toEqual([]);
  });
});
