// Request stage: retry. One policy (retry.ts) and one budget per operation: network errors and 408/429/5xx answers
// are sent again with equal-jitter backoff or the server's Retry-After; a 429 or Retry-After pauses the whole host.
import { RegctlError, isAbortError } from '../errors.js';
import { type Answer, type HttpContext, type RegRequest, type RegResponse, type Target } from './http.js';
import { describe, header, retryLimit } from './http.js';
import { exhaustedForMs } from './ratelimit.js';
import {
  RetryBudget,
  backoffMs,
  networkReason,
  parseRetryAfter,
  retriesNetworkError,
  retriesStatus,
  sleep,
} from './retry.js';

/** Retry-After; on a 429 without one (Docker Hub's pull limit), how long the exhausted rate limit lasts at most. */
export function retryAfterOf(res: RegResponse): number | undefined {
  const after = parseRetryAfter(header(res.headers, 'retry-after'));
  return after ?? (res.status === 429 ? exhaustedForMs(res.rateLimit) : undefined);
}

/**
 * Runs `next` until it answers with something not worth another try, or the budget (the request's, or the
 * operation's it was given) is spent. A network error it does not retry is thrown as is, for the error stage.
 */
export async function retrying(
  ctx: HttpContext,
  req: RegRequest,
  t: Target,
  next: () => Promise<Answer>,
): Promise<Answer> {
  const budget = req.budget ?? new RetryBudget(retryLimit(ctx, req));
  const limit = retryLimit(ctx, req);
  const retryable = { idempotent: req.idempotent, replayable: t.replayable };
  const report = (delayMs: number, reason: string) =>
    !req.quietRetries &&
    ctx.onRetry?.({ what: describe(req), registry: req.registry, attempt: budget.used, delayMs, reason });
  for (let attempt = 0; ; attempt++) {
    let answer: Answer;
    try {
      answer = await next();
    } catch (err) {
      if (isAbortError(err) || err instanceof RegctlError) throw err;
      if (!retriesNetworkError(retryable, err) || attempt >= limit || ctx.hosts.closed || !budget.take()) throw err;
      const delayMs = backoffMs(budget.used - 1);
      report(delayMs, networkReason(err, ctx.hosts.opts.timeoutMs));
      await sleep(delayMs, req.signal);
      continue;
    }
    const { res } = answer;
    if (req.expect.includes(res.status) || !retriesStatus(retryable, res.status) || attempt >= limit) return answer;
    const after = retryAfterOf(res);
    if (after !== undefined && after > ctx.maxRetryAfterMs) return { ...answer, waitTooLong: after };
    if (!budget.take()) return answer;
    await res.body.dump().catch(() => {});
    const delayMs = after ?? backoffMs(budget.used - 1);
    // The registry is throttling: every worker on this host waits, not only this request.
    if (after !== undefined || res.status === 429) ctx.hosts.pauseUntil(req.registry, Date.now() + delayMs);
    report(delayMs, `HTTP ${res.status}`);
    await sleep(delayMs, req.signal);
  }
}
