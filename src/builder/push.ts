// Writes a made image (built or mutated) to its destinations through the copy engine: blobs already there are skipped,
// base layers mounted within a registry or copied from the base, a later destination mounts what an earlier one got.
// While a build writes its layers, the base's layers already move (BasePrefetch).
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import { type AppContext, destinationDeps } from '../context.js';
import type { EventSink } from '../copy/events.js';
import { type CopyOptions, type CopyResult, copyBlob, copyImage } from '../copy/copy.js';
import { SharedBlobs } from '../copy/shared.js';
import { hasCode, isAbortError } from '../errors.js';
import type { Location } from '../location/parse.js';
import type { Digest } from '../oci/digest.js';
import type { ImageDestination } from '../transports/types.js';
import type { BaseImage } from './base.js';
import type { GrowingFile } from './growing.js';
import { type MadeImage, MadeImageSource, mountBaseOnly } from './source.js';

function destTag(loc: Location): string | undefined {
  if (loc.kind === 'registry') return loc.ref.digest ? undefined : loc.ref.tag;
  if (loc.kind === 'oci' || loc.kind === 'oci-archive') return loc.tag;
  return undefined;
}

export async function openDestinations(
  ctx: AppContext,
  dests: Location[],
  defaultName?: string,
): Promise<ImageDestination[]> {
  const { openDestination } = await import('../transports/open.js');
  const out: ImageDestination[] = [];
  for (const loc of dests) out.push(await openDestination(loc, destinationDeps(ctx), { defaultName }));
  return out;
}

export async function pushMade(
  ctx: AppContext,
  image: MadeImage,
  origin: Location,
  dests: Location[],
  opened: ImageDestination[],
  onEvent: EventSink,
): Promise<CopyResult[]> {
  const shared = new SharedBlobs();
  const results: CopyResult[] = [];
  for (const [i, loc] of dests.entries()) {
    const src = new MadeImageSource(origin, image);
    results.push(
      await copyImage(src, mountBaseOnly(opened[i], image), {
        jobs: ctx.globals.jobs,
        lightJobs: ctx.globals.lightJobs,
        tag: destTag(loc),
        retries: ctx.globals.retries,
        signal: ctx.signal,
        onEvent,
        shared,
      }),
    );
  }
  return results;
}

/**
 * Moves the final image's base layers into registry destinations while the build is still writing layers: each is
 * found there, mounted from the base's repository, or copied. Best effort: whatever fails here the push does again.
 */
export class BasePrefetch {
  private readonly controller = new AbortController();
  private readonly limit: <T>(fn: () => Promise<T>) => Promise<T>;
  private readonly started = new Set<string>();
  /** Per destination: whether its tag already names an image (then its base layers are most likely there: skip). */
  private readonly tagged = new Map<number, Promise<boolean>>();
  private readonly work: Promise<unknown>[] = [];
  readonly moved = { blobs: 0, bytes: 0, mounted: 0 };
  /** The blobs moved (sent or mounted) here, so that the push does not report them again as already there. */
  readonly digests = new Set<string>();

  constructor(
    private readonly ctx: AppContext,
    private readonly dests: ImageDestination[],
  ) {
    this.limit = pLimit(Math.max(1, ctx.globals.jobs));
    // Every request in flight listens on this signal.
    setMaxListeners(0, this.controller.signal);
    ctx.signal.addEventListener('abort', () => this.controller.abort(ctx.signal.reason), { once: true });
  }

  add(base: BaseImage): void {
    const image: MadeImage = {
      root: base.manifest,
      children: [],
      blobs: new Map(),
      baseRepo: base.source.registryRepo,
      baseDigests: new Set<Digest>(base.layers.map((l) => l.digest)),
    };
    for (const [i, dst] of this.dests.entries()) {
      if (dst.location.kind !== 'registry' || !dst.caps.concurrentWrites) continue;
      let tagged = this.tagged.get(i);
      if (!tagged) {
        tagged = dst.resolve(this.controller.signal).then(
          (d) => d !== undefined,
          () => false,
        );
        this.tagged.set(i, tagged);
      }
      const view = mountBaseOnly(dst, image);
      const opts: CopyOptions = {
        jobs: this.ctx.globals.jobs,
        retries: this.ctx.globals.retries,
        signal: this.controller.signal,
      };
      for (const desc of [...base.layers].sort((a, b) => b.size - a.size)) {
        const key = `${i} ${desc.digest}`;
        if (this.started.has(key) || desc.mediaType.includes('foreign')) continue;
        this.started.add(key);
        const p = this.limit(async () => {
          if (this.controller.signal.aborted || (await tagged)) return;
          const outcome = await copyBlob(base.source, view, desc, opts, this.controller.signal);
          if (outcome === 'sent' || outcome === 'mounted') this.digests.add(desc.digest);
          if (outcome === 'sent') {
            this.moved.blobs++;
            this.moved.bytes += desc.size;
          } else if (outcome === 'mounted') this.moved.mounted++;
        }).catch((err) => {
          if (!isAbortError(err))
            this.ctx.log.debug(`early copy of ${desc.digest} failed (the push retries it): ${(err as Error).message}`);
        });
        this.work.push(p);
      }
    }
  }

  /** Waits for the copies in flight (after a failed build: stops them first). */
  async settle(abort = false): Promise<void> {
    if (abort) this.controller.abort();
    await Promise.allSettled(this.work);
  }
}

/**
 * Streams new layers into registry destinations whose repository is still empty while the layers are being written:
 * such a repository cannot hold them yet (nothing to find by HEAD, no repository to mount from), so sending them at
 * once costs no byte more and overlaps the upload with the compression. Best effort: what fails the push sends again.
 */
export class LayerStreamer {
  private readonly targets: ImageDestination[] = [];
  private readonly work: Promise<unknown>[] = [];
  private ready: Promise<void> = Promise.resolve();
  readonly streamed: Array<{ digest: Digest; size: number; where: string }> = [];

  constructor(
    private readonly ctx: AppContext,
    private readonly signal: AbortSignal,
  ) {}

  /** Picks the registry destinations whose repository has no tag at all (asked in the background). */
  init(dests: Location[], opened: ImageDestination[]): void {
    this.ready = this.pick(dests, opened).catch(() => {});
  }

  private async pick(dests: Location[], opened: ImageDestination[]): Promise<void> {
    await Promise.all(
      dests.map(async (loc, i) => {
        const dst = opened[i];
        if (loc.kind !== 'registry' || !dst.putBlobComputed) return;
        const repo = { registry: loc.ref.registry, repository: loc.ref.repository };
        try {
          const tags = await this.ctx.client('dst').listTags(repo, this.signal);
          if (tags.length === 0) this.targets.push(dst);
        } catch (err) {
          if (hasCode(err, 'NAME_UNKNOWN')) this.targets.push(dst);
        }
      }),
    );
  }

  add(file: GrowingFile, mediaType: string): void {
    const p = this.ready.then(() =>
      Promise.all(
        this.targets.map((dst) =>
          dst.putBlobComputed!(mediaType, async () => file.read(this.signal), this.signal)
            .then(
              (d) =>
                void this.streamed.push({
                  digest: d.digest,
                  size: d.size,
                  where: dst.describe(d.digest).split('@')[0],
                }),
            )
            .catch((err) => {
              if (!isAbortError(err))
                this.ctx.log.debug(`streaming a layer failed (the push sends it again): ${(err as Error).message}`);
            }),
        ),
      ),
    );
    this.work.push(p);
  }

  async settle(): Promise<void> {
    await this.ready;
    await Promise.allSettled(this.work);
  }
}
