// At a real terminal (a pseudo-terminal): Ctrl-C typed while the live progress view is drawn interrupts the copy, and
// the terminal keeps its signal keys throughout and after; `inspect --raw` ends its output with a newline there.
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, seedImage } from '../support/images.js';
import { type PtyProcess, startPty, sttyHas } from '../support/pty.js';
import type { RegistryHandle } from '../support/registry.js';
import { type ProxiedPair, startProxiedPair } from '../support/proxied.js';

let pair: ProxiedPair;
let src: RegistryHandle;
let dst: RegistryHandle;
/** in front of the source: slow blob bodies */
let A: FaultProxy;
/** in front of the destination: sees uploads and the manifest PUT that must not come */
let B: FaultProxy;
let work: string;
let image: ImageFixture;
let n = 0;

async function until(cond: () => boolean, what: string, pty: PtyProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\noutput: ${pty.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The terminal's line discipline makes signals of its keys (isig) and reads lines (icanon), as a shell left it. */
function expectCooked(stty: string): void {
  expect(sttyHas(stty, 'isig'), stty).toBe(true);
  expect(sttyHas(stty, 'icanon'), stty).toBe(true);
  expect(sttyHas(stty, 'echo'), stty).toBe(true);
}

beforeAll(async () => {
  pair = await startProxiedPair('tty-test');
  ({ work, src, dst, A, B } = pair);
  image = await makeImageLayout(join(work, 'img'), { layers: [900_000, 700_000, 500_000], seed: 'tty-img', tag: 'v1' });
  await seedImage(`oci:${image.dir}:v1`, `${src.host}/src/app:v1`);
});

afterAll(async () => {
  await pair?.stop();
});

beforeEach(() => {
  pair.reset();
  // ~10 s for the whole image: the view is up long enough to type into it.
  A.slowBody(200_000, 'blob-get');
});

const headStatus = async (repo: string): Promise<number> =>
  (await fetch(`${dst.url}/v2/${repo}/manifests/v1`, { method: 'HEAD' })).status;

/** A layer is streaming into an upload session at the destination. */
const uploading = (): boolean => B.stats.some((s) => s.kind === 'upload' && s.method === 'PUT' && s.bytesIn > 50_000);

describe('Ctrl-C typed at a terminal while the live progress view is drawn', () => {
  it('copy: isig stays on while the view is up; Ctrl-C exits 130, nothing committed, the terminal kept', async () => {
    const repo = `tty/copy${++n}`;
    const pty = await startPty(['copy', `${A.host}/src/app:v1`, `${B.host}/${repo}:v1`]);
    // The live view is drawn (its totals line) and a layer is streaming into an upload.
    await until(() => /\d+\/\d+ blobs, /.test(pty.output()) && uploading(), 'the live view and an upload', pty);
    expectCooked(await pty.stty());
    pty.ctrlC();
    const r = await pty.result;
    expect(r.code, r.output).toBe(130);
    expect(r.output).toMatch(/regctl: interrupted/);
    expect(B.count('manifest-put')).toBe(0);
    expect(await headStatus(repo)).toBe(404);
    expectCooked(r.sttyAfter);
    // The cursor the spinner hid is shown again.
    expect(r.output.lastIndexOf('\x1b[?25h')).toBeGreaterThan(r.output.lastIndexOf('\x1b[?25l'));
  });

  it('a second Ctrl-C while clean-up hangs exits at once, the terminal and cursor restored', async () => {
    // Upload cancellation (DELETE) stalls: the first Ctrl-C waits for it, the second does not.
    B.stall((r) => r.kind === 'upload' && r.method === 'DELETE', 100);
    const repo = `tty/twice${++n}`;
    const pty = await startPty(['copy', `${A.host}/src/app:v1`, `${B.host}/${repo}:v1`]);
    await until(() => /\d+\/\d+ blobs, /.test(pty.output()) && uploading(), 'the live view and an upload', pty);
    pty.ctrlC();
    await until(() => B.stats.some((s) => s.method === 'DELETE'), 'the cancellation to start', pty);
    pty.ctrlC();
    const r = await pty.result;
    expect(r.code, r.output).toBe(130);
    expect(await headStatus(repo)).toBe(404);
    expectCooked(r.sttyAfter);
    expect(r.output.lastIndexOf('\x1b[?25h')).toBeGreaterThan(r.output.lastIndexOf('\x1b[?25l'));
  });

  it('sync: the same', async () => {
    const spec = join(work, `sync-${++n}.yaml`);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(spec, `sync:\n  - { source: "${A.host}/src/app:v1", target: "${B.host}/tty/sync${n}" }\n`);
    const pty = await startPty(['sync', spec]);
    await until(() => /sync: \d+\/1 images/.test(pty.output()) && uploading(), 'the live view and an upload', pty);
    expectCooked(await pty.stty());
    pty.ctrlC();
    const r = await pty.result;
    expect(r.code, r.output).toBe(130);
    expect(B.count('manifest-put')).toBe(0);
    expect(await headStatus(`tty/sync${n}`)).toBe(404);
    expectCooked(r.sttyAfter);
  });
});

describe('inspect --raw at a terminal', () => {
  it('ends the manifest bytes with a newline (the terminal shows it as \\r\\n)', async () => {
    A.clearFaults();
    const pty = await startPty(['inspect', '--raw', `${A.host}/src/app:v1`]);
    const r = await pty.result;
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/\}\r\n$/);
  });
});
