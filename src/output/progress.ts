// Progress sinks for copy events: a live TTY view (ora spinner, per-layer bytes and speed), plain lines for CI, or
// nothing.
import type { CopyEvent } from '../copy/events.js';
import type { IO } from '../context.js';
import { shortDigest } from '../oci/digest.js';
import { escapeControl } from '../util/escape.js';
import { liveView } from './live.js';
import { RateWindow, formatEta, layerRow, totalRow } from './bars.js';
import { paint } from './color.js';
import { formatBytes, formatDuration, formatSpeed, rowWidth } from './render.js';
import { RetryReport } from './retry-report.js';

export interface ProgressSink {
  handle(e: CopyEvent): void;
  /** Stop any live rendering; `summary` is printed as the last line. */
  finish(summary?: string): void;
  /** Stops live rendering before an error is printed. */
  fail(): void;
}

interface Active {
  size: number;
  done: number;
  started: number;
}

export const quietSink: ProgressSink = { handle() {}, finish() {}, fail() {} };

export function plainSink(io: IO, label: string): ProgressSink {
  const active = new Map<string, Active>();
  const retries = new RetryReport();
  const started = Date.now();
  return {
    handle(e) {
      if (e.type === 'blob') {
        if (e.state === 'start') active.set(e.digest, { size: e.size, done: 0, started: Date.now() });
        else if (e.state === 'done') {
          const a = active.get(e.digest);
          active.delete(e.digest);
          const ms = a ? Date.now() - a.started : 0;
          const p = paint();
          const took = `${p.ok('copied')} in ${formatDuration(ms)}  ${formatSpeed(e.size, ms)}`;
          io.stderr.write(`${p.dim(shortDigest(e.digest))}  ${formatBytes(e.size)}  ${took}\n`);
        } else {
          const p = paint();
          const how = p.dim(e.state === 'exists' ? 'already there' : 'mounted');
          io.stderr.write(`${p.dim(shortDigest(e.digest))}  ${formatBytes(e.size)}  ${how}\n`);
        }
      } else if (e.type === 'retry') {
        const line = retries.line(e);
        if (line) io.stderr.write(`${paint().warn(escapeControl(line))}\n`);
      } else if (e.type === 'warning') io.stderr.write(`${paint().warn('warning:')} ${escapeControl(e.message)}\n`);
    },
    finish(summary) {
      if (summary) io.stderr.write(`${label}${summary} in ${formatDuration(Date.now() - started)}\n`);
    },
    fail() {},
  };
}

/**
 * Live view on a terminal: the whole copy (bytes, speed, ETA, a bar) then a bar per layer in flight, 10 frames a
 * second.
 */
export async function ttySink(io: IO, label: string): Promise<ProgressSink> {
  const active = new Map<string, Active>();
  const retries = new RetryReport();
  const started = Date.now();
  const window = new RateWindow();
  let total = 0;
  let moved = 0;
  let sent = 0;
  let blobs = 0;
  let finished = 0;
  const view = await liveView(io, `${label}resolving…`, () => {
    const now = Date.now();
    const p = paint();
    // Rows never wrap (a wrapped row breaks the redraw): they fit the terminal's width at each redraw.
    const width = rowWidth(io.stderr);
    const rate = window.rate(now, sent);
    const speed = rate > 0 ? `${formatBytes(rate)}/s` : '';
    const eta = rate > 0 && total > moved ? `  ${formatEta((total - moved) / rate)}` : '';
    const bytes = `${formatBytes(moved)} / ${formatBytes(total)}`;
    const head = `${label}${finished}/${blobs} blobs, ${bytes}${speed ? `  ${speed}` : ''}${eta}`;
    return [
      // ora puts its spinner and a space before the first line
      totalRow(head, total ? moved / total : 0, width - 2, p),
      ...[...active.entries()].map(([d, a]) => {
        const layerSpeed = formatSpeed(a.done, now - a.started);
        return layerRow(`  ${shortDigest(d)}`, a.done, a.size, layerSpeed, width, p);
      }),
    ];
  });
  const render = (force = false) => view.redraw(force);
  const persist = (line: string) => view.persist(line);
  return {
    handle(e) {
      switch (e.type) {
        case 'plan':
          blobs = e.blobs;
          total = e.bytes;
          render(true);
          break;
        case 'blob':
          if (e.state === 'start') active.set(e.digest, { size: e.size, done: 0, started: Date.now() });
          else {
            const a = active.get(e.digest);
            active.delete(e.digest);
            finished++;
            if (e.state !== 'done') moved += e.size;
            const ms = a ? Date.now() - a.started : 0;
            const p = paint();
            const reused = p.dim(e.state === 'exists' ? 'already there' : 'mounted');
            const what = e.state === 'done' ? `${p.ok('copied')} ${formatSpeed(e.size, ms)}` : reused;
            persist(`${p.dim(shortDigest(e.digest))}  ${formatBytes(e.size)}  ${what}`);
          }
          render(true);
          break;
        case 'bytes': {
          const a = active.get(e.digest);
          if (a) a.done += e.n;
          moved += e.n;
          sent += e.n;
          render();
          break;
        }
        case 'retry': {
          const line = retries.line(e);
          if (line) persist(paint().warn(line));
          break;
        }
        case 'warning':
          persist(`${paint().warn('warning:')} ${e.message}`);
          break;
        default:
          break;
      }
    },
    finish(summary) {
      view.finish(summary ? `${label}${summary} in ${formatDuration(Date.now() - started)}` : undefined);
    },
    fail() {
      view.finish();
    },
  };
}

/**
 * A terminal we can redraw: a TTY with a known width (with 0 columns, as a pty may start, ora clears lines forever).
 */
export function canRedraw(io: IO): boolean {
  return io.isTTY && ((io.stderr as NodeJS.WriteStream).columns ?? 0) > 0;
}

export async function createSink(io: IO, opts: { quiet: boolean; json: boolean }, label = ''): Promise<ProgressSink> {
  if (opts.quiet || opts.json) return quietSink;
  return canRedraw(io) ? ttySink(io, label) : plainSink(io, label);
}
