// A build from start to push: destinations opened first, base layers moved and new layers streamed while the image is
// made, then the push; whatever fails, the early transfers settle and nothing is left half-written.
import type { AppContext } from '../context.js';
import type { EventSink } from '../copy/events.js';
import type { CopyResult } from '../copy/copy.js';
import type { Location } from '../location/parse.js';
import type { ImageDestination } from '../transports/types.js';
import { type BuildRequest, type BuildResult, build } from './build.js';
import { BasePrefetch, LayerStreamer, openDestinations, pushMade } from './push.js';
import { DestinationLayers } from './reuse.js';

/** The image is made; what moved to the destinations while it was. */
export interface Made {
  built: BuildResult;
  /** Base layers moved while building (BasePrefetch). */
  early: { blobs: number; bytes: number; mounted: number };
  /** Layers sent while they were written (LayerStreamer). */
  streamed: ReadonlyArray<{ digest: string; size: number; where: string }>;
}

export class BuildSession {
  private t1 = 0;
  private built?: BuildResult;

  private constructor(
    private readonly t0: number,
    private readonly ctx: AppContext,
    private readonly dests: Location[],
    private readonly opened: ImageDestination[],
    private readonly prefetch: BasePrefetch,
    private readonly streamer: LayerStreamer,
    private readonly reuse: DestinationLayers,
  ) {}

  /** Opens the destinations (a bad one fails before any work). */
  static async open(ctx: AppContext, dests: Location[]): Promise<BuildSession> {
    const t0 = Date.now();
    const opened = await openDestinations(ctx, dests);
    const streamer = new LayerStreamer(ctx, ctx.signal);
    const prefetch = new BasePrefetch(ctx, opened);
    const session = new BuildSession(t0, ctx, dests, opened, prefetch, streamer, new DestinationLayers(ctx, dests));
    streamer.init(dests, opened);
    return session;
  }

  /** Builds while base layers move and new layers stream; on failure settles them and aborts the destinations. */
  async make(req: BuildRequest): Promise<Made> {
    const { prefetch, streamer, reuse } = this;
    try {
      this.built = await build(this.ctx, {
        ...req,
        opts: {
          ...req.opts,
          onFinalBase: (base) => prefetch.add(base),
          onLayer: (file, mediaType) => streamer.add(file, mediaType),
          reuse: this.dests.length ? reuse : undefined,
        },
      });
    } catch (err) {
      await Promise.all([prefetch.settle(true), streamer.settle(), reuse.close()]);
      await Promise.all(this.opened.map((d) => d.abort().catch(() => {})));
      throw err;
    }
    this.t1 = Date.now();
    await Promise.all([prefetch.settle(), streamer.settle()]);
    const settled = Date.now() - this.t1;
    this.ctx.log.debug(`build: image made in ${this.t1 - this.t0} ms; base layers moved ${settled} ms after that`);
    return { built: this.built, early: prefetch.moved, streamed: streamer.streamed };
  }

  /** Writes the made image to every destination; events of blobs moved early are not reported again. */
  async push(origin: Location, onEvent: EventSink): Promise<CopyResult[]> {
    if (!this.built) throw new Error('BuildSession.push before make');
    const movedEarly = new Set<string>([...this.prefetch.digests, ...this.streamer.streamed.map((x) => x.digest)]);
    const results = await pushMade(this.ctx, this.built.image, origin, this.dests, this.opened, (e) => {
      if (!(e.type === 'blob' && e.state === 'exists' && movedEarly.has(e.digest))) onEvent(e);
    });
    this.ctx.log.debug(`build: pushed in ${Date.now() - this.t1} ms`);
    return results;
  }

  /** Removes the layer files and closes the reuse reader (a failed make() has done that already). */
  async close(): Promise<void> {
    if (!this.built) return;
    await this.built.close();
    await this.reuse.close();
  }
}
