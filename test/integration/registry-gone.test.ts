// A registry that goes away mid-copy: one line per retried operation, naming the side (source or destination) and
// its host, then one final error — not a line per attempt and per upload session.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { startCli } from '../support/run-cli.js';

let src: RegistryHandle;
let dst: RegistryHandle;
let work: string;
let image: ImageFixture;

beforeAll(async () => {
  work = await makeTempDir('registry-gone');
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  const layers = [200_000, 100_000, 50_000, 20_000, 10_000, 5_000];
  image = await makeImageLayout(join(work, 'img'), { layers, seed: 'gone', tag: 'v1' });
  await seedImage(`oci:${image.dir}:v1`, `${src.host}/lib/app:v1`);
});

afterAll(async () => {
  await Promise.all([src?.stop(), dst?.stop()]);
  await removeTempDir(work);
});

/** Waits for `cond`, or for the CLI to end first (then the assertions that follow say why). */
async function until(cond: () => boolean, ended: Promise<unknown>): Promise<void> {
  let done = false;
  const end = () => void (done = true);
  ended.then(end, end);
  while (!cond() && !done) await new Promise((r) => setTimeout(r, 10));
}

describe('a destination that goes away mid-copy', () => {
  it('prints one retry line per operation, naming the destination and its host, then one error', async () => {
    const B: FaultProxy = await startFaultProxy(dst.url);
    let stopped = false;
    try {
      // Every blob upload hangs at the destination; once they are in flight the registry goes away.
      B.hold((r) => r.kind === 'upload' && r.method !== 'DELETE', 1000);
      const cli = await startCli(['copy', '--retries', '3', `${src.host}/lib/app:v1`, `${B.host}/gone/app:v1`]);
      await until(() => B.stats.filter((r) => r.fault === 'hold').length >= 3, cli.result);
      await B.stop();
      stopped = true;
      const r = await cli.result;
      expect(r.code, r.stderr).toBe(1);
      const lines = r.stderr.trim().split('\n');
      const retries = lines.filter((l) => /^retrying /.test(l));
      const errors = lines.filter((l) => l.startsWith('regctl: '));
      expect(errors, r.stderr).toHaveLength(1);
      expect(retries.length, r.stderr).toBeGreaterThan(0);
      for (const l of retries) expect(l, r.stderr).toContain(`destination ${B.host}`);
      // One line per retried operation (start upload, upload, …), not one per attempt or per blob.
      const ops = retries.map((l) => l.replace(/ \(destination .*$/, ''));
      expect(new Set(ops).size, r.stderr).toBe(ops.length);
      expect(retries.length, r.stderr).toBeLessThanOrEqual(4);
      expect(r.stderr).not.toMatch(/cancel upload/);
    } finally {
      if (!stopped) await B.stop();
    }
  });

  it('a source that goes away mid-download is named as the source, once per operation', async () => {
    const A: FaultProxy = await startFaultProxy(src.url);
    let stopped = false;
    try {
      A.hold('blob-get', 1000);
      const cli = await startCli(['copy', '--retries', '3', `${A.host}/lib/app:v1`, `${dst.host}/gone/from-src:v1`]);
      await until(() => A.stats.filter((r) => r.fault === 'hold').length >= 3, cli.result);
      await A.stop();
      stopped = true;
      const r = await cli.result;
      expect(r.code, r.stderr).toBe(1);
      const lines = r.stderr.trim().split('\n');
      const retries = lines.filter((l) => /^retrying /.test(l));
      expect(
        lines.filter((l) => l.startsWith('regctl: ')),
        r.stderr,
      ).toHaveLength(1);
      expect(retries.length, r.stderr).toBeGreaterThan(0);
      for (const l of retries) expect(l, r.stderr).toMatch(new RegExp(`source ${A.host.replace(/\./g, '\\.')}`));
      expect(new Set(retries).size, r.stderr).toBe(retries.length);
      expect(retries.length, r.stderr).toBeLessThanOrEqual(4);
    } finally {
      if (!stopped) await A.stop();
    }
  });
});
