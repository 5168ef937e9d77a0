// --jobs N is the most blob transfers in flight, the small-blob lane included: counted at the source's proxy. Without
// --jobs, small blobs (under 4 MiB) get more lanes (16) than big ones (8): their cost is round trips, not bytes.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { makeImageLayout, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

let src: RegistryHandle;
let dst: RegistryHandle;
/** in front of the source: every blob GET is a transfer; its peak concurrency is what --jobs bounds */
let S: FaultProxy;
let work: string;
let n = 0;

// Three layers over the 256 KiB small-blob line, two under it, and the config (small): the lane has work.
const LAYERS = [600_000, 500_000, 400_000, 3_000, 2_000];
// Fourteen light layers (under 4 MiB): with the config, fifteen transfers that the default lets run at once.
const MANY = Array.from({ length: 14 }, (_, i) => 150_000 + i * 1000);

beforeAll(async () => {
  work = await makeTempDir('jobs-test');
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  S = await startFaultProxy(src.url);
  const [a, b, c] = await Promise.all([
    makeImageLayout(join(work, 'a'), { layers: LAYERS, seed: 'jobs-a', tag: 'v1' }),
    makeImageLayout(join(work, 'b'), { layers: LAYERS, seed: 'jobs-b', tag: 'v1' }),
    makeImageLayout(join(work, 'c'), { layers: MANY, seed: 'jobs-c', tag: 'v1' }),
  ]);
  await Promise.all([
    seedImage(`oci:${a.dir}:v1`, `${src.host}/src/a:v1`),
    seedImage(`oci:${b.dir}:v1`, `${src.host}/src/b:v1`),
    seedImage(`oci:${c.dir}:v1`, `${src.host}/src/c:v1`),
  ]);
});

afterAll(async () => {
  await S?.stop();
  await Promise.all([src?.stop(), dst?.stop()]);
  await removeTempDir(work);
});

beforeEach(() => {
  S.clearFaults();
  S.reset();
  // Slow bodies, so transfers that the pool lets run together are seen together.
  S.slowBody(1_000_000, 'blob-get');
});

describe('--jobs bounds blob transfers, the small-blob lane included', () => {
  it.each([1, 2])('copy --jobs %i: at most that many blob GETs in flight at the source', async (jobs) => {
    const target = `${dst.host}/copy${jobs}/r${++n}:v1`;
    const r = await runCli(['copy', '--jobs', String(jobs), `${S.host}/src/a:v1`, target]);
    expect(r.stderr).not.toMatch(/^regctl:/m);
    expect(r.code).toBe(0);
    expect(S.count('blob-get')).toBe(LAYERS.length + 1);
    expect(S.peakConcurrent('blob-get')).toBe(jobs);
  });

  it('sync --jobs 1 over two images: one blob GET at a time across both', async () => {
    const spec = join(work, `sync-${++n}.yaml`);
    const target = `${dst.host}/sync${n}`;
    await writeFile(
      spec,
      [
        'defaults: { images: 2 }',
        'sync:',
        `  - { source: "${S.host}/src/a:v1", target: "${target}/a" }`,
        `  - { source: "${S.host}/src/b:v1", target: "${target}/b" }`,
        '',
      ].join('\n'),
    );
    const r = await runCli(['sync', '--jobs', '1', spec]);
    expect(r.stderr).not.toMatch(/^regctl:/m);
    expect(r.code).toBe(0);
    expect(S.count('blob-get')).toBe(2 * (LAYERS.length + 1));
    expect(S.peakConcurrent('blob-get')).toBe(1);
  });
});

describe('without --jobs, small blobs get more lanes than the 8 of big ones', () => {
  it('copy with no --jobs: all fifteen small blobs (14 layers + config) are read at once', async () => {
    const r = await runCli(['copy', `${S.host}/src/c:v1`, `${dst.host}/lanes/r${++n}:v1`]);
    expect(r.stderr).not.toMatch(/^regctl:/m);
    expect(r.code).toBe(0);
    expect(S.count('blob-get')).toBe(MANY.length + 1);
    expect(S.peakConcurrent('blob-get')).toBe(MANY.length + 1);
  });

  it('copy --jobs 8 (typed by the user): 8 caps the small blobs too', async () => {
    const r = await runCli(['copy', '--jobs', '8', `${S.host}/src/c:v1`, `${dst.host}/lanes/r${++n}:v1`]);
    expect(r.code).toBe(0);
    expect(S.count('blob-get')).toBe(MANY.length + 1);
    expect(S.peakConcurrent('blob-get')).toBe(8);
  });

  it('sync with `jobs: 4` in the spec defaults: 4 caps the small blobs too', async () => {
    const spec = join(work, `sync-${++n}.yaml`);
    await writeFile(
      spec,
      [
        'defaults: { jobs: 4 }',
        'sync:',
        `  - { source: "${S.host}/src/c:v1", target: "${dst.host}/lanes/s${n}" }`,
        '',
      ].join('\n'),
    );
    const r = await runCli(['sync', spec]);
    expect(r.stderr).not.toMatch(/^regctl:/m);
    expect(r.code).toBe(0);
    expect(S.peakConcurrent('blob-get')).toBe(4);
  });

  it('sync with no jobs anywhere: the small blobs of an image are read at once', async () => {
    const spec = join(work, `sync-${++n}.yaml`);
    await writeFile(
      spec,
      ['sync:', `  - { source: "${S.host}/src/c:v1", target: "${dst.host}/lanes/s${n}" }`, ''].join('\n'),
    );
    const r = await runCli(['sync', spec]);
    expect(r.stderr).not.toMatch(/^regctl:/m);
    expect(r.code).toBe(0);
    expect(S.count('blob-get')).toBe(MANY.length + 1);
    // Every layer at once, past the 8 lanes of big blobs (the config, a few hundred bytes, may be done before the
    // last layer starts: sync waits a turn per blob for other images' uploads of it).
    expect(S.peakConcurrent('blob-get')).toBeGreaterThanOrEqual(MANY.length);
  });
});
