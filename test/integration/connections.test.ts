// Connections are reused for the whole command: one pool per origin that is never dropped, and a HEAD's connection
// kept (its answer has no content). Counted at fault proxies in front of both registries: each TCP connection a
// client opens to them. On a real network every new connection costs a TCP and a TLS handshake.
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { makeImageLayout, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

let src: RegistryHandle;
let dst: RegistryHandle;
let S: FaultProxy;
let D: FaultProxy;
let work: string;
let n = 0;
const LAYERS = Array.from({ length: 16 }, (_, i) => 40_000 + i * 1000);
const TAGS = ['t1'];

beforeAll(async () => {
  work = await makeTempDir('connections-test');
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  [S, D] = await Promise.all([startFaultProxy(src.url), startFaultProxy(dst.url)]);
  const img = await makeImageLayout(join(work, 'img'), { layers: LAYERS, seed: 'conn-a', tag: 'v1' });
  await seedImage(`oci:${img.dir}:v1`, `${src.host}/src/img:v1`);
  for (const t of TAGS) await seedImage(`oci:${img.dir}:v1`, `${src.host}/src/img:${t}`);
});

afterAll(async () => {
  await Promise.all([S?.stop(), D?.stop()]);
  await Promise.all([src?.stop(), dst?.stop()]);
  await removeTempDir(work);
});

beforeEach(() => {
  S.reset();
  D.reset();
});

describe('connections are reused across the requests of a command', () => {
  it('copy --jobs 2 of 17 blobs: a handful of connections on each side, not one per blob', async () => {
    const r = await runCli(['copy', '--jobs', '2', `${S.host}/src/img:v1`, `${D.host}/c/r${++n}:v1`]);
    expect(r.stderr).not.toMatch(/^regctl:/m);
    expect(r.code).toBe(0);
    expect(S.count('blob-get')).toBe(LAYERS.length + 1);
    expect(D.count((q) => q.method === 'PUT')).toBeGreaterThanOrEqual(LAYERS.length + 1);
    // The loopback HTTPS probe (1), then at most the two lanes and the manifest requests beside them. undici's Agent
    // dropped an origin's pool whenever its count of connected sockets reached 0, which a HEAD's closed socket started:
    // 7 here, and one connection per blob GET in the benchmark's 64-layer copy (68 for 65 GETs).
    expect(S.connections()).toBeLessThanOrEqual(5);
    expect(D.connections()).toBeLessThanOrEqual(5);
  });

  it('--jobs 1 into a repository holding every blob: 17 blob HEADs on one connection, not one each', async () => {
    const repo = `${D.host}/h/r${++n}`;
    const first = await runCli(['copy', `${S.host}/src/img:v1`, `${repo}:v1`]);
    expect(first.code).toBe(0);
    D.reset();
    const again = await runCli(['copy', '--jobs', '1', `${S.host}/src/img:t1`, `${repo}:t1`]);
    expect(again.stderr).not.toMatch(/^regctl:/m);
    expect(again.code).toBe(0);
    expect(D.count('blob-head')).toBe(LAYERS.length + 1);
    expect(D.count('upload')).toBe(0);
    // The probe's connection and one more: undici closes a connection after each HEAD unless told not to.
    expect(D.connections()).toBeLessThanOrEqual(3);
  });
});
