// Blob placement in a registry destination: tryReuse (HEAD, mount, the run's blob-location cache) against the real
// distribution registry, counted by the fault proxy in front of it.
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createContext } from '../../src/app-context.js';
import { type AppContext, destinationDeps } from '../../src/context.js';
import { SharedBlobs } from '../../src/copy/shared.js';
import type { Location } from '../../src/location/parse.js';
import type { Digest } from '../../src/oci/digest.js';
import type { Descriptor } from '../../src/oci/manifest.js';
import { createLogger } from '../../src/output/log.js';
import { openDestination } from '../../src/transports/open.js';
import type { ImageDestination, RegistryRepo } from '../../src/transports/types.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, openUploads, startRegistry } from '../support/registry.js';

let reg: RegistryHandle;
let proxy: FaultProxy;
let home: string;
let ctx: AppContext;
const controller = new AbortController();
const signal = controller.signal;

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url);
  home = await makeTempDir('reuse-home');
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const io = { stdout: sink, stderr: sink, isTTY: false, color: false };
  const env = { HOME: home, DOCKER_CONFIG: `${home}/.docker` };
  const globals = {
    jobs: 2,
    lightJobs: 2,
    plainHttp: false,
    insecure: false,
    retries: 1,
    json: false,
    quiet: true,
    debug: false,
    createRepo: true,
  };
  ctx = createContext(io, env, globals, createLogger(sink, { quiet: true, debug: false, color: false }), signal);
}, 60_000);

afterAll(async () => {
  controller.abort();
  await ctx?.close();
  await proxy?.stop();
  await reg?.stop();
  if (home) await removeTempDir(home);
});

beforeEach(() => proxy.reset());

let seedCount = 0;
/** A fresh blob of its own (no test sees another's). */
function blob(): { desc: Descriptor; bytes: Buffer } {
  const bytes = Buffer.from(`blob ${++seedCount} ${Math.random()}`);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
  return { desc: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: bytes.length }, bytes };
}

/** Uploads a blob straight into the backing registry (not through the proxy: not counted). */
async function seed(repo: string, bytes: Buffer, digest: string): Promise<void> {
  const start = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  const loc = new URL(start.headers.get('location')!, reg.url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`seed upload answered ${put.status}`);
}

async function inRegistry(repo: string, digest: string): Promise<boolean> {
  const res = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  return res.status === 200;
}

async function dest(repository: string): Promise<ImageDestination> {
  const loc: Location = { kind: 'registry', ref: { registry: proxy.host, apiHost: proxy.host, repository, tag: 'v1' } };
  return openDestination(loc, destinationDeps(ctx));
}

const repoAt = (repository: string): RegistryRepo => ({ host: proxy.host, repository });

async function* chunks(bytes: Buffer): AsyncIterable<Uint8Array> {
  yield bytes;
}

describe('registry destination tryReuse', () => {
  it('a blob the repository holds is reused by one HEAD: exists', async () => {
    const { desc, bytes } = blob();
    await seed('reuse/here', bytes, desc.digest);
    const dst = await dest('reuse/here');
    await expect(dst.tryReuse(desc, {}, signal)).resolves.toBe('exists');
    expect(proxy.count('blob-head')).toBe(1);
    expect(proxy.count(['mount', 'upload'])).toBe(0);
  });

  it('a blob of another repository of the same registry (the source) is mounted: the registry then holds it', async () => {
    const { desc, bytes } = blob();
    await seed('reuse/src', bytes, desc.digest);
    const dst = await dest('reuse/mount-to');
    await expect(dst.tryReuse(desc, { from: repoAt('reuse/src') }, signal)).resolves.toBe('mounted');
    expect(proxy.count('mount')).toBe(1);
    expect(await inRegistry('reuse/mount-to', desc.digest)).toBe(true);
  });

  it('a source in another registry is not asked for a mount: not reused, nothing sent', async () => {
    const { desc, bytes } = blob();
    await seed('reuse/other-src', bytes, desc.digest);
    const dst = await dest('reuse/other-to');
    const from = { host: 'registry.elsewhere.test', repository: 'reuse/other-src' };
    await expect(dst.tryReuse(desc, { from }, signal)).resolves.toBeUndefined();
    expect(proxy.count('mount')).toBe(0);
    expect(proxy.count('blob-head')).toBe(1);
  });

  it('a refused mount (202) opens the session the upload then uses: no second POST, no DELETE', async () => {
    const { desc, bytes } = blob();
    const dst = await dest('reuse/refused');
    // The blob is in no repository: distribution answers the mount 202 with an upload session.
    await expect(dst.tryReuse(desc, { from: repoAt('reuse/nowhere') }, signal)).resolves.toBeUndefined();
    expect(proxy.count('mount')).toBe(1);
    await dst.putBlob(desc, async () => chunks(bytes), signal);
    await dst.commit(signal);
    expect(proxy.count((r) => r.kind === 'upload' && r.method === 'POST')).toBe(0);
    expect(proxy.count('blob-delete') + proxy.count((r) => r.kind === 'upload' && r.method === 'DELETE')).toBe(0);
    expect(await inRegistry('reuse/refused', desc.digest)).toBe(true);
    expect(await openUploads(reg, 'reuse/refused')).toEqual([]);
  });

  it("with the run's cache, a blob another copy uploaded into this registry is mounted without a HEAD first", async () => {
    const { desc, bytes } = blob();
    const shared = new SharedBlobs();
    const first = await dest('reuse/cache-a');
    await expect(first.tryReuse(desc, { shared }, signal)).resolves.toBeUndefined();
    await first.putBlob(desc, async () => chunks(bytes), signal);
    proxy.reset();
    const second = await dest('reuse/cache-b');
    await expect(second.tryReuse(desc, { shared }, signal)).resolves.toBe('mounted');
    expect(proxy.count('blob-head')).toBe(0);
    expect(proxy.count('mount')).toBe(1);
    expect(await inRegistry('reuse/cache-b', desc.digest)).toBe(true);
  });

  it('two copies placing one blob into one repository: the second waits for the upload, then reuses it unasked', async () => {
    const { desc, bytes } = blob();
    const shared = new SharedBlobs();
    const a = await dest('reuse/race');
    const b = await dest('reuse/race');
    // Both found the repository absent (no tag): a HEAD by the second would be skipped and the blob uploaded twice.
    await Promise.all([a.resolve(signal), b.resolve(signal)]);
    await expect(a.tryReuse(desc, { shared }, signal)).resolves.toBeUndefined();
    let answered: string | undefined;
    const second = b.tryReuse(desc, { shared }, signal).then((r) => (answered = r));
    await new Promise((r) => setImmediate(r));
    expect(answered, 'the second waits while the first uploads').toBeUndefined();
    proxy.reset();
    await a.putBlob(desc, async () => chunks(bytes), signal);
    const uploads = proxy.count();
    await second;
    expect(answered).toBe('exists');
    expect(proxy.count(), 'the second asked the registry nothing').toBe(uploads);
    expect(await inRegistry('reuse/race', desc.digest)).toBe(true);
  });

  it('a failed upload hands the placement to the next copy, which uploads itself', async () => {
    const { desc, bytes } = blob();
    const shared = new SharedBlobs();
    const a = await dest('reuse/handover');
    const b = await dest('reuse/handover');
    await expect(a.tryReuse(desc, { shared }, signal)).resolves.toBeUndefined();
    const second = b.tryReuse(desc, { shared }, signal);
    const broken = async () => chunks(Buffer.from('not the blob'));
    await expect(a.putBlob(desc, broken, signal)).rejects.toThrow();
    await expect(second).resolves.toBeUndefined();
    await b.putBlob(desc, async () => chunks(bytes), signal);
    expect(await inRegistry('reuse/handover', desc.digest)).toBe(true);
  });
});

describe('local destination tryReuse', () => {
  it('an OCI layout reuses a blob whose file it holds, and only that', async () => {
    const dir = await makeTempDir('reuse-oci');
    try {
      const dst = await openDestination({ kind: 'oci', path: `${dir}/layout` }, destinationDeps(ctx));
      const { desc, bytes } = blob();
      await expect(dst.tryReuse(desc, {}, signal)).resolves.toBeUndefined();
      await dst.putBlob(desc, async () => chunks(bytes), signal);
      await expect(dst.tryReuse(desc, {}, signal)).resolves.toBe('exists');
      await dst.abort();
    } finally {
      await removeTempDir(dir);
    }
  });
});
