// Signatures, SBOMs and attestations pushed the way the tools push them: cosign's `.sig` tag (simple-signing payload),
// OCI 1.1 artifacts with `subject` and `artifactType` (oras attach), the referrers tag schema where there is no API.
import { createHash } from 'node:crypto';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const SPDX = 'application/spdx+json';
export const IN_TOTO = 'application/vnd.in-toto+json';
export const NOTARY_SIG = 'application/vnd.cncf.notary.signature';
/** The empty descriptor of image-spec 1.1 (manifest.md, "Guidance for an Empty Descriptor"). */
export const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(Buffer.from('{}')), size: 2 };

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export async function pushBlob(base: string, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`blob upload start: ${start.status}`);
  const loc = new URL(start.headers.get('location')!, base);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob upload: ${put.status} ${await put.text()}`);
  return digest;
}

export async function pushManifest(
  base: string,
  repo: string,
  ref: string,
  bytes: Buffer,
  mediaType = OCI_MANIFEST,
): Promise<{ digest: string; subjectHeader: string | null }> {
  const headers = { 'content-type': mediaType };
  const res = await fetch(`${base}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: bytes, headers });
  if (res.status !== 201) throw new Error(`manifest push ${repo}:${ref}: ${res.status} ${await res.text()}`);
  return { digest: sha256(bytes), subjectHeader: res.headers.get('oci-subject') };
}

export async function getManifest(base: string, repo: string, ref: string) {
  const headers = { accept: `${OCI_INDEX}, ${OCI_MANIFEST}` };
  const res = await fetch(`${base}/v2/${repo}/manifests/${ref}`, { headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, bytes, digest: sha256(bytes) };
}

/** `sha256-<hex>`: spec.md, Referrers Tag Schema. */
export const fallbackTag = (digest: string) => digest.replace(':', '-');

/**
 * Adds a referrer to the subject's fallback index as a client must where the registry has no API (spec.md,
 * "Pushing Manifests with Subject": pull the tag, start empty on 404, append the descriptor, push it back).
 */
export async function addToFallback(base: string, repo: string, subject: string, entry: Desc): Promise<void> {
  const got = await getManifest(base, repo, fallbackTag(subject));
  const empty = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
  const index = got.status === 200 ? JSON.parse(got.bytes.toString('utf8')) : empty;
  if (!index.manifests.some((e: Desc) => e.digest === entry.digest)) index.manifests.push(entry);
  await pushManifest(base, repo, fallbackTag(subject), Buffer.from(JSON.stringify(index)), OCI_INDEX);
}

/**
 * An OCI 1.1 artifact (what `oras attach --artifact-type T` pushes): the empty config, one layer, `subject`,
 * `artifactType`, a creation annotation. `fallback`: also recorded in the subject's referrers tag.
 */
export async function attachArtifact(
  base: string,
  repo: string,
  subject: Desc,
  o: { artifactType: string; content: string; created?: string; fallback: boolean },
): Promise<Desc> {
  await pushBlob(base, repo, Buffer.from('{}'));
  const layer = Buffer.from(o.content);
  const layerDigest = await pushBlob(base, repo, layer);
  const annotations = { 'org.opencontainers.image.created': o.created ?? '2026-01-02T03:04:05Z' };
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: o.artifactType,
    config: EMPTY,
    layers: [{ mediaType: o.artifactType, digest: layerDigest, size: layer.length }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations,
  };
  const bytes = Buffer.from(JSON.stringify(doc));
  const { digest } = await pushManifest(base, repo, sha256(bytes), bytes);
  const desc: Desc = { mediaType: OCI_MANIFEST, digest, size: bytes.length, artifactType: o.artifactType, annotations };
  if (o.fallback) await addToFallback(base, repo, subject.digest, desc);
  return desc;
}

/**
 * A cosign signature as `cosign sign` (tag mode) pushes it: tag `sha256-<hex>.sig`, an OCI image config, one layer
 * of the simple-signing payload (`critical.image.docker-manifest-digest`) with the signature in an annotation.
 */
export async function cosignSign(base: string, repo: string, subject: string, identity: string): Promise<Desc> {
  const payload = Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': identity },
        image: { 'docker-manifest-digest': subject },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
  const payloadDigest = await pushBlob(base, repo, payload);
  const rootfs = { type: 'layers', diff_ids: [sha256(payload)] };
  const cfg = { architecture: '', created: '0001-01-01T00:00:00Z', os: '', rootfs, config: {} };
  const config = Buffer.from(JSON.stringify(cfg));
  const configDigest = await pushBlob(base, repo, config);
  const doc = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: configDigest },
    layers: [
      {
        mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
        size: payload.length,
        digest: payloadDigest,
        annotations: { 'dev.cosignproject.cosign/signature': Buffer.from(`sig-of-${subject}`).toString('base64') },
      },
    ],
  };
  const bytes = Buffer.from(JSON.stringify(doc));
  const { digest } = await pushManifest(base, repo, `${fallbackTag(subject)}.sig`, bytes);
  return { mediaType: OCI_MANIFEST, digest, size: bytes.length };
}

export async function referrersIndex(base: string, repo: string, subject: string): Promise<Desc[]> {
  const res = await fetch(`${base}/v2/${repo}/referrers/${subject}`);
  if (res.status !== 200) throw new Error(`referrers ${repo}@${subject}: ${res.status}`);
  return ((await res.json()) as { manifests: Desc[] }).manifests;
}

export async function fallbackIndex(base: string, repo: string, subject: string): Promise<Desc[] | undefined> {
  const got = await getManifest(base, repo, fallbackTag(subject));
  return got.status === 200 ? JSON.parse(got.bytes.toString('utf8')).manifests : undefined;
}
