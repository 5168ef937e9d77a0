// regctl mutate: a new config (labels, env, entrypoint, cmd, workdir, user) and manifest over the same layers; on an
// index every image child gets one, and a new index names them.
import { RegctlError } from '../errors.js';
import { type Digest, digestOf } from '../oci/digest.js';
import { type Descriptor, type FetchedManifest, encodeManifest, toFetched } from '../oci/manifest.js';
import { isIndexType } from '../oci/media-types.js';
import { isAttestationEntry } from '../oci/platform.js';
import type { ImageSource } from '../transports/types.js';
import { readBlobBytes } from './base.js';
import type { ImageConfigDoc } from '../oci/config.js';
import { setEnv } from './config.js';
import type { BlobOrigin, MadeImage } from './source.js';

export interface MutateChanges {
  labels: Map<string, string>;
  env: Map<string, string>;
  entrypoint?: string[];
  cmd?: string[];
  workdir?: string;
  user?: string;
  annotations: Map<string, string>;
}

function withAnnotations(doc: Record<string, unknown>, add: Map<string, string>): void {
  if (add.size)
    doc.annotations = {
      ...((doc.annotations as Record<string, string> | undefined) ?? {}),
      ...Object.fromEntries(add),
    };
}

function refetched(doc: Record<string, unknown>, mediaType: string): FetchedManifest {
  const bytes = encodeManifest(doc);
  return toFetched(bytes, mediaType, digestOf(bytes));
}

function changeConfig(raw: Uint8Array, c: MutateChanges): Uint8Array {
  const doc = JSON.parse(Buffer.from(raw).toString('utf8')) as ImageConfigDoc;
  const cfg = { ...(doc.config ?? {}) };
  if (c.labels.size) cfg.Labels = { ...(cfg.Labels ?? {}), ...Object.fromEntries(c.labels) };
  for (const [k, v] of c.env) setEnv(cfg, k, v);
  if (c.entrypoint) cfg.Entrypoint = c.entrypoint;
  if (c.cmd) cfg.Cmd = c.cmd;
  if (c.workdir !== undefined) cfg.WorkingDir = c.workdir;
  if (c.user !== undefined) cfg.User = c.user;
  doc.config = cfg;
  return new TextEncoder().encode(JSON.stringify(doc));
}

async function mutateOne(
  src: ImageSource,
  m: FetchedManifest,
  c: MutateChanges,
  blobs: Map<Digest, BlobOrigin>,
  annotate: boolean,
  signal: AbortSignal,
): Promise<FetchedManifest> {
  if (m.manifest.kind !== 'image')
    throw new RegctlError('UNSUPPORTED', `${m.desc.digest}: nested indexes are not supported by mutate`);
  const config = changeConfig(await readBlobBytes(src, m.manifest.config, signal), c);
  const configDesc: Descriptor = {
    mediaType: m.manifest.config.mediaType,
    digest: digestOf(config),
    size: config.byteLength,
  };
  blobs.set(configDesc.digest, { bytes: config });
  for (const l of m.manifest.layers) blobs.set(l.digest, { source: src });
  // Every other field of the manifest (layer annotations, urls, subject) is kept as it was.
  const doc = JSON.parse(Buffer.from(m.bytes).toString('utf8')) as Record<string, unknown>;
  doc.config = {
    ...(doc.config as object),
    mediaType: configDesc.mediaType,
    digest: configDesc.digest,
    size: configDesc.size,
  };
  if (annotate) withAnnotations(doc, c.annotations);
  return refetched(doc, m.desc.mediaType);
}

export async function mutateImage(
  src: ImageSource,
  c: MutateChanges,
  signal: AbortSignal,
  warn: (m: string) => void,
): Promise<MadeImage> {
  const desc = await src.resolve(signal);
  if (!desc) throw new RegctlError('NOT_FOUND', 'image not found');
  const root = await src.getManifest(desc.digest, signal);
  const blobs = new Map<Digest, BlobOrigin>();
  const image = (r: FetchedManifest, children: FetchedManifest[]): MadeImage => ({
    root: r,
    children,
    blobs,
    baseRepo: src.registryRepo,
    baseDigests: new Set([...blobs.entries()].filter(([, o]) => 'source' in o).map(([d]) => d)),
  });
  if (root.manifest.kind === 'image') return image(await mutateOne(src, root, c, blobs, true, signal), []);
  if (!isIndexType(root.desc.mediaType))
    throw new RegctlError('UNSUPPORTED', `unsupported manifest type ${root.desc.mediaType}`);
  const children: FetchedManifest[] = [];
  const entries: Array<Record<string, unknown>> = [];
  const doc = JSON.parse(Buffer.from(root.bytes).toString('utf8')) as Record<string, unknown> & {
    manifests: Array<Record<string, unknown>>;
  };
  let dropped = 0;
  for (const [i, d] of root.manifest.manifests.entries()) {
    if (isAttestationEntry(d)) {
      dropped++;
      continue;
    }
    const child = await src.getManifest(d.digest, signal);
    const made = await mutateOne(src, child, c, blobs, false, signal);
    children.push(made);
    entries.push({
      ...doc.manifests[i],
      mediaType: made.desc.mediaType,
      digest: made.desc.digest,
      size: made.desc.size,
    });
  }
  if (dropped)
    warn(`dropped ${dropped} attestation manifest${dropped === 1 ? '' : 's'}: they describe the images as they were`);
  doc.manifests = entries;
  withAnnotations(doc, c.annotations);
  return image(refetched(doc, root.desc.mediaType), children);
}
