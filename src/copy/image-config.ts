// An image's config read from a source (capped, verified), and the --platform check of a single-platform image
// against the config's os/architecture/variant, as docker's "does not match the specified platform".
import { RegctlError } from '../errors.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { type Platform, formatPlatform, platformMatches } from '../oci/platform.js';
import type { ImageSource } from '../transports/types.js';
import { verified } from './verify.js';

const MAX_CONFIG = 4 * 1024 * 1024;

export interface ImageConfigDoc {
  os?: unknown;
  architecture?: unknown;
  variant?: unknown;
  rootfs?: { diff_ids?: unknown };
}

/** The config JSON of an image; undefined when it is over 4 MiB or not a JSON object (an artifact's config). */
export async function readImageConfig(
  src: ImageSource,
  config: Descriptor,
  signal: AbortSignal,
): Promise<ImageConfigDoc | undefined> {
  if (config.size > MAX_CONFIG) return undefined;
  const chunks: Uint8Array[] = [];
  for await (const c of verified(await src.getBlob(config, { signal }), config)) chunks.push(c);
  try {
    const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    return doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as ImageConfigDoc) : undefined;
  } catch {
    return undefined;
  }
}

/** The platform an image's config declares; undefined for an artifact or a config without os/architecture. */
export async function imagePlatform(
  src: ImageSource,
  m: FetchedManifest,
  signal: AbortSignal,
): Promise<Platform | undefined> {
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
