// Durations for retention flags and filters: `30d`, `12h`, `2w`, `90m`, `45s` (or a sum such as `1d12h`) →
// milliseconds.
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Milliseconds, or undefined when the text is not a positive duration. A bare number is days (ECR counts days). */
export function parseDuration(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(t)) {
    const days = Number(t);
    return days > 0 ? days * UNIT_MS.d : undefined;
  }
  if (!/^(\d+(\.\d+)?[smhdw])+$/.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return ms > 0 && Number.isFinite(ms) ? ms : undefined;
}

/** `3d 4h`-style text for a duration (the largest two units). */
export function formatAge(ms: number): string {
  if (ms < 0) return 'in the future';
  const d = Math.floor(ms / UNIT_MS.d);
  const h = Math.floor((ms % UNIT_MS.d) / UNIT_MS.h);
  if (d > 0) return h > 0 ? `${d}d${h}h` : `${d}d`;
  const m = Math.floor((ms % UNIT_MS.h) / UNIT_MS.m);
  return h > 0 ? `${h}h${m}m` : `${m}m`;
}
