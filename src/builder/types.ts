// Shared shapes of a build: options, the state of a stage, the layers of its image, and what a build produces.
import type { Descriptor } from '../oci/manifest.js';
import type { Platform } from '../oci/platform.js';
import type { BaseImage, BaseResolver } from './base.js';
import type { ImageConfigDoc } from '../oci/config.js';
import type { Flavor } from './config.js';
import type { BuildContext } from './context.js';
import type { StagedDockerfile } from './dockerfile.js';
import type { GrowingFile } from './growing.js';
import type { BuiltLayer } from './layer.js';
import type { IndexCache, MetaEntry } from './layer-index.js';
import type { LayerReuse } from './reuse.js';
import type { LayerEntry } from './tree.js';

export interface BuildOptions {
  /** --build-arg values. */
  buildArgs: Map<string, string>;
  /** --label values, applied last to the final image. */
  labels: Map<string, string>;
  target?: string;
  /** Seconds since the epoch: every mtime in new layers, `created` and history times. */
  epoch: number;
  tmpDir: string;
  signal: AbortSignal;
  /** A progress line (one per step). */
  onStep: (line: string) => void;
  warn: (message: string) => void;
  /** Called once per platform when the final image's base is known, so its layers can move while layers are built. */
  onFinalBase?: (base: BaseImage) => void;
  /** Blobs the destinations already hold, by diffID: a layer found there is not compressed again. */
  reuse?: LayerReuse;
  /** Called when a new layer starts being written, with its file as it grows and its media type. */
  onLayer?: (file: GrowingFile, mediaType: string) => void;
  /** The most one ADD may unpack from local archives (bytes). */
  maxAddBytes: number;
  /** Where base layers' directory indexes are kept (the user's cache); undefined: in memory for this build only. */
  indexDir?: string;
  /** --build-context NAME=LOCATION: what FROM NAME and COPY --from=NAME read (local paths from the working dir). */
  namedContexts?: Map<string, string>;
}

export interface LayerRef {
  desc: Descriptor;
  diffId: string;
  /** A layer this build wrote, and its entries. */
  built?: BuiltLayer;
  entries?: LayerEntry[];
  /** A layer of a base image, read through that image's source. */
  base?: BaseImage;
}

export interface StageResult {
  platform: Platform;
  config: ImageConfigDoc;
  flavor: Flavor;
  layers: LayerRef[];
  /** The image the stage (or the stage it starts from) is FROM; undefined for scratch. */
  base?: BaseImage;
}

/**
 * What every platform's build shares: the context, base images, the layers already written (same files, same layer).
 */
export interface Shared {
  df: StagedDockerfile;
  context: BuildContext;
  resolver: BaseResolver;
  opts: BuildOptions;
  layerCache: Map<string, Promise<BuiltLayer>>;
  consumedArgs: Set<string>;
  /** The target stage and the stages it starts FROM: their base image is the final image's base. */
  finalChain: Set<number>;
  /** Total steps and the counter, for `[n/N]`. */
  steps: { total: number; done: number };
  /** Base layers' directory indexes, by layer digest (read once per build, cached across builds). */
  indexes: Map<string, Promise<MetaEntry[]>>;
  indexCache: IndexCache;
}
