// Runs tasks under a concurrency limit, largest first; the first failure aborts the rest and is the one reported.
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import { isAbortError } from '../errors.js';

export interface Task<T> {
  weight: number;
  run: (signal: AbortSignal) => Promise<T>;
}

/**
 * Tasks lighter than this (an image config, a small layer) take one of SMALL_SLOTS reserved slots instead of waiting
 * behind the big ones: their cost is a few round trips, and started last they would add those round trips at the end.
 */
export const SMALL_TASK = 256 * 1024;
const SMALL_SLOTS = 2;

export async function runPool<T>(tasks: Task<T>[], limit: number, signal: AbortSignal): Promise<T[]> {
  const controller = new AbortController();
  // Every request in flight listens on this signal: more than node's default of 10 is expected.
  setMaxListeners(0, controller.signal);
  const onAbort = () => controller.abort(signal.reason);
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener('abort', onAbort, { once: true });
  const limiter = pLimit(Math.max(1, limit));
  // Only when the pool runs things side by side, and there are big tasks for small ones to wait behind.
  const lane = limit > 1 && tasks.some((t) => t.weight >= SMALL_TASK) ? pLimit(SMALL_SLOTS) : undefined;
  const order = tasks.map((t, i) => ({ t, i })).sort((a, b) => b.t.weight - a.t.weight);
  const results = new Array<T>(tasks.length);
  let firstError: unknown;
  try {
    await Promise.all(
      order.map(({ t, i }) =>
        (lane && t.weight < SMALL_TASK ? lane : limiter)(async () => {
          if (controller.signal.aborted) return;
          try {
            results[i] = await t.run(controller.signal);
          } catch (err) {
            if (firstError === undefined || (isAbortError(firstError) && !isAbortError(err))) firstError = err;
            controller.abort(err);
          }
        }),
      ),
    );
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (firstError !== undefined) throw signal.aborted && isAbortError(firstError) ? signal.reason ?? firstError : firstError;
  if (signal.aborted) throw signal.reason;
  return results;
}
