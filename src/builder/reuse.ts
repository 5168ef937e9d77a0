// Layers the destinations already hold, by diffID: a re-build whose layer tars hash the same reuses their blobs
// (no compression, no upload), so a re-build of an unchanged context costs a tar hash per layer and a few HEADs.
import type { AppContext } from '../context.js';
import type { Location } from '../location/parse.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { isAttestationEntry } from '../oci/platform.js';
import type { ImageSource } from '../transports/types.js';
import type { ConfigJson } from '../oci/config.js';
import { readBlobBytes } from './base.js';

export interface LayerReuse {
  /** Settles once the destinations' images have been read (failures leave nothing to reuse). */
  readonly ready: Promise<void>;
  readonly size: number;
  /** A blob with this diffID and media type, and the source that serves it. */
  find(diffId: string, mediaType: string): { desc: Descriptor; source: ImageSource } | undefined;
  close(): Promise<void>;
}

/**
 * Reads the images now at the registry destinations' tags (their configs' diff_ids against their manifests' layers).
 * The destination is where the result goes, so its own claims are what the new image will stand on anyway.
 */
export class DestinationLayers implements LayerReuse {
  readonly ready: Promise<void>;
  private readonly layers = new Map<string, { desc: Descriptor; source: ImageSource }>();
  private readonly sources: ImageSource[] = [];

  constructor(
    private readonly ctx: AppContext,
    dests: Location[],
  ) {
    this.ready = Promise.all(dests.map((d) => this.load(d))).then(
      () => {},
      () => {},
    );
  }

  get size(): number {
    return this.layers.size;
  }

  private async load(loc: Location): Promise<void> {
    if (loc.kind !== 'registry' || !loc.ref.tag || loc.ref.digest) return;
    const { RegistrySource } = await import('../transports/registry.js');
    const source = new RegistrySource(this.ctx.client('dst'), loc.ref);
    this.sources.push(source);
    const signal = this.ctx.signal;
    try {
      const desc = await source.resolve(signal);
      if (!desc) return;
      const root = await source.getManifest(desc.digest, signal);
      const images: FetchedManifest[] = [];
      if (root.manifest.kind === 'image') images.push(root);
      else
        for (const d of root.manifest.manifests.filter((x) => !isAttestationEntry(x)).slice(0, 16))
          images.push(await source.getManifest(d.digest, signal));
      for (const m of images) {
        if (m.manifest.kind !== 'image') continue;
        const bytes = await readBlobBytes(source, m.manifest.config, signal);
        const config = JSON.parse(Buffer.from(bytes).toString('utf8')) as ConfigJson;
        const diffIds = config.rootfs?.diff_ids;
        if (!Array.isArray(diffIds) || diffIds.length !== m.manifest.layers.length) continue;
        m.manifest.layers.forEach((l, i) => this.layers.set(`${diffIds[i]}\n${l.mediaType}`, { desc: l, source }));
      }
    } catch (err) {
      this.ctx.log.debug(
        `reading ${loc.ref.registry}/${loc.ref.repository}:${loc.ref.tag} ` +
          `for layers to reuse: ${(err as Error).message}`,
      );
    }
  }

  find(diffId: string, mediaType: string): { desc: Descriptor; source: ImageSource } | undefined {
    return this.layers.get(`${diffId}\n${mediaType}`);
  }

  async close(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.close().catch(() => {})));
  }
}
