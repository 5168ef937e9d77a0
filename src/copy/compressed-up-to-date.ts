// A classic `docker save` pushed again: the registry holds it gzipped (other digests), yet it is the same image when
// the destination's manifest names the same config and the archive's layers are that config's diff_ids.
import { isAbortError } from '../errors.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import type { ImageDestination, ImageSource } from '../transports/types.js';
import { gzippedType } from './compress.js';
import { readImageConfig } from './image-config.js';

/**
 * True when `existing` (what the destination's tag names) is `root` with its uncompressed layers gzipped: the same
 * config, and every uncompressed layer of the archive is the config's diff_id at its place (a compressed one is the
 * very blob the destination names). Nothing is compressed to find out: one manifest GET at the destination and the
 * archive's config.
 */
export async function compressedUpToDate(
  src: ImageSource,
  dst: ImageDestination,
  root: FetchedManifest,
  existing: Descriptor,
  signal: AbortSignal,
): Promise<boolean> {
  if (!src.caps.compressOnPush || !dst.getManifest || root.manifest.kind !== 'image') return false;
  const layers = root.manifest.layers;
  if (!layers.some((l) => gzippedType(l.mediaType))) return false;
  let held: FetchedManifest;
  try {
    held = await dst.getManifest(existing.digest, signal);
  } catch (err) {
    if (isAbortError(err)) throw err;
    return false;
  }
  if (held.manifest.kind !== 'image' || held.manifest.config.digest !== root.manifest.config.digest) return false;
  const heldLayers = held.manifest.layers;
  if (heldLayers.length !== layers.length) return false;
  const diffIds = (await readImageConfig(src, root.manifest.config, signal))?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== layers.length) return false;
  return layers.every((l, i) =>
    gzippedType(l.mediaType)
      ? diffIds[i] === l.digest && heldLayers[i].digest !== l.digest
      : heldLayers[i].digest === l.digest,
  );
}
