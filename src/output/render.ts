// Human formatting: byte sizes, durations, aligned tables, JSON.
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

export function formatSpeed(bytes: number, ms: number): string {
  return ms > 0 ? `${formatBytes((bytes * 1000) / ms)}/s` : '';
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: string[][], header?: string[]): string {
  const all = header ? [header, ...rows] : rows;
  const widths: number[] = [];
  for (const r of all) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

/** `text` in at most `width` columns: the middle of a long name gives way to `…`, keeping its start and its end. */
export function cutMiddle(text: string, width: number): string {
  const chars = Array.from(text);
  if (chars.length <= width) return text;
  if (width <= 1) return chars.slice(0, Math.max(0, width)).join('');
  const head = Math.ceil((width - 1) / 2);
  return `${chars.slice(0, head).join('')}…${chars.slice(chars.length - (width - 1 - head)).join('')}`;
}

/** The columns a live row may use: one less than the stream's width (a full last column wraps on some terminals). */
export function rowWidth(stream: unknown): number {
  const cols = (stream as { columns?: number }).columns;
  return Math.max(20, (cols && cols > 0 ? cols : 80) - 1);
}

/** `name` then `padded` when that fits `width`, else `name` then `tight`, else that with the name cut in the middle. */
export function fitRow(name: string, padded: string, tight: string, width: number): string {
  if (Array.from(name).length + padded.length <= width) return `${name}${padded}`;
  if (Array.from(name).length + tight.length <= width) return `${name}${tight}`;
  return `${cutMiddle(name, Math.max(8, width - tight.length))}${tight}`.slice(0, width);
}
