// --jobs N is the most blob transfers in flight, the small-blob lane included: counted at the source's proxy.
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

beforeAll(async () => {
  work = await makeTempDir('jobs-test');
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  S = await startFaultProxy(src.url);
  const [a, b] = await Promise.all([
    makeImageLayout(join(work, 'a'), { layers: LAYERS, seed: 'jobs-a', tag: 'v1' }),
    makeImageLayout(join(work, 'b'), { layers: LAYERS, seed: 'jobs-b', tag: 'v1' }),
  ]);
  await Promise.all([
    seedImage(`oci:${a.dir}:v1`, `${src.host}/src/a:v1`),
    seedImage(`oci:${b.dir}:v1`, `${src.host}/src/b:v1`),
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
