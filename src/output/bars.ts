// Progress bars for the live view: a bar per layer (as `docker pull` draws), the whole copy's line with speed and ETA,
// each laid out in plain text to the terminal's width first and coloured after, so colour codes never count as columns.
import { type Paint, PLAIN } from './color.js';
import { cutMiddle, fitRow, formatBytes } from './render.js';

/** `[=====>    ]` in `inner + 2` columns; the filled part styled by `p.bar`. */
export function bar(fraction: number, inner: number, p: Paint = PLAIN): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.floor(f * inner);
  const head = full < inner ? (full > 0 ? '>' : '') : '';
  const fill = `${'='.repeat(full === inner ? inner : Math.max(0, full - (head ? 1 : 0)))}${head}`;
  return `[${p.bar(fill)}${' '.repeat(inner - Array.from(fill).length)}]`;
}

/** Bars narrower than this say nothing; wider than this only take room from the names. */
const MIN_BAR = 10;
const MAX_BAR = 40;

/**
 * One layer: `  sha256:0123456789ab [=====>      ]  1.20 MiB / 4.50 MiB  26%  1.1 MiB/s` in at most `width` columns.
 * Narrow terminals lose the bar, then the padding, then the speed, then the middle of the name.
 */
export function layerRow(
  name: string,
  done: number,
  size: number,
  speed: string,
  width: number,
  p: Paint = PLAIN,
): string {
  const fraction = size ? done / size : 1;
  const pct = `${Math.floor(fraction * 100)}%`;
  const [d, s] = [formatBytes(done), formatBytes(size)];
  const stats = `  ${d.padStart(9)} / ${s.padEnd(9)} ${pct.padStart(4)}${speed ? `  ${speed}` : ''}`;
  const room = width - Array.from(name).length - 1 - stats.length - 2;
  if (room >= MIN_BAR) return `${p.dim(name)} ${bar(fraction, Math.min(room, MAX_BAR), p)}${stats}`;
  // A long name (sync's `source → target`) gives way in the middle to a short bar on a wide enough terminal.
  const nameRoom = width - 1 - stats.length - 2 - MIN_BAR;
  if (nameRoom >= 24) return `${p.dim(cutMiddle(name, nameRoom))} ${bar(fraction, MIN_BAR, p)}${stats}`;
  const tight = ` ${d}/${s} ${pct}${width >= 56 && speed ? ` ${speed}` : ''}`;
  return fitRow(name, stats, tight, width);
}

/** `ETA 12 s`, `ETA 3m05s`; empty while nothing is known. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.ceil(seconds);
  return s < 60 ? `ETA ${s} s` : `ETA ${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * The whole copy: `label3/5 blobs, 12.3 MiB / 45.6 MiB  3.2 MiB/s  ETA 9 s [====>   ]` in `width` columns (ora's
 * spinner and space come before it): the bar goes first when room is short, then the text is cut in the middle.
 */
export function totalRow(text: string, fraction: number, width: number, p: Paint = PLAIN): string {
  const room = width - Array.from(text).length - 1 - 2;
  if (room >= MIN_BAR) return `${text} ${bar(fraction, Math.min(room, 30), p)}`;
  return cutMiddle(text, width);
}

/** Bytes per second over the last few seconds (a window of samples), so speed and ETA follow the link as it is now. */
export class RateWindow {
  private readonly samples: Array<[number, number]> = [];

  constructor(private readonly windowMs = 3000) {}

  /** Records the running total `bytes` at `now`; returns bytes per second, or 0 while too little is known. */
  rate(now: number, bytes: number): number {
    this.samples.push([now, bytes]);
    while (this.samples.length > 2 && now - this.samples[1][0] >= this.windowMs) this.samples.shift();
    const [t0, b0] = this.samples[0];
    return now - t0 >= 250 ? ((bytes - b0) * 1000) / (now - t0) : 0;
  }
}
