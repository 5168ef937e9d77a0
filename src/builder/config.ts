// Image configs and manifests we create: the config JSON (env, labels, history…), image manifests and indexes.
import { digestOf } from '../oci/digest.js';
import { type Descriptor, type FetchedManifest, encodeManifest, toFetched } from '../oci/manifest.js';
import { MT } from '../oci/media-types.js';
import type { Platform } from '../oci/platform.js';
import type { ContainerConfig, ImageConfigDoc } from '../oci/config.js';

export type Flavor = 'oci' | 'docker';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const mediaTypes = (flavor: Flavor) =>
  flavor === 'oci'
    ? { manifest: MT.ociManifest, index: MT.ociIndex, config: MT.ociConfig, layer: MT.ociLayerGzip }
    : { manifest: MT.dockerManifest, index: MT.dockerList, config: MT.dockerConfig, layer: MT.dockerLayerGzip };

/** A config for `FROM scratch`. */
export function scratchConfig(p: Platform): ImageConfigDoc {
  const doc: ImageConfigDoc = {
    architecture: p.architecture,
    os: p.os,
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
  if (p.variant) doc.variant = p.variant;
  return doc;
}

/** A base image's config, ready to extend: what described the base's own build container is dropped. */
export function configFromBase(raw: Uint8Array): ImageConfigDoc {
  const doc = JSON.parse(Buffer.from(raw).toString('utf8')) as ImageConfigDoc;
  for (const k of ['container', 'container_config', 'docker_version', 'id', 'parent']) delete doc[k];
  doc.config = { ...(doc.config ?? {}) };
  doc.rootfs = { type: 'layers', diff_ids: [...(doc.rootfs?.diff_ids ?? [])] };
  doc.history = [...(doc.history ?? [])];
  return doc;
}

export function getEnv(c: ContainerConfig): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of c.Env ?? []) {
    const i = e.indexOf('=');
    if (i < 0) m.set(e, '');
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

/** Sets (or replaces in place) one variable, as Docker orders Env. */
export function setEnv(c: ContainerConfig, key: string, value: string): void {
  const env = [...(c.Env ?? [])];
  const i = env.findIndex((e) => e === key || e.startsWith(`${key}=`));
  if (i >= 0) env[i] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
  c.Env = env;
}

/** Serialises a config; its digest and size make the descriptor. */
export function encodeConfig(doc: ImageConfigDoc, flavor: Flavor): { bytes: Uint8Array; desc: Descriptor } {
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  return { bytes, desc: { mediaType: mediaTypes(flavor).config, digest: digestOf(bytes), size: bytes.byteLength } };
}

export function makeManifest(
  flavor: Flavor,
  config: Descriptor,
  layers: Descriptor[],
  annotations?: Record<string, string>,
): FetchedManifest {
  const mt = mediaTypes(flavor).manifest;
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: mt,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.size,
      ...(l.annotations ? { annotations: l.annotations } : {}),
    })),
  };
  if (annotations && Object.keys(annotations).length) doc.annotations = annotations;
  const bytes = encodeManifest(doc);
  return toFetched(bytes, mt, digestOf(bytes));
}

export function makeIndex(
  flavor: Flavor,
  children: Array<{ m: FetchedManifest; platform?: Platform; annotations?: Record<string, string> }>,
  annotations?: Record<string, string>,
): FetchedManifest {
  const mt = mediaTypes(flavor).index;
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: mt,
    manifests: children.map((c) => ({
      mediaType: c.m.desc.mediaType,
      digest: c.m.desc.digest,
      size: c.m.desc.size,
      ...(c.platform ? { platform: platformOf(c.platform) } : {}),
      ...(c.annotations ? { annotations: c.annotations } : {}),
    })),
  };
  if (annotations && Object.keys(annotations).length) doc.annotations = annotations;
  const bytes = encodeManifest(doc);
  return toFetched(bytes, mt, digestOf(bytes));
}

function platformOf(p: Platform): Platform {
  const out: Platform = { architecture: p.architecture, os: p.os };
  if (p['os.version']) out['os.version'] = p['os.version'];
  if (p.variant) out.variant = p.variant;
  return out;
}
