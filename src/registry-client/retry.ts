// Which failures are worth another try, and how long to wait: exponential backoff with full jitter, Retry-After honoured.
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

/** Full jitter: a random wait up to base·2^attempt, capped. */
export function backoffMs(attempt: number, baseMs = 250, capMs = 8000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export { sleep } from '../util/sleep.js';
