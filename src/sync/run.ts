// Sync execution: images in parallel, blobs under one shared limiter and one SharedBlobs, keep-going, rate-limit floor.
import pLimit from 'p-limit';
import { type AppContext, destinationDeps, sourceDeps } from '../context.js';
import type { CopyEvent } from '../copy/events.js';
import { isAbortError } from '../errors.js';
import { type Location, pinnedLocation } from '../location/parse.js';
import type { Digest } from '../oci/digest.js';
import { isIndexType } from '../oci/media-types.js';
import { Slots } from '../copy/pool.js';
import { sleep } from '../util/sleep.js';
import {
  type ErrorInfo,
  type Plan,
  type PlanItem,
  PLATFORMS_ANNOTATION,
  SOURCE_DIGEST_ANNOTATION,
  platformsText,
  toErrorInfo,
} from './plan.js';

export type ImageStatus = 'copied' | 'up-to-date' | 'failed' | 'skipped';

export interface ImageReport {
  item: PlanItem;
  status: ImageStatus;
  /** `target@digest` of what the target now holds. */
  reference?: string;
  digest?: string;
  bytesSent: number;
  blobs?: { sent: number; existed: number; mounted: number };
  durationMs: number;
  error?: ErrorInfo;
  /** With `referrers: true`: what the referrers copy found and did. */
  referrers?: { found: number; copied: number; existed: number };
}

export interface RunHooks {
  start?(item: PlanItem): void;
  event?(item: PlanItem, e: CopyEvent): void;
  done?(report: ImageReport): void;
  /** Something the user should see now (a rate-limit pause). */
  notice?(message: string): void;
}

export interface RunOptions {
  /** Images copied at once. */
  images: number;
  /** Blob transfers at once, across every image. */
  jobs: number;
  /** Transfers at once while the blobs are small (`Slots`' lightLimit); `jobs` when absent. */
  lightJobs?: number;
  keepGoing: boolean;
  /** Pause or stop when a registry's `ratelimit-remaining` would fall under this (0: off). */
  rateFloor: number;
  /** How long to wait for the rate-limit window (0: stop at once). */
  rateWaitMs: number;
  signal: AbortSignal;
  hooks?: RunHooks;
  /** ECR settings for repositories created on push (--immutable-tags, --scan-on-push, --kms-key). */
  createRepo?: import('../ecr/api.js').CreateRepoSettings;
}

export interface RunResult {
  reports: ImageReport[];
  /** Why images were skipped, when they were. */
  stopped?: ErrorInfo;
}

/** The source to copy from: pinned to the digest the plan saw, so the copy (and its annotations) match the plan. */
function pinned(item: PlanItem): Location {
  const s = item.source;
  if (s.kind === 'registry' && item.sourceDigest)
    return { kind: 'registry', ref: { ...s.ref, digest: item.sourceDigest as Digest } };
  return s;
}

/**
 * Admits copies from a registry while its rate limit stays above the floor; waits (polling by HEAD, which costs no
 * pull) or refuses. Each copy reserves the pulls it will count: Docker Hub counts one per platform manifest a
 * multi-arch copy GETs, none for the index or a HEAD (https://docs.docker.com/docker-hub/usage/pulls/).
 */
type RegistryItem = PlanItem & { source: { kind: 'registry' } };

export class RateGate {
  private readonly inflight = new Map<string, number>();
  private readonly reserved = new Map<PlanItem, number>();
  private readonly announced = new Set<string>();

  constructor(
    private readonly ctx: AppContext,
    private readonly opts: RunOptions,
  ) {}

  /** Pulls a copy of `item` will count: one per image manifest it GETs (every child of an index it copies whole). */
  private async pullsOf(item: RegistryItem): Promise<number> {
    const desc = item.resolved?.source;
    if (!desc || !isIndexType(desc.mediaType)) return 1;
    if (item.platforms?.length) return item.platforms.length;
    const { ref } = item.source;
    // An index GET counts no pull on Docker Hub: read it to know how many manifests the copy will GET.
    const index = await this.ctx
      .client('src')
      .getManifest(
        { registry: ref.registry, repository: ref.repository },
        item.sourceDigest ?? desc.digest,
        this.opts.signal,
      )
      .catch((err) => {
        if (isAbortError(err) && this.opts.signal.aborted) throw err;
        return undefined;
      });
    return index?.manifest.kind === 'index' ? Math.max(1, index.manifest.manifests.length) : 1;
  }

  async admit(item: PlanItem): Promise<ErrorInfo | undefined> {
    const src = item.source;
    if (src.kind !== 'registry' || this.opts.rateFloor <= 0) return undefined;
    const registry = src.ref.registry;
    const deadline = Date.now() + this.opts.rateWaitMs;
    const poll = Math.min(60_000, Math.max(250, this.opts.rateWaitMs / 10));
    let pulls: number | undefined;
    for (;;) {
      const rl = this.ctx.rateLimit(registry);
      const used = this.inflight.get(registry) ?? 0;
      if (rl?.remaining !== undefined) pulls ??= await this.pullsOf(item as RegistryItem);
      // As for one pull before: admitted while the pulls before this copy leave at least the floor.
      if (rl?.remaining === undefined || rl.remaining - used - (pulls ?? 1) + 1 >= this.opts.rateFloor) {
        this.inflight.set(registry, used + (pulls ?? 1));
        this.reserved.set(item, pulls ?? 1);
        this.announced.delete(registry);
        return undefined;
      }
      const left = deadline - Date.now();
      const window = rl.windowSeconds ? ` per ${Math.round(rl.windowSeconds / 3600)}h` : '';
      const need = pulls && pulls > 1 ? ` (the image needs ${pulls} pulls)` : '';
      const quota = `${rl.remaining} of ${rl.limit ?? '?'} pulls left${window}`;
      const state = `${registry}: ${quota}, under the floor of ${this.opts.rateFloor}${need}`;
      if (left <= 0) {
        return {
          code: 'RATE_LIMIT',
          message: `${state}: stopped instead of using up the quota`,
          hint:
            'run again later (a re-run does only the work left), log in to raise the limit, ' +
            'wait for the window with --rate-wait 6h, or lower --rate-floor',
        };
      }
      if (!this.announced.has(registry)) {
        this.announced.add(registry);
        this.opts.hooks?.notice?.(`${state}: waiting up to ${Math.ceil(left / 1000)} s for the window to allow more`);
      }
      await sleep(Math.min(poll, left), this.opts.signal);
      // A HEAD costs no pull and brings fresh rate-limit headers.
      await this.ctx
        .client('src')
        .headManifest(
          { registry, repository: src.ref.repository },
          item.sourceDigest ?? src.ref.tag ?? 'latest',
          this.opts.signal,
        )
        .catch((err) => {
          if (isAbortError(err) && this.opts.signal.aborted) throw err;
        });
    }
  }

  release(item: PlanItem): void {
    if (item.source.kind !== 'registry') return;
    const registry = item.source.ref.registry;
    const n = this.reserved.get(item) ?? 1;
    this.reserved.delete(item);
    this.inflight.set(registry, Math.max(0, (this.inflight.get(registry) ?? n) - n));
  }
}

export async function runPlan(plan: Plan, ctx: AppContext, opts: RunOptions): Promise<RunResult> {
  const [{ openSource, openDestination }, { copyImage }, { SharedBlobs }] = await Promise.all([
    import('../transports/open.js'),
    import('../copy/copy.js'),
    import('../copy/shared.js'),
  ]);
  const hooks = opts.hooks ?? {};
  const blobSlots = new Slots(opts.jobs, opts.lightJobs);
  const shared = new SharedBlobs();
  const imageLimit = pLimit(Math.max(1, opts.images));
  const gate = new RateGate(ctx, opts);
  const reports = new Array<ImageReport>(plan.items.length);
  let stopped: ErrorInfo | undefined;
  const finish = (i: number, r: ImageReport) => {
    reports[i] = r;
    hooks.done?.(r);
  };

  const failedInPlan = plan.items.filter((i) => i.action === 'error');
  if (failedInPlan.length && !opts.keepGoing) {
    stopped = {
      code: 'PLAN_FAILED',
      message: `${failedInPlan.length} image(s) could not be planned: nothing was copied`,
      hint: 'fix them, or run with --keep-going to copy the rest',
    };
  }
  plan.items.forEach((item, i) => {
    if (item.action === 'up-to-date') {
      finish(i, {
        item,
        status: 'up-to-date',
        digest: item.sourceDigest,
        reference: referenceOf(item),
        bytesSent: 0,
        durationMs: 0,
      });
    } else if (item.action === 'error')
      finish(i, { item, status: 'failed', bytesSent: 0, durationMs: 0, error: item.error });
  });

  const copyOne = async (item: PlanItem, i: number): Promise<void> => {
    if (stopped || opts.signal.aborted) return finish(i, { item, status: 'skipped', bytesSent: 0, durationMs: 0 });
    const refused = await gate.admit(item);
    if (refused) {
      stopped ??= refused;
      return finish(i, { item, status: 'skipped', bytesSent: 0, durationMs: 0 });
    }
    if (stopped) {
      gate.release(item);
      return finish(i, { item, status: 'skipped', bytesSent: 0, durationMs: 0 });
    }
    const started = Date.now();
    hooks.start?.(item);
    try {
      const source = await openSource(pinned(item), sourceDeps(ctx));
      try {
        const dest = await openDestination(item.target, destinationDeps(ctx, opts.createRepo));
        const subset = Boolean(item.platforms?.length);
        const result = await copyImage(source, dest, {
          jobs: opts.jobs,
          platforms: item.platforms,
          tag: item.tag,
          retries: ctx.globals.retries,
          signal: opts.signal,
          onEvent: hooks.event ? (e) => hooks.event!(item, e) : undefined,
          blobSlots,
          shared,
          ...(item.resolved ? { resolved: { source: item.resolved.source, destination: item.resolved.target } } : {}),
          ...(subset && item.sourceDigest
            ? {
                subIndex: {
                  annotations: {
                    [SOURCE_DIGEST_ANNOTATION]: item.sourceDigest,
                    [PLATFORMS_ANNOTATION]: platformsText(item.platforms),
                  },
                  alwaysIndex: true,
                },
              }
            : {}),
        });
        finish(i, {
          item,
          status: result.upToDate ? 'up-to-date' : 'copied',
          digest: result.digest,
          reference: result.reference,
          bytesSent: result.bytesSent,
          blobs: result.blobs,
          durationMs: Date.now() - started,
        });
      } finally {
        await source.close();
      }
    } catch (err) {
      if (opts.signal.aborted && isAbortError(err)) throw err;
      finish(i, { item, status: 'failed', bytesSent: 0, durationMs: Date.now() - started, error: toErrorInfo(err) });
      if (!opts.keepGoing)
        stopped ??= {
          code: 'FAILED',
          message: `stopped after ${item.key} failed`,
          hint: 'run with --keep-going to copy the rest anyway',
        };
    } finally {
      gate.release(item);
    }
  };

  // Images that are the same manifest going to the same repository (3.20 and 3.20.3) run one after the other: the
  // second finds everything in place and only tags; pushed at once, the same manifest makes distribution race.
  const chains = new Map<string, Promise<void>>();
  const tasks = plan.items.map((item, i) => {
    if (item.action !== 'copy') return Promise.resolve();
    const key = `${repoOf(item.target)}|${item.sourceDigest ?? item.key}`;
    const next = (chains.get(key) ?? Promise.resolve()).then(() => imageLimit(() => copyOne(item, i)));
    chains.set(
      key,
      next.catch(() => {}),
    );
    return next;
  });
  const settled = await Promise.allSettled(tasks);
  const interrupted = settled.find((s) => s.status === 'rejected');
  if (interrupted) throw interrupted.reason;
  await syncReferrers(reports, ctx, opts, imageLimit);
  return { reports, ...(stopped ? { stopped } : {}) };
}

/**
 * The referrers of every image copied or found up to date whose entry says `referrers: true`, once the images are
 * in place (a referrer's subject before the referrer). A failure marks that image failed.
 */
async function syncReferrers(
  reports: ImageReport[],
  ctx: AppContext,
  opts: RunOptions,
  limit: ReturnType<typeof pLimit>,
): Promise<void> {
  const done = (r: ImageReport) => r.status === 'copied' || r.status === 'up-to-date';
  const todo = reports.filter((r) => r?.item.referrers && r.digest && done(r));
  if (!todo.length) return;
  const { copyReferrers, copiedDigests } = await import('../referrers/write.js');
  await Promise.all(
    todo.map((report) =>
      limit(async () => {
        const { source, target } = report.item;
        if (source.kind !== 'registry' || target.kind !== 'registry') return;
        const mediaType = report.item.resolved?.source.mediaType ?? '';
        // What the target holds: for a platform subset found up to date, the sub-index, not the source's digest.
        const held = report.status === 'up-to-date' ? (report.item.targetDigest ?? report.digest) : report.digest;
        const digest = held as Digest;
        try {
          // A platform subset or an unknown type: the target's manifest says whether it has children.
          const maybeIndex =
            !mediaType || mediaType.includes('index') || mediaType.includes('list') || report.item.platforms;
          const roots = await copiedDigests(ctx, target.ref, digest, maybeIndex ? 'index' : mediaType, opts.signal);
          const r = await copyReferrers(ctx, source.ref, target.ref, roots, {
            jobs: opts.jobs,
            signal: opts.signal,
            warn: (m) => opts.hooks?.notice?.(`${report.item.key}: ${m}`),
          });
          report.referrers = { found: r.found, copied: r.copied, existed: r.existed };
        } catch (err) {
          if (opts.signal.aborted && isAbortError(err)) throw err;
          report.status = 'failed';
          report.error = toErrorInfo(err);
        }
      }),
    ),
  );
}

function repoOf(loc: Location): string {
  if (loc.kind === 'registry') return `${loc.ref.registry}/${loc.ref.repository}`;
  return `${loc.kind}:${loc.path}`;
}

function referenceOf(item: PlanItem): string | undefined {
  const t = item.target;
  if (!item.sourceDigest || (t.kind !== 'registry' && t.kind !== 'oci')) return undefined;
  return pinnedLocation(t, (item.targetDigest ?? item.sourceDigest) as Digest);
}
