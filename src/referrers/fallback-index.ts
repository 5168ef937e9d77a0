// The referrers tag schema (OCI distribution 1.1): the `sha256-<hex>` tag's index of referrers, and cosign's tags.
import type { Digest } from '../oci/digest.js';
import { type Descriptor, type FetchedManifest, encodeManifest, toFetched } from '../oci/manifest.js';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/**
 * "the Truncated Algorithm, a `-` character, and the Truncated Encoded section, with any characters not allowed by
 * `<reference>` tags replaced with `-`" (algorithm ≤ 32 characters, encoded ≤ 64): spec.md, Referrers Tag Schema.
 */
export function fallbackTag(digest: Digest): string {
  const [alg, enc] = digest.split(':') as [string, string];
  return `${alg.slice(0, 32)}-${enc.slice(0, 64)}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

/** cosign's tags beside an image (`sha256-<hex>.sig`, `.att`, `.sbom`), what each holds. */
export const COSIGN_SUFFIXES: Record<string, string> = {
  sig: 'application/vnd.dev.cosign.simplesigning.v1+json',
  att: 'application/vnd.dsse.envelope.v1+json',
  sbom: 'application/vnd.dev.cosign.sbom',
};

/** A tag that is an attachment of an image, not an image (a fallback index or a cosign tag). */
export const REFERRER_TAG = /^sha(256|512)-[0-9a-f]{64}(\.(sig|att|sbom))?$/;

/** What a referrer says it is, as the referrers API lists it (spec.md, Listing Referrers). */
export function referrerDescriptor(m: FetchedManifest): Descriptor {
  let doc: { artifactType?: unknown; annotations?: unknown; config?: { mediaType?: unknown } } = {};
  try {
    doc = JSON.parse(Buffer.from(m.bytes).toString('utf8')) as typeof doc;
  } catch {
    /* parsed before: cannot happen */
  }
  const d: Descriptor = { mediaType: m.desc.mediaType, digest: m.desc.digest, size: m.desc.size };
  // "If the artifactType is empty or missing in the image manifest, the value of artifactType MUST be set to the
  // config descriptor mediaType value. If the artifactType is empty or missing in an index, [it] MUST be omitted."
  if (typeof doc.artifactType === 'string' && doc.artifactType) d.artifactType = doc.artifactType;
  else if (m.manifest.kind === 'image') d.artifactType = m.manifest.config.mediaType;
  if (doc.annotations && typeof doc.annotations === 'object') d.annotations = doc.annotations as Record<string, string>;
  return d;
}

/**
 * The fallback index with `add` merged in: every entry already there is kept as it was (another tool's included),
 * fields we do not know too; an entry whose digest is there already is not added twice. undefined: nothing new.
 */
export function mergeFallback(existing: FetchedManifest | undefined, add: Descriptor[]): FetchedManifest | undefined {
  let doc: Record<string, unknown> = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
  if (existing) doc = JSON.parse(Buffer.from(existing.bytes).toString('utf8')) as Record<string, unknown>;
  const manifests = Array.isArray(doc.manifests) ? [...(doc.manifests as Array<Record<string, unknown>>)] : [];
  const have = new Set(manifests.map((e) => e?.digest));
  const fresh = add.filter((d) => !have.has(d.digest) && have.add(d.digest));
  if (fresh.length === 0) return undefined;
  for (const d of fresh) manifests.push(stripped(d));
  return toFetched(encodeManifest({ ...doc, manifests }), OCI_INDEX);
}

function stripped(d: Descriptor): Record<string, unknown> {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.artifactType ? { artifactType: d.artifactType } : {}),
    ...(d.annotations ? { annotations: d.annotations } : {}),
  };
}
