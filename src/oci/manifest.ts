// Descriptors and manifests: parse fetched bytes into plain values, validating what becomes a URL or a path.
import { RegctlError } from '../errors.js';
import { type Digest, digestOf, isDigest } from './digest.js';
import { MT, isImageType, isIndexType, isSchema1Type } from './media-types.js';
import type { Platform } from './platform.js';
import { MAX_JSON_BYTES } from './limits.js';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
  artifactType?: string;
}

export interface ImageManifest {
  kind: 'image';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface IndexManifest {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type Manifest = ImageManifest | IndexManifest;

/** A manifest as fetched: the exact bytes, their descriptor (digest computed from the bytes) and the parsed value. */
export interface FetchedManifest {
  bytes: Uint8Array;
  desc: Descriptor;
  manifest: Manifest;
}

export class ManifestError extends RegctlError {
  constructor(message: string, hint?: string) {
    super('MANIFEST_INVALID', message, { hint });
  }
}

function parseDescriptor(raw: unknown, where: string): Descriptor {
  if (typeof raw !== 'object' || raw === null) throw new ManifestError(`${where}: not a descriptor`);
  const d = raw as Record<string, unknown>;
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) {
    throw new ManifestError(`${where}: invalid digest ${JSON.stringify(String(d.digest).slice(0, 100))}`);
  }
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
    throw new ManifestError(`${where}: invalid size`);
  if (typeof d.mediaType !== 'string' || d.mediaType === '') throw new ManifestError(`${where}: missing mediaType`);
  const desc: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.platform && typeof d.platform === 'object') desc.platform = d.platform as Platform;
  if (d.annotations && typeof d.annotations === 'object') desc.annotations = d.annotations as Record<string, string>;
  if (Array.isArray(d.urls)) desc.urls = d.urls.filter((u): u is string => typeof u === 'string');
  if (typeof d.artifactType === 'string') desc.artifactType = d.artifactType;
  return desc;
}

/**
 * Parses manifest bytes. `contentType` is what the server or the referring descriptor said; the document's own
 * `mediaType` field wins when present. Docker schema 1 is refused.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): Manifest {
  if (bytes.byteLength > MAX_JSON_BYTES) {
    throw new ManifestError(`manifest of ${bytes.byteLength} bytes is over the 4 MiB limit`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as typeof doc;
  } catch {
    throw new ManifestError('manifest is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new ManifestError('manifest is not a JSON object');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const ct = contentType?.split(';')[0].trim();
  if (
    doc.schemaVersion === 1 ||
    isSchema1Type(declared) ||
    (isSchema1Type(ct) && !declared && !doc.manifests && !doc.layers)
  ) {
    throw new ManifestError(
      'Docker schema 1 manifests are not supported',
      'schema 1 is deprecated; re-push the image with a current client',
    );
  }
  let mediaType = declared ?? (isImageType(ct) || isIndexType(ct) ? ct : undefined);
  if (!mediaType) mediaType = Array.isArray(doc.manifests) ? MT.ociIndex : MT.ociManifest;
  const extra: { subject?: Descriptor; annotations?: Record<string, string> } = {};
  if (doc.subject) extra.subject = parseDescriptor(doc.subject, 'subject');
  if (doc.annotations && typeof doc.annotations === 'object')
    extra.annotations = doc.annotations as Record<string, string>;
  if (isIndexType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new ManifestError('index has no manifests array');
    return {
      kind: 'index',
      mediaType,
      manifests: doc.manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`)),
      ...extra,
    };
  }
  if (isImageType(mediaType) || mediaType === undefined) {
    if (!Array.isArray(doc.layers)) throw new ManifestError('manifest has no layers array');
    return {
      kind: 'image',
      mediaType,
      config: parseDescriptor(doc.config, 'config'),
      layers: doc.layers.map((l, i) => parseDescriptor(l, `layers[${i}]`)),
      ...extra,
    };
  }
  throw new ManifestError(`unsupported manifest media type ${mediaType}`);
}

/** Builds a FetchedManifest from bytes, checking them against an expected digest when one is known. */
export function toFetched(bytes: Uint8Array, contentType: string | undefined, expected?: Digest): FetchedManifest {
  // Digest first: corrupted bytes are a mismatch, not a parse error, and unverified bytes are never parsed.
  const digest = expected ? digestOf(bytes, expected.startsWith('sha512:') ? 'sha512' : 'sha256') : digestOf(bytes);
  if (expected && digest !== expected) {
    throw new RegctlError('DIGEST_MISMATCH', `manifest content does not match its digest ${expected} (got ${digest})`);
  }
  const manifest = parseManifest(bytes, contentType);
  return { bytes, manifest, desc: { mediaType: manifest.mediaType, digest, size: bytes.byteLength } };
}

/** Serialises a manifest we create (never one we fetched: those keep their bytes). */
export function encodeManifest(doc: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(doc, null, 2));
}

/** Every blob an image manifest names: config first, then layers. */
export function blobsOf(m: ImageManifest): Descriptor[] {
  return [m.config, ...m.layers];
}
