// The one retry policy: which failures are worth another try, how long to wait (exponential backoff with equal
// jitter, Retry-After honoured), and the budget of retries one operation may spend, whichever layer retries.
import { codeInChain, isAbortError } from '../errors.js';

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export function errorCode(err: unknown): string | undefined {
  return codeInChain(err, (code) => RETRYABLE_CODES.has(code)) ?? (err as { code?: string })?.code;
}

export function isRetryableError(err: unknown): boolean {
  if (isAbortError(err)) return false;
  const code = errorCode(err);
  if (code && RETRYABLE_CODES.has(code)) return true;
  return err instanceof Error && /socket hang up|other side closed|premature close|terminated/i.test(err.message);
}

/** Why a request failed at the network level, in words: `no answer within 5 s`, `connection refused`. */
export function networkReason(err: unknown, timeoutMs?: number): string {
  const code = errorCode(err);
  const within = timeoutMs ? `within ${Math.round(timeoutMs / 100) / 10} s` : 'within the time limit';
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return `no answer ${within} (--timeout)`;
    case 'UND_ERR_BODY_TIMEOUT':
      return `the answer stalled: no data ${within} (--timeout)`;
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return `could not connect ${within} (--timeout)`;
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return 'the connection was closed before the answer was complete';
    default: {
      const msg = err instanceof Error ? err.message : String(err);
      return code && !msg.includes(code) ? `${code} ${msg}` : msg;
    }
  }
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number.parseInt(v, 10) * 1000;
  // An HTTP date (IMF-fixdate, RFC 850 or asctime) starts with the day's name; V8's lenient Date.parse would read
  // `-5` or `1.5` as dates.
  if (!/^\s*[A-Za-z]{3,9},?\s/.test(v)) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/**
 * Equal jitter (AWS "Exponential Backoff and Jitter"): half of the ceiling base·2^attempt (capped) for certain, the
 * other half at random. Never an immediate retry (full jitter may draw 0 ms and hit a struggling registry at once),
 * still spread out: the wait lies in [ceiling/2, ceiling].
 */
export function backoffMs(attempt: number, baseMs = 250, capMs = 8000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * The retries one operation may spend, shared by every layer that retries it (the request stage, a body read, a
 * resumed blob read, a fresh upload session): their limits add up to the budget instead of multiplying.
 */
export class RetryBudget {
  used = 0;
  constructor(readonly limit: number) {}

  /** Takes one retry; false when the budget is spent. */
  take(): boolean {
    if (this.used >= this.limit) return false;
    this.used++;
    return true;
  }
}

/** What a request is, as far as retrying it goes. */
export interface Retryable {
  /** Sending it twice does no harm (GET, HEAD, PUT of a manifest; not a mount or an upload PATCH). */
  idempotent: boolean;
  /** Its body can be sent again (none, or bytes in memory; a stream cannot). */
  replayable: boolean;
}

/** A network error: sent again only when doing so is harmless and possible. */
export function retriesNetworkError(req: Retryable, err: unknown): boolean {
  return req.idempotent && req.replayable && isRetryableError(err);
}

/** A status: 408/5xx for idempotent requests; 429 and 503 (the request was not processed) for any replayable one. */
export function retriesStatus(req: Retryable, status: number): boolean {
  return RETRYABLE_STATUS.has(status) && req.replayable && (req.idempotent || status === 429 || status === 503);
}

export { sleep } from '../util/sleep.js';
