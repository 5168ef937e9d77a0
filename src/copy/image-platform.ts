// A single-platform image named with --platform: its config's os/architecture/variant must match, as docker checks.
import { RegctlError } from '../errors.js';
import type { FetchedManifest } from '../oci/manifest.js';
import { type Platform, formatPlatform, platformMatches } from '../oci/platform.js';
import type { ImageSource } from '../transports/types.js';
import { verified } from './verify.js';

const MAX_CONFIG = 4 * 1024 * 1024;

/** The platform an image's config declares; undefined for an artifact or a config without `os`/`architecture`. */
export async function imagePlatform(src: ImageSource, m: FetchedManifest, signal: AbortSignal): Promise<Platform | undefined> {
  if (m.manifest.kind !== 'image' || m.manifest.config.size > MAX_CONFIG) return undefined;
  const chunks: Uint8Array[] = [];
  for await (const c of verified(await src.getBlob(m.manifest.config, { signal }), m.manifest.config)) chunks.push(c);
  let doc: { os?: unknown; architecture?: unknown; variant?: unknown };
  try {
    doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc?.os !== 'string' || typeof doc.architecture !== 'string' || !doc.os || !doc.architecture) return undefined;
  return { os: doc.os, architecture: doc.architecture, ...(typeof doc.variant === 'string' && doc.variant ? { variant: doc.variant } : {}) };
}

/**
 * Fails (exit 1) when the image's platform matches none of `want`, as docker's "does not match the specified
 * platform"; an image whose config names no platform passes.
 */
export async function checkImagePlatform(src: ImageSource, m: FetchedManifest, want: Platform[], where: string, signal: AbortSignal): Promise<void> {
  const have = await imagePlatform(src, m, signal);
  if (!have || want.some((p) => platformMatches(p, have))) return;
  throw new RegctlError(
    'PLATFORM_MISMATCH',
    `${where}: the image is ${formatPlatform(have)}, which does not match the specified platform ${want.map(formatPlatform).join(', ')}`,
    { hint: 'this image holds one platform: leave out --platform, or name an image (or index) that has yours' },
  );
}
