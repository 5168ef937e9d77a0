// The live view on a real pseudo-terminal: a bar per layer and the whole copy's bytes, speed and ETA; rows fit the
// width (also after a resize); colour on a terminal, none with NO_COLOR; a 0-column pty gets plain lines.
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { type ImageFixture, makeImageLayout, seedImage } from '../support/images.js';
import { makeTempDir, removeTempDir } from '../support/lifecycle.js';
import { type PtyProcess, startPty } from '../support/pty.js';
import { type RegistryHandle, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

let reg: RegistryHandle;
/** in front of the registry: slow blob bodies, so the view is drawn while layers are in flight */
let slow: FaultProxy;
let work: string;
let image: ImageFixture;
let n = 0;

const SGR = /\x1b\[[0-9;]*m/;
const COLOURED = /\x1b\[(3[0-9]|9[0-7]|2|1)(;[0-9]+)*m/;

/** What the terminal showed, line by line: colour codes removed, other escape sequences and CR/LF end a line. */
function screenLines(output: string): string[] {
  return output
    .replace(/\x1b\[[0-9;]*m/g, '')
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n')
    .split(/\r|\n/)
    .filter((l) => l.trim());
}

async function until(cond: () => boolean, what: string, pty: PtyProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\noutput: ${pty.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const LAYER_BAR = /^\s+sha256:[0-9a-f]{12} \[[=> ]+\]\s+\d.* \/ .*\d+%/;
const TOTAL = /\d+\/4 blobs, [\d.]+ [KMG]?i?B \/ [\d.]+ [KMG]?i?B.*\[[=> ]*\]$/;

beforeAll(async () => {
  work = await makeTempDir('live-view');
  reg = await startRegistry();
  slow = await startFaultProxy(reg.url);
  image = await makeImageLayout(join(work, 'img'), {
    layers: [600_000, 400_000, 300_000],
    seed: 'live-img',
    tag: 'v1',
  });
  await seedImage(`oci:${image.dir}:v1`, `${reg.host}/src/app:v1`);
});

afterAll(async () => {
  await slow?.stop();
  await reg?.stop();
  await removeTempDir(work);
});

beforeEach(() => {
  slow.clearFaults();
  slow.reset();
  // ~4 s for the image: several frames with every layer in flight
  slow.slowBody(300_000, 'blob-get');
});

const copyArgs = () => ['copy', `${slow.host}/src/app:v1`, `oci:${join(work, `out${++n}`)}:v1`];

describe('the live view at a terminal', () => {
  it('draws a bar per layer and a totals row with speed and ETA, in colour, within 100 columns', async () => {
    const pty = await startPty(copyArgs(), { cols: 100, env: { NO_COLOR: undefined, FORCE_COLOR: undefined } });
    const r = await pty.result;
    expect(r.code, r.output).toBe(0);
    const lines = screenLines(r.output);
    expect(
      lines.some((l) => LAYER_BAR.test(l)),
      lines.join('\n'),
    ).toBe(true);
    expect(
      lines.some((l) => TOTAL.test(l) && / {2}ETA \d+/.test(l) && /B\/s/.test(l)),
      lines.join('\n'),
    ).toBe(true);
    // ora's spinner and a space come before the totals row: every row still fits (stdout's `ref@digest` is a result)
    for (const l of lines.filter((x) => !x.startsWith('oci:')))
      expect(Array.from(l).length, l).toBeLessThanOrEqual(100);
    // colour: the bars' fill, digests dimmed, the check mark
    expect(r.output).toMatch(COLOURED);
    expect(r.output).toMatch(/\x1b\[32m\u2714\x1b\[39m \x1b\[32mcopied\x1b\[39m: /);
  });

  it('NO_COLOR: the same view without a single colour code', async () => {
    const pty = await startPty(copyArgs(), { cols: 100, env: { NO_COLOR: '1' } });
    const r = await pty.result;
    expect(r.code, r.output).toBe(0);
    expect(
      screenLines(r.output).some((l) => LAYER_BAR.test(l)),
      r.output,
    ).toBe(true);
    expect(r.output).not.toMatch(SGR);
  });

  it('a resize to 50 columns: later frames are laid out for 50 columns, no row wraps', async () => {
    const pty = await startPty(copyArgs(), { cols: 200, env: { NO_COLOR: '1' } });
    // rows wider than 50 columns: laid out for 200
    await until(() => screenLines(pty.output()).some((l) => LAYER_BAR.test(l) && l.length > 80), 'wide bars', pty);
    pty.resize(50, 30);
    const at = pty.output().length;
    // Two totals rows after the resize: the second is surely drawn for the new width.
    const heads = () => [
      ...pty
        .output()
        .slice(at)
        .matchAll(/\d+\/4 blobs/g),
    ];
    await until(() => heads().length >= 2, 'frames after the resize', pty);
    const from = at + heads()[1].index;
    const r = await pty.result;
    expect(r.code, r.output).toBe(0);
    const after = screenLines(r.output.slice(from)).filter((x) => !x.startsWith('oci:'));
    expect(after.length).toBeGreaterThan(0);
    for (const l of after) expect(Array.from(l).length, l).toBeLessThanOrEqual(50);
  });

  it('a 0-column pty: plain lines, one per layer, no redraw codes', async () => {
    const pty = await startPty(copyArgs(), { cols: 0, env: { NO_COLOR: '1' } });
    const r = await pty.result;
    expect(r.code, r.output).toBe(0);
    expect(r.output.match(/^sha256:[0-9a-f]{12} {2}.* {2}copied in /gm)?.length, r.output).toBe(4);
    expect(r.output).not.toContain('\x1b[?25l');
    expect(r.output).not.toMatch(/\[[=>]+ *\]/);
  });
});

describe('colour off a terminal', () => {
  const missing = () => `${reg.host}/nothing/here:v1`;

  it('FORCE_COLOR colours error lines even into a pipe (runtime and usage errors)', async () => {
    const r = await runCli(['digest', missing()], { env: { FORCE_COLOR: '1' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^\x1b\[31mregctl: .*\x1b\[39m$/m);
    const bad = await runCli(['copy', 'oci:', 'oci:x'], { env: { FORCE_COLOR: '1' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^\x1b\[31mregctl: /m);
  });

  it('no colour into a pipe by default, with NO_COLOR, or with --json (even with FORCE_COLOR)', async () => {
    for (const [args, env] of [
      [['digest', missing()], { NO_COLOR: undefined }],
      [['digest', missing()], { NO_COLOR: '1' }],
      [['--json', 'digest', missing()], { FORCE_COLOR: '1' }],
    ] as const) {
      const r = await runCli([...args], { env: { ...env } });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^regctl: /m);
      expect(r.stderr + r.stdout).not.toMatch(SGR);
    }
  });
});
