// Runs tasks under a concurrency limit, largest first; the first failure aborts the rest and is the one reported.
import { setMaxListeners } from 'node:events';
import { isAbortError } from '../errors.js';

export interface Task<T> {
  weight: number;
  run: (signal: AbortSignal) => Promise<T>;
  /** Waited for before the task takes a slot (another copy's upload of the same blob), holding none meanwhile. */
  before?: (signal: AbortSignal) => Promise<unknown>;
}

/**
 * Tasks lighter than this (an image config, a small layer) need not wait behind the big ones: their cost is a few
 * round trips, and started last they would add those round trips at the end. While such a task is still to come,
 * big tasks leave one of the slots to them (the lane is one of the `limit` slots, never an extra one).
 */
export const SMALL_TASK = 256 * 1024;

/**
 * Tasks lighter than this may use the extra lanes of `Slots(limit, lightLimit)`: a blob of a few MiB costs about as
 * much in round trips (GET, POST, PUT: 60 ms at a 20 ms RTT) as in bytes, so many at once hide the latency, while
 * more than `limit` big streams would only share the same bandwidth.
 */
export const LIGHT_TASK = 4 * 1024 * 1024;

/** Blob transfers at once by default (`--jobs`). */
export const DEFAULT_JOBS = 8;

/**
 * Light tasks at once when no `--jobs` was given: each costs ~3 round trips, so more at once hide the latency. 16: the
 * bench's 64-layer copy at 20 ms RTT was no faster with 32 (its 2 cores were full), and half as many uploads start
 * per second against per-second quotas such as ECR's on InitiateLayerUpload ("Amazon ECR service quotas").
 */
export const DEFAULT_LIGHT_JOBS = 16;

/**
 * At most `limit` big tasks at once and at most `lightLimit` tasks in all (light ones fill the rest), shared by every
 * pool that runs on them (sync: all images of a run). With `lightLimit` = `limit` (the default, and whenever the user
 * chose `--jobs`), `limit` caps every task.
 */
export class Slots {
  readonly limit: number;
  readonly lightLimit: number;
  private running = 0;
  private bigRunning = 0;
  /** small tasks announced and not yet finished: while there are any, big tasks keep a slot free */
  private smallAhead = 0;
  private readonly queue: Array<{ weight: number; start: () => void }> = [];

  constructor(limit: number, lightLimit = limit) {
    this.limit = Math.max(1, Math.floor(limit));
    this.lightLimit = Math.max(this.limit, Math.floor(lightLimit));
  }

  /** Announces `n` small tasks: from now until each has run (or been settled), one slot is theirs. */
  expectSmall(n: number): void {
    this.smallAhead += n;
  }

  /** An announced small task that will not run after all. */
  settleSmall(): void {
    this.smallAhead = Math.max(0, this.smallAhead - 1);
    this.pump();
  }

  /** Big: counted against `limit`. Without extra lanes every task of SMALL_TASK or more is; with them, LIGHT_TASK. */
  private isBig(weight: number): boolean {
    return weight >= (this.lightLimit > this.limit ? LIGHT_TASK : SMALL_TASK);
  }

  async run<T>(weight: number, fn: () => Promise<T>): Promise<T> {
    await new Promise<void>((start) => {
      this.queue.push({ weight, start });
      this.pump();
    });
    try {
      return await fn();
    } finally {
      this.running--;
      if (weight < SMALL_TASK) this.smallAhead = Math.max(0, this.smallAhead - 1);
      if (this.isBig(weight)) this.bigRunning--;
      this.pump();
    }
  }

  /** Starts queued tasks in order while slots allow; a lighter one may pass big ones that must wait. */
  private pump(): void {
    // The reserved slot matters only without extra lanes: with them, small tasks have lanes of their own.
    const reserve = this.limit > 1 && this.smallAhead > 0 && this.lightLimit === this.limit;
    const bigCap = reserve ? this.limit - 1 : this.limit;
    for (let i = 0; i < this.queue.length && this.running < this.lightLimit;) {
      const { weight, start } = this.queue[i];
      const big = this.isBig(weight);
      if (big && this.bigRunning >= bigCap) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.running++;
      if (big) this.bigRunning++;
      start();
    }
  }
}

export async function runPool<T>(tasks: Task<T>[], limit: number | Slots, signal: AbortSignal): Promise<T[]> {
  const controller = new AbortController();
  // Every request in flight listens on this signal: more than node's default of 10 is expected.
  setMaxListeners(0, controller.signal);
  const onAbort = () => controller.abort(signal.reason);
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener('abort', onAbort, { once: true });
  const slots = typeof limit === 'number' ? new Slots(limit) : limit;
  const order = tasks.map((t, i) => ({ t, i })).sort((a, b) => b.t.weight - a.t.weight);
  slots.expectSmall(tasks.filter((t) => t.weight < SMALL_TASK).length);
  const results = new Array<T>(tasks.length);
  let firstError: unknown;
  const fail = (err: unknown) => {
    if (firstError === undefined || (isAbortError(firstError) && !isAbortError(err))) firstError = err;
    controller.abort(err);
  };
  try {
    await Promise.all(
      order.map(async ({ t, i }) => {
        let announced = t.weight < SMALL_TASK;
        try {
          if (t.before) await t.before(controller.signal);
          announced = false; // slots.run settles it from here
          await slots.run(t.weight, async () => {
            if (controller.signal.aborted) return;
            results[i] = await t.run(controller.signal);
          });
        } catch (err) {
          fail(err);
        } finally {
          if (announced) slots.settleSmall();
        }
      }),
    );
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (firstError !== undefined)
    throw signal.aborted && isAbortError(firstError) ? (signal.reason ?? firstError) : firstError;
  if (signal.aborted) throw signal.reason;
  return results;
}
