// Gzips the uncompressed layers of an image on their way to a registry (a classic `docker save`), and rewrites the
// manifest.
import type { Digest } from '../oci/digest.js';
import { type Descriptor, type FetchedManifest, encodeManifest, toFetched } from '../oci/manifest.js';
import { MT } from '../oci/media-types.js';
import type { Bytes } from '../transports/types.js';
import { pgzip } from '../util/pgzip.js';

const UNCOMPRESSED: Record<string, string> = {
  [MT.ociLayer]: MT.ociLayerGzip,
  'application/vnd.docker.image.rootfs.diff.tar': MT.dockerLayerGzip,
};

/** The gzip media type a layer would get, or undefined when it is not an uncompressed tar. */
export function gzippedType(mediaType: string): string | undefined {
  return UNCOMPRESSED[mediaType];
}

/**
 * gzip on every core (util/pgzip.ts: blocks deflated in parallel on the thread pool, the same bytes on every machine).
 * Level 1 (best speed), as go-containerregistry writes layers: a push is bounded by compression, and level 6 buys
 * little in size for much more CPU time (figures: bench/README.md, "Start-up tricks and measured choices").
 */
export function gzip(src: Bytes): Bytes {
  return pgzip(src, { level: 1 });
}

/** The image manifest with some layers replaced (same order, annotations kept); new bytes, new digest. */
export function withLayers(m: FetchedManifest, replaced: Map<Digest, Descriptor>): FetchedManifest {
  const doc = JSON.parse(Buffer.from(m.bytes).toString('utf8')) as { layers: Array<Record<string, unknown>> };
  doc.layers = doc.layers.map((l) => {
    const r = replaced.get(l.digest as Digest);
    return r ? { ...l, mediaType: r.mediaType, digest: r.digest, size: r.size } : l;
  });
  const bytes = encodeManifest(doc);
  return toFetched(bytes, m.desc.mediaType);
}
