// Rendering for `sync`: the plan table, a line per finished image (CI), a live view of the images in flight (TTY), the
// summary.
import { escapeControl } from '../util/escape.js';
import { liveView } from './live.js';
import { canRedraw } from './progress.js';
import type { CopyEvent } from '../copy/events.js';
import type { IO } from '../context.js';
import { formatLocation } from '../location/parse.js';
import { shortDigest } from '../oci/digest.js';
import type { Plan, PlanItem } from '../sync/plan.js';
import type { ImageReport, RunHooks } from '../sync/run.js';
import { cutMiddle, fitRow, formatBytes, formatDuration, formatSpeed, rowWidth, table } from './render.js';
import { RetryReport } from './retry-report.js';
import { paint, terminalText } from './color.js';
import { layerRow } from './bars.js';

export interface SyncSink extends RunHooks {
  /** Stop live rendering (before the summary or an error is printed). */
  stop(): void;
}

export function targetText(item: PlanItem): string {
  return formatLocation(item.target);
}

/** One line for a finished image: what happened, where, how much, how long. */
export function imageLine(r: ImageReport, width?: number): string {
  const full = `${r.item.key} → ${targetText(r.item)}`;
  let tail = '';
  if (r.status === 'copied') {
    const b = r.blobs;
    const parts = b ? [`${b.sent} blob${b.sent === 1 ? '' : 's'} sent`] : [];
    if (b?.existed) parts.push(`${b.existed} already there`);
    if (b?.mounted) parts.push(`${b.mounted} mounted`);
    tail = `  ${formatBytes(r.bytesSent)} in ${formatDuration(r.durationMs)}`;
    const counts = parts.length ? ` (${parts.join(', ')})` : '';
    // On a terminal the blob counts go first, then the names give way, so that the line does not wrap.
    if (width === undefined || 12 + 24 + tail.length + counts.length <= width) tail += counts;
  }
  const where = width === undefined ? full : cutMiddle(full, Math.max(16, width - 12 - tail.length));
  // The status word is coloured after the layout: its column is fixed, so widths are unchanged.
  const p = paint();
  switch (r.status) {
    case 'copied':
      return `${p.ok('copied')}      ${where}${tail}`;
    case 'up-to-date':
      return `${p.dim('up to date')}  ${where}`;
    case 'failed':
      return (
        `${p.error('failed')}      ${full}: ${r.error?.message ?? 'unknown error'}` +
        `${r.error?.hint ? ` (hint: ${r.error.hint})` : ''}`
      );
    default:
      return `${p.warn('skipped')}     ${where}`;
  }
}

/** The plan as a table: action, source image, target, digest (or why it cannot be copied). */
export function renderPlan(plan: Plan): string {
  const rows = plan.items.map((i) => [
    i.action === 'up-to-date' ? 'up to date' : i.action,
    i.key,
    targetText(i),
    i.action === 'error' ? (i.error?.message ?? '') : i.sourceDigest ? shortDigest(i.sourceDigest) : '',
  ]);
  return rows.length ? table(rows, ['ACTION', 'SOURCE', 'TARGET', 'DIGEST']) : '(no images)';
}

export function planSummary(plan: Plan): string {
  const n = (a: PlanItem['action']) => plan.items.filter((i) => i.action === a).length;
  const shard = plan.shard
    ? ` (shard ${plan.shard.index}/${plan.shard.count}: ${plan.items.length} of ${plan.total} images)`
    : '';
  const errors = n('error');
  return `plan: ${n('copy')} to copy, ${n('up-to-date')} up to date${errors ? `, ${errors} failed` : ''}${shard}`;
}

export function runSummary(reports: ImageReport[], plan: Plan, ms: number): string {
  const n = (s: ImageReport['status']) => reports.filter((r) => r.status === s).length;
  const bytes = reports.reduce((t, r) => t + r.bytesSent, 0);
  const p = paint();
  const parts = [p.ok(`${n('copied')} copied`), p.dim(`${n('up-to-date')} up to date`)];
  if (n('failed')) parts.push(p.error(`${n('failed')} failed`));
  if (n('skipped')) parts.push(p.warn(`${n('skipped')} skipped`));
  const shard = plan.shard
    ? ` [shard ${plan.shard.index}/${plan.shard.count}: ${plan.items.length} of ${plan.total} images]`
    : '';
  return `sync: ${parts.join(', ')}; ${formatBytes(bytes)} sent in ${formatDuration(ms)}${shard}`;
}

export const quietSyncSink: SyncSink = { stop() {} };

/** CI: a line per finished image, retries and notices as they come; no escape codes. */
export function plainSyncSink(io: IO): SyncSink {
  const retries = new RetryReport();
  return {
    done: (r) => {
      if (r.status !== 'skipped') io.stderr.write(`${terminalText(imageLine(r))}\n`);
    },
    event: (item, e) => {
      if (e.type === 'retry') {
        const line = retries.line({ ...e, what: `${e.what} for ${item.key}` });
        if (line) io.stderr.write(`${paint().warn(escapeControl(line))}\n`);
      } else if (e.type === 'warning') {
        io.stderr.write(`${paint().warn('warning:')} ${escapeControl(`${item.key}: ${e.message}`)}\n`);
      }
    },
    notice: (m) => io.stderr.write(`${escapeControl(m)}\n`),
    stop() {},
  };
}

interface InFlight {
  total: number;
  moved: number;
  blobs: number;
  finished: number;
}

/** A terminal: a spinner with the totals and one line per image in flight, redrawn at most 10 times a second. */
export async function ttySyncSink(io: IO, count: number): Promise<SyncSink> {
  const retries = new RetryReport();
  const active = new Map<PlanItem, InFlight>();
  const started = Date.now();
  let done = 0;
  let moved = 0;
  const speedSoFar = (now: number) => formatSpeed(moved, now - started);
  const view = await liveView(io, 'sync: starting…', () => {
    const now = Date.now();
    // Rows never wrap (a wrapped row breaks the redraw): long names are cut in the middle to the terminal's width.
    const width = rowWidth(io.stderr);
    return [
      cutMiddle(
        `sync: ${done}/${count} images, ${active.size} in flight, ${formatBytes(moved)} sent  ${speedSoFar(now)}`,
        width - 2,
      ),
      ...[...active.entries()].map(([item, a]) => {
        const name = `  ${item.key} → ${targetText(item)}`;
        // a bar per image, as the copy draws one per layer
        if (a.total) return layerRow(name, a.moved, a.total, `${a.finished}/${a.blobs} blobs`, width, paint());
        return fitRow(name, '  resolving…', '  resolving…', width);
      }),
    ];
  });
  const render = (force = false) => view.redraw(force);
  const persist = (line: string) => view.persist(line);
  return {
    start(item) {
      active.set(item, { total: 0, moved: 0, blobs: 0, finished: 0 });
      render(true);
    },
    event(item, e: CopyEvent) {
      const a = active.get(item);
      if (!a) return;
      if (e.type === 'plan') {
        a.total = e.bytes;
        a.blobs = e.blobs;
      } else if (e.type === 'bytes') {
        a.moved += e.n;
        moved += e.n;
      } else if (e.type === 'blob' && e.state !== 'start') {
        a.finished++;
        if (e.state !== 'done') a.moved += e.size;
      } else if (e.type === 'retry') {
        const line = retries.line({ ...e, what: `${e.what} for ${item.key}` });
        if (line) persist(paint().warn(line));
      } else if (e.type === 'warning') persist(`${paint().warn('warning:')} ${item.key}: ${e.message}`);
      render(e.type !== 'bytes');
    },
    done(r) {
      active.delete(r.item);
      done++;
      if (r.status !== 'skipped') persist(r.status === 'failed' ? imageLine(r) : imageLine(r, rowWidth(io.stderr)));
      render(true);
    },
    notice: (m) => persist(m),
    stop() {
      view.finish();
    },
  };
}

/** The same test as copy's progress: a TTY with a known width. */
export const liveTerminal = canRedraw;

export async function createSyncSink(
  io: IO,
  opts: { quiet: boolean; json: boolean },
  count: number,
): Promise<SyncSink> {
  if (opts.quiet || opts.json) return quietSyncSink;
  return liveTerminal(io) ? ttySyncSink(io, count) : plainSyncSink(io);
}
