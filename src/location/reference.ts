// Image references: the Docker grammar and its normalisation (docker.io, library/, latest; a digest wins).
import { UsageError } from '../errors.js';
import { type Digest, isDigest } from '../oci/digest.js';

export interface ImageRef {
  /** The registry's name as users write it, normalised (`docker.io`). */
  registry: string;
  /** Where the API lives (`registry-1.docker.io` for docker.io). */
  apiHost: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}

export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_API = 'registry-1.docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DOMAIN_RE =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$/;
const IPV6_RE = /^\[[0-9a-fA-F:.]+\](?::[0-9]+)?$/;

/** A tag by the distribution grammar (`[\w][\w.-]{0,127}`): what a server's name must be before it is a path. */
export function isTag(s: string): boolean {
  return TAG_RE.test(s);
}

/** A repository name by the distribution grammar (lowercase path components, at most 255 characters). */
export function isRepositoryName(s: string): boolean {
  return s.length <= 255 && s.split('/').every((p) => PATH_COMPONENT.test(p));
}

function isRegistryPart(part: string): boolean {
  return part.includes('.') || part.includes(':') || part === 'localhost' || part.startsWith('[') || /[A-Z]/.test(part);
}

export function normalizeRegistry(host: string): string {
  const h = host.toLowerCase();
  if (h === 'index.docker.io' || h === 'registry-1.docker.io' || h === 'docker.io' || h === 'registry.hub.docker.com')
    return DOCKER_HUB;
  return h;
}

export function apiHostOf(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/**
 * Parses a reference such as `alpine`, `ghcr.io/o/r:t`, `r@sha256:…`, `docker://…`. Throws UsageError (exit 2) on bad
 * input.
 */
export function parseReference(input: string): ImageRef {
  const text = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  const bad = (why: string): never => {
    throw new UsageError(`invalid reference ${JSON.stringify(input)}: ${why}`);
  };
  if (text === '') bad('empty');
  if (text.length > 4096) bad('too long');
  let rest = text;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) bad(`invalid digest "${d.slice(0, 80)}"`);
    digest = d as Digest;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) bad(`invalid tag "${tag}"`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  if (parts.length > 1 && isRegistryPart(parts[0])) {
    const host = parts.shift()!;
    if (!DOMAIN_RE.test(host) && !IPV6_RE.test(host)) bad(`invalid registry host "${host}"`);
    registry = normalizeRegistry(host);
  }
  if (parts.length === 0 || parts.some((p) => !PATH_COMPONENT.test(p))) {
    bad(/[A-Z]/.test(rest) ? 'repository name must be lowercase' : 'invalid repository name');
  }
  let repository = parts.join('/');
  if (registry === DOCKER_HUB && parts.length === 1) repository = `library/${repository}`;
  // Checked after `library/` is added: the registry limits the name it is sent.
  if (repository.length > 255) bad('repository name longer than 255 characters');
  if (!tag && !digest) tag = 'latest';
  const ref: ImageRef = { registry, apiHost: apiHostOf(registry), repository };
  if (tag) ref.tag = tag;
  if (digest) ref.digest = digest;
  return ref;
}

/** A repository without tag or digest (for `ls`, `catalog`-style commands). A tag or digest is refused. */
export function parseRepository(input: string): ImageRef {
  const ref = parseReference(input);
  const text = input.replace(/^docker:\/\//, '');
  const lastSlash = text.lastIndexOf('/');
  if (ref.digest || text.slice(lastSlash + 1).includes(':')) {
    throw new UsageError(`expected a repository without tag or digest, got ${JSON.stringify(input)}`);
  }
  delete ref.tag;
  return ref;
}

/** The familiar form: `docker.io/library/alpine:3.20`, `host/repo@sha256:…`. */
export function formatReference(ref: ImageRef, opts: { digest?: string } = {}): string {
  const base = `${ref.registry}/${ref.repository}`;
  const digest = opts.digest ?? ref.digest;
  if (digest) return `${base}@${digest}`;
  return ref.tag ? `${base}:${ref.tag}` : base;
}

export function withTag(ref: ImageRef, tag: string): ImageRef {
  if (!TAG_RE.test(tag)) throw new UsageError(`invalid tag ${JSON.stringify(tag)}`);
  return { registry: ref.registry, apiHost: ref.apiHost, repository: ref.repository, tag };
}
