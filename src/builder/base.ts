// Base images of FROM and COPY --from: opened once per location, one platform's manifest and config read (never its
// layers).
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type AppContext, sourceDeps } from '../context.js';
import { readSmallBlob } from '../copy/verify.js';
import { RegctlError, UsageError } from '../errors.js';
import { type Location, parseLocation } from '../location/parse.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { MT } from '../oci/media-types.js';
import { type Platform, formatPlatform, isAttestationEntry, platformMatches } from '../oci/platform.js';
import { selectPlatforms } from '../copy/plan.js';
import type { ImageSource } from '../transports/types.js';
import { isUnder } from './context.js';
import { type ImageConfigDoc, configPlatform } from '../oci/config.js';
import { type Flavor, configFromBase } from './config.js';

export interface BaseImage {
  /** The reference as written (after expansion). */
  name: string;
  source: ImageSource;
  manifest: FetchedManifest;
  layers: Descriptor[];
  config: ImageConfigDoc;
  flavor: Flavor;
  platform: Platform;
}

export async function readBlobBytes(source: ImageSource, desc: Descriptor, signal: AbortSignal): Promise<Uint8Array> {
  const bytes = await readSmallBlob(desc, () => source.getBlob(desc, { signal }));
  if (!bytes) throw new RegctlError('CONFIG_TOO_LARGE', `config ${desc.digest} is over the 4 MiB limit`);
  return bytes;
}

/**
 * A location named in a Dockerfile. A --build-context name maps to what the command line gave; a local path written in
 * the Dockerfile is taken from the build context's directory and must stay inside it (symlinks resolved).
 */
async function locateImage(text: string, contextDir: string, named?: Map<string, string>): Promise<Location> {
  const given = named?.get(text) ?? named?.get(text.toLowerCase());
  if (given !== undefined) {
    const loc = parseLocation(given);
    return loc.kind !== 'registry' ? ({ ...loc, path: resolve(loc.path) } as Location) : loc;
  }
  const loc = parseLocation(text);
  if (loc.kind === 'registry') return loc;
  const path = resolve(contextDir, loc.path);
  const real = await realpath(path).catch(() => path);
  if (!isUnder(await realpath(contextDir).catch(() => resolve(contextDir)), real)) {
    const hint = `name it on the command line: --build-context base=${loc.kind}:PATH, then FROM base`;
    throw new UsageError(`${text}: the path is outside the build context`, hint);
  }
  return { ...loc, path } as Location;
}

export class BaseResolver {
  private readonly sources = new Map<string, Promise<ImageSource>>();
  private readonly roots = new Map<string, Promise<FetchedManifest>>();
  private readonly images = new Map<string, Promise<BaseImage>>();

  constructor(
    private readonly ctx: AppContext,
    private readonly contextDir: string,
    private readonly warn: (message: string) => void,
    private readonly named?: Map<string, string>,
  ) {}

  private source(name: string): Promise<ImageSource> {
    let s = this.sources.get(name);
    if (!s) {
      s = (async () => {
        const { openSource } = await import('../transports/open.js');
        return openSource(await locateImage(name, this.contextDir, this.named), sourceDeps(this.ctx));
      })();
      this.sources.set(name, s);
    }
    return s;
  }

  private root(name: string, src: ImageSource, where: string): Promise<FetchedManifest> {
    let r = this.roots.get(name);
    if (!r) {
      r = (async () => {
        const desc = await src.resolve(this.ctx.signal);
        if (!desc) throw new UsageError(`${where} ${name}: image not found`);
        return src.getManifest(desc.digest, this.ctx.signal);
      })();
      this.roots.set(name, r);
    }
    return r;
  }

  /**
   * The image for one platform. `strict`: the platform was asked for (several are built), so a mismatch is an error.
   */
  image(name: string, platform: Platform, strict: boolean, where: string): Promise<BaseImage> {
    const key = `${name}\n${formatPlatform(platform)}`;
    let p = this.images.get(key);
    if (!p) {
      p = this.load(name, platform, strict, where);
      this.images.set(key, p);
    }
    return p;
  }

  private async load(name: string, platform: Platform, strict: boolean, where: string): Promise<BaseImage> {
    const source = await this.source(name);
    let m = await this.root(name, source, where);
    for (let depth = 0; m.manifest.kind === 'index'; depth++) {
      if (depth > 3) throw new RegctlError('MANIFEST_INVALID', `${name}: indexes nested too deeply`);
      const [entry] = selectPlatforms(m.manifest, [platform], `${where} ${name}`);
      m = await source.getManifest(entry.digest, this.ctx.signal);
      if (m.desc.digest !== entry.digest)
        throw new RegctlError('DIGEST_MISMATCH', `${name}: child manifest ${entry.digest} does not match its digest`);
    }
    if (m.manifest.kind !== 'image') throw new UsageError(`${where} ${name}: not an image`);
    const configBytes = await readBlobBytes(source, m.manifest.config, this.ctx.signal);
    const config = configFromBase(configBytes);
    const have = configPlatform(config);
    if (!platformMatches(platform, have)) {
      const msg = `${name} is a ${formatPlatform(have)} image, not ${formatPlatform(platform)}`;
      if (strict)
        throw new UsageError(
          `${where}: ${msg}`,
          'build the platforms the base image has, or use a multi-platform base image',
        );
      this.warn(`${msg}: building ${formatPlatform(have)}`);
    }
    const flavor: Flavor = m.desc.mediaType === MT.dockerManifest ? 'docker' : 'oci';
    return { name, source, manifest: m, layers: m.manifest.layers, config, flavor, platform: have };
  }

  /** The platforms of an image's index (attestations left out), or its one platform. */
  async platforms(name: string, where: string): Promise<Platform[]> {
    const source = await this.source(name);
    const root = await this.root(name, source, where);
    if (root.manifest.kind === 'index') {
      return root.manifest.manifests.filter((d) => !isAttestationEntry(d) && d.platform).map((d) => d.platform!);
    }
    if (root.manifest.kind !== 'image') throw new UsageError(`${where} ${name}: not an image`);
    return [configPlatform(configFromBase(await readBlobBytes(source, root.manifest.config, this.ctx.signal)))];
  }

  async close(): Promise<void> {
    const all = await Promise.allSettled([...this.sources.values()]);
    const opened = all.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    await Promise.all(opened.map((s) => s.close().catch(() => {})));
  }
}
