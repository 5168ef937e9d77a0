// Live view layout and pacing: layer and total rows fit any width (colour codes not counted), ETA and speed text, the
// colour decision (NO_COLOR, FORCE_COLOR, --json, a TTY), and frames at most one per 100 ms tick (fake timers).
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RateWindow, bar, formatEta, layerRow, totalRow } from '../../src/output/bars.js';
import { PLAIN, type Paint, colorLevel, visibleLength } from '../../src/output/color.js';
import { liveView } from '../../src/output/live.js';

const wrap = (t: string) => `\x1b[36m${t}\x1b[39m`;
const COLOUR: Paint = { error: wrap, warn: wrap, ok: wrap, dim: wrap, bar: wrap };
const NAME = '  sha256:0123456789ab';

describe('layer and total rows', () => {
  it('fit every width from 20 to 250 columns, plain or coloured', () => {
    for (let width = 20; width <= 250; width++) {
      for (const p of [PLAIN, COLOUR]) {
        for (const name of [
          NAME,
          `  docker.io/library/some-long-image-name:v1 → ${'registry.example/'.repeat(4)}img:v1`,
        ]) {
          const row = layerRow(name, 1_234_567, 9_876_543, '12.3 MiB/s', width, p);
          expect(visibleLength(row), `${width}: ${row}`).toBeLessThanOrEqual(width);
        }
        const total = totalRow('3/7 blobs, 12.3 MiB / 45.6 MiB  3.2 MiB/s  ETA 9 s', 0.27, width, p);
        expect(visibleLength(total), `${width}: ${total}`).toBeLessThanOrEqual(width);
      }
    }
  });

  it('a bar per layer where there is room (as docker pull), none on a narrow terminal', () => {
    expect(layerRow(NAME, 50, 100, '1.0 KiB/s', 100)).toMatch(
      /^ {2}sha256:0123456789ab \[=+> +\] +50 B \/ 100 B +50% {2}1\.0 KiB\/s$/,
    );
    expect(layerRow(NAME, 50, 100, '1.0 KiB/s', 60)).not.toContain('[');
    // a long name is cut in the middle for a short bar on a wide terminal
    const long = layerRow(`  src/${'a'.repeat(80)}/app:v1 → dst/app:v1`, 50, 100, '1/2 blobs', 100);
    expect(long).toMatch(/^ {2}src\/a+…a+\/app:v1 → dst\/app:v1 \[====> {5}\] +50 B \/ 100 B +50% {2}1\/2 blobs$/);
    expect(long.length).toBeLessThanOrEqual(100);
    expect(bar(0, 10)).toBe(`[${' '.repeat(10)}]`);
    expect(bar(1, 10)).toBe(`[${'='.repeat(10)}]`);
    expect(bar(0.5, 10)).toBe('[====>     ]');
  });

  it('ETA and speed', () => {
    expect(formatEta(9.2)).toBe('ETA 10 s');
    expect(formatEta(185)).toBe('ETA 3m05s');
    expect(formatEta(Number.POSITIVE_INFINITY)).toBe('');
    const w = new RateWindow(3000);
    expect(w.rate(0, 0)).toBe(0);
    expect(w.rate(1000, 1000)).toBe(1000);
    // the window forgets what is older than 3 s: the rate follows the link as it is now
    w.rate(4000, 4000);
    expect(w.rate(8000, 4000 + 4 * 100)).toBeLessThan(500);
  });
});

describe('colour decision', () => {
  it.each([
    [{}, true, false, 1],
    [{ TERM: 'xterm-256color' }, true, false, 2],
    [{ NO_COLOR: '' }, true, false, 0],
    [{ NO_COLOR: '1' }, true, false, 0],
    [{ TERM: 'dumb' }, true, false, 0],
    [{}, false, false, 0],
    [{}, true, true, 0],
    [{ FORCE_COLOR: '1' }, false, false, 1],
    [{ FORCE_COLOR: '3', NO_COLOR: '1' }, false, false, 3],
    [{ FORCE_COLOR: '' }, false, false, 1],
    [{ FORCE_COLOR: '0' }, true, false, 0],
    [{ FORCE_COLOR: '1' }, true, true, 0],
  ] as const)('%o tty=%s json=%s → level %i', (env, isTTY, json, level) => {
    expect(colorLevel(env as NodeJS.ProcessEnv, { isTTY, json })).toBe(level);
  });
});

describe('live view pacing', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a flood of updates and finished lines draws at most two writes of the block per 100 ms tick', async () => {
    vi.useFakeTimers();
    let frames = 0;
    const out = Object.assign(
      new Writable({
        write(chunk, _enc, cb) {
          if (String(chunk).includes('blobs')) frames++;
          cb();
        },
      }),
      { isTTY: true, columns: 80, rows: 30, cursorTo: () => true, moveCursor: () => true, clearLine: () => true },
    );
    let n = 0;
    const view = await liveView({ stdout: out, stderr: out, isTTY: true, color: false }, 'start', () => [`${n} blobs`]);
    for (let i = 0; i < 1000; i++) {
      n++;
      view.redraw(true);
      if (i % 10 === 0) view.persist(`line ${i}`);
      await vi.advanceTimersByTimeAsync(1);
    }
    view.finish();
    // 1000 ms: ten ticks, each may draw the block and write the lines finished since the last tick (which redraws it)
    expect(frames).toBeGreaterThan(0);
    expect(frames).toBeLessThanOrEqual(22);
  });
});
