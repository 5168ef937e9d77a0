// The library (src/index.ts, what `import … from 'regctl-js'` loads) against the real registry: progress events,
// cancelling through an AbortSignal, errors carrying their stable codes, and silence on stderr.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ProgressEvent,
  RegctlError,
  copy,
  digest,
  inspect,
  listTags,
  pull,
  push,
  sync,
  tag,
} from '../../src/index.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, makeIndexLayout, registryDigest, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';

let reg: RegistryHandle;
/** a second registry: a copy to it sends every blob */
let other: RegistryHandle;
/** in front of the same registry: slows blob bodies for the abort test, counts requests */
let proxy: FaultProxy;
let work: string;
let image: ImageFixture;
/** no Docker config, no keychain: the default chain finds nothing and the plain registry needs nothing */
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  work = await makeTempDir('api-test');
  [reg, other] = await Promise.all([startRegistry(), startRegistry()]);
  proxy = await startFaultProxy(reg.url);
  image = await makeImageLayout(join(work, 'img'), { layers: [300_000, 200_000], seed: 'api-img', tag: 'v1' });
  await seedImage(`oci:${image.dir}:v1`, `${reg.host}/src/app:v1`);
  env = { HOME: work, DOCKER_CONFIG: join(work, '.docker'), XDG_CONFIG_HOME: join(work, '.config') };
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([reg?.stop(), other?.stop()]);
  await removeTempDir(work);
});

beforeEach(() => {
  proxy.clearFaults();
  proxy.reset();
});

describe('copy', () => {
  it('reports blob started / bytes / done and manifest written; resolves to the digest HEAD answers', async () => {
    const events: ProgressEvent[] = [];
    const stderr = vi.spyOn(process.stderr, 'write');
    const onProgress = (e: ProgressEvent) => events.push(e);
    const r = await copy(`${reg.host}/src/app:v1`, `${other.host}/dst/app:v1`, { env, onProgress });
    const wrote = stderr.mock.calls.length;
    stderr.mockRestore();
    expect(wrote).toBe(0);
    expect(r.digest).toBe(await registryDigest(other.host, 'dst/app', 'v1'));
    expect(r.digest).toBe(image.manifestDigest);
    expect(r.reference).toBe(`${other.host}/dst/app:v1@${r.digest}`);
    expect(r.mediaType).toBe(image.manifestMediaType);
    expect(r.platforms).toEqual([]);
    expect(r.upToDate).toBe(false);
    // Every blob is sent (another registry) and ends in one blob-done; its byte events add up to its size.
    const done = events
      .filter((e) => e.type === 'blob-done')
      .map((e) => e.digest)
      .sort();
    expect(done).toEqual([image.configDigest, ...image.layerDigests].sort());
    for (const e of events.filter((x) => x.type === 'blob-started')) {
      const bytes = events.filter((x) => x.type === 'blob-bytes' && x.digest === e.digest);
      expect(bytes.reduce((n, x) => n + (x.type === 'blob-bytes' ? x.bytes : 0), 0)).toBe(e.size);
    }
    expect(events.filter((e) => e.type === 'blob-started')).toHaveLength(3);
    const sent = events.flatMap((e) => (e.type === 'blob-done' && e.outcome === 'sent' ? [e.size] : []));
    expect(r.bytesSent).toBe(sent.reduce((n, x) => n + x, 0));
    const manifests = events.filter((e) => e.type === 'manifest-written');
    expect(manifests).toEqual([{ type: 'manifest-written', digest: r.digest }]);
  });

  it('an index: the result names its platforms, also when a second copy is up to date', async () => {
    const platforms = ['linux/amd64', 'linux/arm64'];
    const index = await makeIndexLayout(join(work, 'idx'), { layers: [1_000], seed: 'idx', tag: 'multi', platforms });
    await seedImage(`oci:${index.dir}:multi`, `${reg.host}/src/multi:1`, { all: true });
    const first = await copy(`${reg.host}/src/multi:1`, `${other.host}/again/multi:1`, { env });
    expect(first.digest).toBe(index.indexDigest);
    expect(first.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    const events: ProgressEvent[] = [];
    const onProgress = (e: ProgressEvent) => events.push(e);
    const r = await copy(`${reg.host}/src/multi:1`, `${other.host}/again/multi:1`, { env, onProgress });
    expect(r.upToDate).toBe(true);
    expect(r.bytesSent).toBe(0);
    expect(r.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    expect(events).toEqual([]);
  });

  it('an AbortSignal mid-copy rejects and leaves no manifest at the destination', async () => {
    proxy.slowBody(100_000, 'blob-get');
    const controller = new AbortController();
    const started = copy(`${proxy.host}/src/app:v1`, `${reg.host}/aborted/app:v1`, {
      env,
      signal: controller.signal,
      // Abort once layer bytes are flowing.
      onProgress: (e) => {
        if (e.type === 'blob-bytes' && !controller.signal.aborted) controller.abort(new Error('stop now'));
      },
    });
    await expect(started).rejects.toThrow('stop now');
    expect(proxy.count('manifest-put')).toBe(0);
    expect((await fetch(`${reg.url}/v2/aborted/app/manifests/v1`, { method: 'HEAD' })).status).toBe(404);
  });

  it('an already aborted signal rejects before any request', async () => {
    const controller = new AbortController();
    controller.abort(new Error('never started'));
    const started = copy(`${proxy.host}/src/app:v1`, `${reg.host}/never/app:v1`, { env, signal: controller.signal });
    await expect(started).rejects.toThrow('never started');
    expect(proxy.count()).toBe(0);
  });
});

describe('errors carry their code', () => {
  it('a missing image: NOT_FOUND, exit status 1', async () => {
    const err = await copy(`${reg.host}/src/nothing:v1`, `${reg.host}/dst/nothing:v1`, { env }).catch((e) => e);
    expect(err).toBeInstanceOf(RegctlError);
    expect((err as RegctlError).code).toBe('NOT_FOUND');
    expect((err as RegctlError).exitCode).toBe(1);
    const d = await digest(`${reg.host}/src/nothing:v1`, { env }).catch((e: unknown) => e);
    expect((d as RegctlError).code).toBe('NOT_FOUND');
  });

  it('a bad reference: USAGE, exit status 2, and no request sent', async () => {
    const err = await copy(`${proxy.host}/src/App:v1`, `${proxy.host}/dst/app:v1`, { env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegctlError);
    expect((err as RegctlError).code).toBe('USAGE');
    expect((err as RegctlError).exitCode).toBe(2);
    const t = await tag(`${proxy.host}/src/app:v1`, 'other/repo:x', { env }).catch((e: unknown) => e);
    expect((t as RegctlError).code).toBe('USAGE');
    const j = await listTags(`${proxy.host}/src/app`, { env, jobs: 0 }).catch((e: unknown) => e);
    expect((j as RegctlError).code).toBe('USAGE');
    const f = await push(join(work, 'missing.tar'), `${proxy.host}/dst/app:v1`, { env }).catch((e) => e);
    expect(f).toMatchObject({ code: 'USAGE', exitCode: 2, message: expect.stringMatching(/no such file/) });
    expect(proxy.count()).toBe(0);
  });
});

describe('the other commands', () => {
  it('digest, tag, listTags and inspect answer as the registry says', async () => {
    expect(await digest(`${reg.host}/src/app:v1`, { env })).toEqual({
      digest: image.manifestDigest,
      mediaType: image.manifestMediaType,
      size: image.manifestSize,
    });
    const t = await tag(`${reg.host}/src/app:v1`, ['v1.0', 'latest'], { env });
    const tags = [`${reg.host}/src/app:v1.0`, `${reg.host}/src/app:latest`];
    expect(t).toEqual({ digest: image.manifestDigest, tags });
    expect(await registryDigest(reg.host, 'src/app', 'v1.0')).toBe(image.manifestDigest);
    expect((await listTags(`${reg.host}/src/app`, { env })).sort()).toEqual(['latest', 'v1', 'v1.0']);
    const info = await inspect(`${reg.host}/src/app:v1`, { env });
    expect(info.digest).toBe(image.manifestDigest);
    expect('layers' in info && info.layers.map((l) => l.digest)).toEqual(image.layerDigests);
  });

  it('pull to an OCI layout and push it back: the same digest', async () => {
    const pulled = await pull(`${reg.host}/src/app:v1`, join(work, 'pulled'), { env, format: 'oci' });
    expect(pulled.digest).toBe(image.manifestDigest);
    const pushed = await push(`oci:${join(work, 'pulled')}:v1`, `${reg.host}/pushed/app:v1`, { env });
    expect(pushed.digest).toBe(image.manifestDigest);
    expect(await registryDigest(reg.host, 'pushed/app', 'v1')).toBe(image.manifestDigest);
  });

  it('sync: a dry run plans one copy and changes nothing; the run copies it', async () => {
    const spec = join(work, 'mirror.yaml');
    await writeFile(spec, `sync:\n  - source: ${reg.host}/src/app:v1\n    target: ${other.host}/mirror/app\n`);
    const plan = await sync(spec, { env, dryRun: true });
    expect(plan.ok).toBe(true);
    expect(plan.report).toMatchObject({ dryRun: true, summary: { images: 1, copy: 1, upToDate: 0, failed: 0 } });
    expect((await fetch(`${other.url}/v2/mirror/app/manifests/v1`, { method: 'HEAD' })).status).toBe(404);
    const done = await sync(spec, { env });
    expect(done.ok).toBe(true);
    expect(await registryDigest(other.host, 'mirror/app', 'v1')).toBe(image.manifestDigest);
  });
});
