// An image's config read from a source (capped, verified), and the --platform check of a single-platform image
// against the config's os/architecture/variant, as docker's "does not match the specified platform".
import { RegctlError } from '../errors.js';
import { type ConfigJson, parseConfigJson } from '../oci/config.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { type Platform, formatPlatform, platformMatches } from '../oci/platform.js';
import type { ImageSource } from '../transports/types.js';
import { readSmallBlob } from './verify.js';

/** The config JSON of an image; undefined when it is over 4 MiB or not a JSON object (an artifact's config). */
export async function readImageConfig(
  src: ImageSource,
  config: Descriptor,
  signal: AbortSignal,
): Promise<ConfigJson | undefined> {
  const bytes = await readSmallBlob(config, () => src.getBlob(config, { signal }));
  return bytes && parseConfigJson(bytes);
}

/** The platform an image's config declares; undefined for an artifact or a config without os/architecture. */
async function imagePlatform(src: ImageSource, m: FetchedManifest, signal: AbortSignal): Promise<Platform | undefined> {
  if (m.manifest.kind !== 'image') return undefined;
  const doc = await readImageConfig(src, m.manifest.config, signal);
  const { os, architecture, variant } = doc ?? {};
  if (typeof os !== 'string' || typeof architecture !== 'string' || !os || !architecture) return undefined;
  return { os, architecture, ...(typeof variant === 'string' && variant ? { variant } : {}) };
}

/**
 * Fails (exit 1) when the image's platform matches none of `want`, as docker's "does not match the specified
 * platform"; an image whose config names no platform passes.
 */
export async function checkImagePlatform(
  src: ImageSource,
  m: FetchedManifest,
  want: Platform[],
  where: string,
  signal: AbortSignal,
): Promise<void> {
  const have = await imagePlatform(src, m, signal);
  if (!have || want.some((p) => platformMatches(p, have))) return;
  const wanted = want.map(formatPlatform).join(', ');
  throw new RegctlError(
    'PLATFORM_MISMATCH',
    `${where}: the image is ${formatPlatform(have)}, which does not match the specified platform ${wanted}`,
    { hint: 'this image holds one platform: leave out --platform, or name an image (or index) that has yours' },
  );
}
