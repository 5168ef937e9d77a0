// Docker Hub rate-limit headers (`ratelimit-limit: 100;w=21600`), parsed defensively.
export interface RateLimit {
  limit?: number;
  remaining?: number;
  windowSeconds?: number;
  /** `ratelimit-reset` (seconds until the window resets), where a registry sends it. */
  resetSeconds?: number;
  source?: string;
}

function parseValue(v: string | undefined): { n?: number; w?: number } {
  if (!v) return {};
  const [first, ...params] = v.split(';');
  const n = Number.parseInt(first.trim(), 10);
  let w: number | undefined;
  for (const p of params) {
    const m = /^\s*w\s*=\s*(\d+)\s*$/.exec(p);
    if (m) w = Number.parseInt(m[1], 10);
  }
  return { n: Number.isFinite(n) && n >= 0 ? n : undefined, w };
}

export function parseRateLimit(headers: Record<string, string | string[] | undefined>): RateLimit | undefined {
  const get = (k: string) => {
    const v = headers[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const limit = parseValue(get('ratelimit-limit'));
  const remaining = parseValue(get('ratelimit-remaining'));
  if (limit.n === undefined && remaining.n === undefined) return undefined;
  const rl: RateLimit = {};
  if (limit.n !== undefined) rl.limit = limit.n;
  if (remaining.n !== undefined) rl.remaining = remaining.n;
  const w = remaining.w ?? limit.w;
  if (w !== undefined) rl.windowSeconds = w;
  const reset = parseValue(get('ratelimit-reset'));
  if (reset.n !== undefined) rl.resetSeconds = reset.n;
  const src = get('docker-ratelimit-source');
  if (src) rl.source = src;
  return rl;
}

/**
 * How long an exhausted limit (remaining 0) lasts at most: `ratelimit-reset` where sent, else the whole window. Docker
 * Hub's pull-limit 429 carries no Retry-After, only these headers: they say when to retry.
 */
export function exhaustedForMs(rl: RateLimit | undefined): number | undefined {
  if (rl?.remaining !== 0) return undefined;
  const s = rl.resetSeconds ?? rl.windowSeconds;
  return s === undefined ? undefined : s * 1000;
}

/** Low: under 10% of the limit or under 10 pulls. */
export function isLow(rl: RateLimit | undefined): boolean {
  if (!rl || rl.remaining === undefined) return false;
  return rl.remaining < 10 || (rl.limit !== undefined && rl.remaining < rl.limit / 10);
}

export function formatRateLimit(rl: RateLimit): string {
  const window = rl.windowSeconds ? ` per ${Math.round(rl.windowSeconds / 3600)}h` : '';
  return `${rl.remaining ?? '?'} of ${rl.limit ?? '?'} pulls left${window}`;
}

/** A wait as people say it: `45 s`, `12 min`, `6 h`. */
export function formatWait(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 2 * 3600) return `${Math.ceil(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/**
 * The hint of a 429 or an over-long Retry-After: what is left of the limit, when to retry (a wait and a UTC time), and
 * how to raise the limit.
 */
export function throttleHint(rl: RateLimit | undefined, retryAfterMs: number | undefined, now = Date.now()): string {
  const at = retryAfterMs !== undefined ? new Date(now + retryAfterMs).toISOString().slice(11, 16) : undefined;
  const when = retryAfterMs !== undefined ? `retry in ${formatWait(retryAfterMs)} (after ${at} UTC)` : 'retry later';
  if (!rl) return `the registry is throttling requests: ${when}`;
  return (
    `rate limit reached (${formatRateLimit({ ...rl, remaining: rl.remaining ?? 0 })}): ` +
    `${when}, or log in to raise the limit`
  );
}
