// Image config JSON (OCI image-spec config.md; docker's v1 image JSON): the shape regctl writes, and configs read from
// outside, whose fields are checked before use.
import type { Platform } from './platform.js';

export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: Record<string, unknown>;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  Shell?: string[];
  OnBuild?: string[] | null;
  [key: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
  [key: string]: unknown;
}

export interface ImageConfigDoc {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  config: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
  [key: string]: unknown;
}

/** A config as read from outside: a JSON object whose fields are not yet checked. */
export interface ConfigJson {
  created?: unknown;
  os?: unknown;
  architecture?: unknown;
  variant?: unknown;
  rootfs?: { diff_ids?: unknown } | null;
  [key: string]: unknown;
}

/** The config JSON in `bytes`; undefined when it is not a JSON object (an artifact's config). */
export function parseConfigJson(bytes: Uint8Array): ConfigJson | undefined {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    return doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as ConfigJson) : undefined;
  } catch {
    return undefined;
  }
}

/** The platform a config we trust describes. */
export function configPlatform(doc: ImageConfigDoc): Platform {
  const p: Platform = { os: doc.os, architecture: doc.architecture };
  if (doc.variant) p.variant = doc.variant;
  return p;
}
