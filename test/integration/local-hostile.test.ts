// Hostile local files (issue 14, items 3 and 5): layouts whose blobs are links or the wrong size, metadata that is a
// FIFO or a device, destinations with planted links and locks. Each is refused before a byte leaves, never hangs.
import { execFile } from 'node:child_process';
import { mkdir, readdir, rename, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, registryDigest, seedImage } from '../support/images.js';
import type { RegistryHandle } from '../support/registry.js';
import { type CliResult, runCli } from '../support/run-cli.js';
import { type ProxiedRegistry, startProxiedRegistry } from '../support/proxied.js';

const run = promisify(execFile);
let reg: RegistryHandle;
let proxy: FaultProxy;
let env: ProxiedRegistry;
let work: string;
let secret: string;
let n = 0;

const SECRET_BYTES = 120_000;

beforeAll(async () => {
  env = await startProxiedRegistry('local-hostile');
  ({ work, reg, proxy } = env);
  secret = join(work, 'secret.key');
  await writeFile(secret, Buffer.alloc(SECRET_BYTES, 'TOP-SECRET-'));
  const img = await makeImageLayout(join(work, 'seed'), { layers: [40_000], seed: 'lh-seed', tag: 'v1' });
  await seedImage(`oci:${img.dir}:v1`, `${reg.host}/lib/app:v1`);
});

afterAll(async () => {
  await env?.stop();
});

beforeEach(() => proxy.reset());

/** A fresh layout holding one image (one layer of 200 kB) tagged v1. */
async function layout(): Promise<ImageFixture> {
  return makeImageLayout(join(work, `l${++n}`), { layers: [200_000], seed: `lh-${n}`, tag: 'v1' });
}

const blobPath = (img: ImageFixture, digest: string) =>
  join(img.dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
/** Request body bytes the registry was sent, all requests together. */
const sentBytes = () => proxy.stats.reduce((t, r) => t + r.bytesIn, 0);

async function push(img: ImageFixture): Promise<{ r: CliResult; repo: string }> {
  const repo = `leak/r${n}`;
  const r = await runCli(['copy', `oci:${img.dir}:v1`, `${proxy.host}/${repo}:v1`], { timeoutMs: 30_000 });
  return { r, repo };
}

function refused(r: CliResult, why: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(why);
  expect(r.stderr.split('\n').filter((l) => l.startsWith('regctl: '))).toHaveLength(1);
}

describe('an OCI layout source sends no byte of a blob it should not', () => {
  it('a layer blob that is a symbolic link to a secret file: refused, none of its bytes sent', async () => {
    const img = await layout();
    const layer = blobPath(img, img.layerDigests[0]);
    await rm(layer);
    await symlink(secret, layer);
    const { r, repo } = await push(img);
    refused(r, /is a symbolic link; regctl does not follow it/);
    expect(sentBytes()).toBeLessThan(4_000); // the config and nothing else: not one chunk of the 120 kB secret
    await expect(registryDigest(reg.host, repo, 'v1')).rejects.toThrow(/answered 404/);
  });

  it('a layer blob of the wrong size (truncated) is refused before it is streamed', async () => {
    const img = await layout();
    await truncate(blobPath(img, img.layerDigests[0]), 150_000);
    const { r } = await push(img);
    refused(r, /is 150000 bytes, but its descriptor says \d+/);
    expect(sentBytes()).toBeLessThan(4_000);
  });

  it('FROM oci: in a build a symlinked base layer is refused, none of its bytes sent', async () => {
    const ctxDir = join(work, `build${++n}`);
    const base = await makeImageLayout(join(ctxDir, 'base'), { layers: [200_000], seed: `lh-b${n}`, tag: 'v1' });
    const layer = blobPath(base, base.layerDigests[0]);
    await rm(layer);
    await symlink(secret, layer);
    await writeFile(join(ctxDir, 'Dockerfile'), 'FROM oci:./base:v1\nLABEL a=b\n');
    const r = await runCli(['build', ctxDir, '-t', `${proxy.host}/leak/build${n}:v1`], { timeoutMs: 30_000 });
    refused(r, /is a symbolic link; regctl does not follow it/);
    expect(sentBytes()).toBeLessThan(4_000);
  });

  it('blobs/sha256 linked to a directory outside the layout is refused (paths stay inside the layout)', async () => {
    const img = await layout();
    const outside = join(work, `outside${n}`);
    await rename(join(img.dir, 'blobs', 'sha256'), outside);
    await symlink(outside, join(img.dir, 'blobs', 'sha256'));
    const { r } = await push(img);
    refused(r, /resolves outside/);
    expect(sentBytes()).toBe(0);
  });
});

describe('local metadata must be a regular file, read to its cap and no further', () => {
  it('index.json as a FIFO, a link to /dev/zero, or over 4 MiB: a prompt usage error', async () => {
    const fifo = await layout();
    await rm(join(fifo.dir, 'index.json'));
    await run('mkfifo', [join(fifo.dir, 'index.json')]);
    refused((await push(fifo)).r, /index\.json is not a regular file/);
    const zero = await layout();
    await rm(join(zero.dir, 'index.json'));
    await symlink('/dev/zero', join(zero.dir, 'index.json'));
    refused((await push(zero)).r, /index\.json is a symbolic link/);
    const big = await layout();
    await truncate(join(big.dir, 'index.json'), 4 * 1024 * 1024 + 1);
    refused((await push(big)).r, /index\.json is over the 4194304-byte limit/);
    expect(sentBytes()).toBe(0);
  });

  it('archives, sync specs, policies and docker config.json that are FIFOs are refused, not waited on', async () => {
    const fifo = join(work, 'archive.fifo');
    await run('mkfifo', [fifo]);
    for (const kind of ['oci-archive', 'docker-archive']) {
      const r = await runCli(['copy', `${kind}:${fifo}`, `${proxy.host}/leak/fifo:v1`], { timeoutMs: 20_000 });
      refused(r, /not a regular file/);
    }
    const spec = await runCli(['sync', fifo, '--dry-run'], { timeoutMs: 20_000 });
    refused(spec, /archive\.fifo is not a regular file/);
    const prune = ['prune', `${reg.host}/lib/app`, '--from-policy', fifo, '--dry-run'];
    const policy = await runCli(prune, { timeoutMs: 20_000 });
    refused(policy, /archive\.fifo is not a regular file/);
    // docker's config.json as a FIFO: refused, not waited on.
    const home = join(work, 'fifo-home');
    await mkdir(join(home, '.docker'), { recursive: true });
    await run('mkfifo', [join(home, '.docker', 'config.json')]);
    const env = { HOME: home, REGCTL_NO_KEYCHAIN: '1' };
    const logout = await runCli(['logout', reg.host], { env, timeoutMs: 20_000 });
    refused(logout, /config\.json is not a regular file/);
  });
});

describe('an OCI layout destination is not written through planted links or blocked by planted locks', () => {
  it('blobs/sha256 as a link to another directory: refused, nothing written there', async () => {
    const out = join(work, 'dst-link');
    const elsewhere = join(work, 'dst-elsewhere');
    await mkdir(join(out, 'blobs'), { recursive: true });
    await mkdir(elsewhere);
    await writeFile(join(out, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await symlink(elsewhere, join(out, 'blobs', 'sha256'));
    const r = await runCli(['copy', `${reg.host}/lib/app:v1`, `oci:${out}:v1`], { timeoutMs: 30_000 });
    refused(r, /sha256 is a symbolic link; not writing through it/);
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it('index.json.lock as a symbolic link: a prompt error naming it, its target never read or written', async () => {
    const out = join(work, 'dst-lock-link');
    await mkdir(out);
    await writeFile(join(out, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await symlink(secret, join(out, 'index.json.lock'));
    const r = await runCli(['copy', `${reg.host}/lib/app:v1`, `oci:${out}:v1`], { timeoutMs: 20_000 });
    refused(r, /index\.json\.lock is a symbolic link; regctl does not follow or use it/);
    expect(r.stderr).not.toContain('TOP-SECRET');
  });

  it('index.json.lock that regctl did not write, dated in the future, is taken over (not waited on)', async () => {
    const out = join(work, 'dst-lock-foreign');
    await mkdir(out);
    await writeFile(join(out, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const lock = join(out, 'index.json.lock');
    await writeFile(lock, 'not a regctl lock');
    const future = new Date('2100-01-01T00:00:00Z');
    await utimes(lock, future, future);
    const r = await runCli(['copy', `${reg.host}/lib/app:v1`, `oci:${out}:v1`], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(await readdir(out)).not.toContain('index.json.lock');
  });
});
