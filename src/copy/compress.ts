// Gzips the uncompressed layers of an image on their way to a registry (a classic `docker save`), and rewrites the manifest.
import { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import { type Descriptor, type FetchedManifest, encodeManifest, toFetched } from '../oci/manifest.js';
import { MT } from '../oci/media-types.js';
import type { Bytes } from '../transports/types.js';

const UNCOMPRESSED: Record<string, string> = {
  [MT.ociLayer]: MT.ociLayerGzip,
  'application/vnd.docker.image.rootfs.diff.tar': MT.dockerLayerGzip,
};

/** The gzip media type a layer would get, or undefined when it is not an uncompressed tar. */
export function gzippedType(mediaType: string): string | undefined {
  return UNCOMPRESSED[mediaType];
}

/**
 * gzip in the libuv thread pool, so several layers compress on several cores at once. Level 1 (best speed), as
 * go-containerregistry writes layers: a push is bounded by compression, and level 6 buys little in size for much more
 * CPU time (figures: bench/README.md, "Start-up tricks and measured choices").
 */
export function gzip(src: Bytes): Bytes {
  // Loaded here, not at the top: a copy that compresses nothing (nearly all) never needs zlib.
  const { constants, createGzip } = process.getBuiltinModule('node:zlib');
  return Readable.from(src).pipe(createGzip({ level: constants.Z_BEST_SPEED, memLevel: 9, chunkSize: 1 << 20 }));
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
