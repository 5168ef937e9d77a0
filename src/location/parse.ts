// Locations: a registry reference or a local path (docker-archive, OCI layout, oci-archive), as SPEC §1 lists them.
import { UsageError } from '../errors.js';
import { type Digest, isDigest } from '../oci/digest.js';
import { type ImageRef, parseReference } from './reference.js';

export type LocalKind = 'oci' | 'oci-archive' | 'docker-archive';

export type Location =
  | { kind: 'registry'; ref: ImageRef }
  | { kind: 'oci' | 'oci-archive'; path: string; tag?: string; digest?: Digest }
  | { kind: 'docker-archive'; path: string; name?: string }
  /** A bare local path whose format is sniffed from content (reading) or the extension (writing). */
  | { kind: 'path'; path: string };

const PREFIXES: LocalKind[] = ['docker-archive', 'oci-archive', 'oci'];

function splitPathAndRef(rest: string): [string, string | undefined] {
  // PATH[:REF] — the last colon after the last slash separates the reference.
  const slash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', slash + 1);
  if (colon < 0) return [rest, undefined];
  return [rest.slice(0, colon), rest.slice(colon + 1)];
}

const SUPPORTED =
  'regctl reads and writes registry images (HOST/REPO:TAG, docker://…), ' +
  'docker-archive:PATH, oci:PATH, oci-archive:PATH and ./paths';

/** Transports of other tools (skopeo's containers/image, Podman) regctl cannot use: what each is, and the way round. */
const FOREIGN: Record<string, [what: string, instead: string]> = {
  'docker-daemon': ['a Docker daemon', '`docker save IMAGE -o image.tar`, then docker-archive:image.tar'],
  'containers-storage': ['Podman/CRI-O storage', '`podman save IMAGE -o image.tar`, then docker-archive:image.tar'],
  dir: ["skopeo's dir:", '`skopeo copy dir:PATH oci:PATH2`, then oci:PATH2'],
  ostree: ['OSTree', '`skopeo copy ostree:… oci:PATH`, then oci:PATH'],
  sif: ['Singularity SIF', '`skopeo copy sif:… oci:PATH`, then oci:PATH'],
  tarball: ["skopeo's tarball:", 'a docker-archive: or oci-archive: instead'],
};

/** A location written for another tool: an error naming what regctl supports; undefined when it is not one. */
function foreignLocation(input: string): UsageError | undefined {
  const url = /^(https?):\/\/([^/]*)(\/.*)?$/i.exec(input);
  if (url) {
    const ref = `${url[2]}${url[3] ?? ''}`;
    const http = url[1].toLowerCase() === 'http';
    const hint = http ? `write ${ref} and add --plain-http to use HTTP` : `write ${ref} (HTTPS is the default)`;
    return new UsageError(`${input}: a location is an image reference, not a URL`, hint);
  }
  const scheme = /^([a-z][a-z-]*):/.exec(input)?.[1];
  if (scheme === undefined || !Object.hasOwn(FOREIGN, scheme)) return undefined;
  // `dir:1.0` is also the Docker Hub image library/dir:1.0: only what is not a valid reference is the other tool's.
  if (!scheme.includes('-')) {
    try {
      parseReference(input);
      return undefined;
    } catch {
      /* not a reference: the other tool's location */
    }
  }
  const [what, instead] = FOREIGN[scheme];
  const message = `${input}: regctl cannot read or write ${what} (${scheme}:) locations`;
  return new UsageError(message, `${SUPPORTED}; use ${instead}`);
}

export function parseLocation(input: string): Location {
  if (input === '') throw new UsageError('empty location');
  const foreign = foreignLocation(input);
  if (foreign) throw foreign;
  for (const kind of PREFIXES) {
    if (!input.startsWith(`${kind}:`)) continue;
    const rest = input.slice(kind.length + 1);
    if (kind === 'docker-archive') {
      // PATH[:NAME:TAG] — the first colon, as skopeo: the name is a reference and may hold '/' and ':'.
      const colon = rest.indexOf(':');
      const path = colon < 0 ? rest : rest.slice(0, colon);
      if (!path) throw new UsageError(`${kind}: needs a path`);
      const loc: Location = { kind, path };
      if (colon >= 0 && rest.slice(colon + 1)) loc.name = rest.slice(colon + 1);
      return loc;
    }
    const [path, ref] = splitPathAndRef(rest);
    if (!path) throw new UsageError(`${kind}: needs a path`);
    const loc: Location = { kind, path };
    if (ref) {
      if (ref.startsWith('sha256:') || ref.startsWith('sha512:')) {
        if (!isDigest(ref)) throw new UsageError(`${kind}:${path}: invalid digest ${JSON.stringify(ref)}`);
        loc.digest = ref;
      } else loc.tag = ref;
    }
    return loc;
  }
  if (input.startsWith('docker://')) return { kind: 'registry', ref: parseReference(input) };
  if (input.startsWith('./') || input.startsWith('../') || input.startsWith('/') || input === '.' || input === '..') {
    return { kind: 'path', path: input };
  }
  return { kind: 'registry', ref: parseReference(input) };
}

export function formatLocation(loc: Location): string {
  switch (loc.kind) {
    case 'registry':
      return (
        `${loc.ref.registry}/${loc.ref.repository}` +
        (loc.ref.tag && !loc.ref.digest ? `:${loc.ref.tag}` : '') +
        (loc.ref.digest ? `@${loc.ref.digest}` : '')
      );
    case 'docker-archive':
      return `docker-archive:${loc.path}${loc.name ? `:${loc.name}` : ''}`;
    case 'path':
      return loc.path;
    default:
      return `${loc.kind}:${loc.path}${loc.tag ? `:${loc.tag}` : loc.digest ? `:${loc.digest}` : ''}`;
  }
}

/**
 * A location pinned to `digest`, as a copy reports what it wrote: `REGISTRY/REPO@DIGEST`, `oci:PATH[:TAG]@DIGEST`;
 * a tag in a registry reference gives way to the digest, as formatLocation shows it.
 */
export function pinnedLocation(loc: Location, digest: Digest): string {
  if (loc.kind === 'registry') return formatLocation({ kind: 'registry', ref: { ...loc.ref, tag: undefined, digest } });
  if (loc.kind === 'oci' || loc.kind === 'oci-archive') {
    return `${formatLocation({ ...loc, digest: undefined })}@${digest}`;
  }
  return `${formatLocation(loc)}@${digest}`;
}

/** File names that say "compressed tar": no format regctl writes is one, so none becomes a directory of that name. */
const COMPRESSED_TAR = /\.(tar\.(gz|gzip|bz2|xz|zst|zstd|lz4|lzma|lz|z|sz)|tgz|tbz2?|txz|tzst|taz|tlz)$/i;

/** Refuses (exit 2) a local output whose name ends as a compressed tar does, whatever format was asked for. */
export function refuseCompressedOutput(loc: Location): void {
  if (loc.kind === 'registry') return;
  const ext = COMPRESSED_TAR.exec(loc.path)?.[0];
  if (!ext) return;
  const plain = loc.path.slice(0, loc.path.length - ext.length);
  throw new UsageError(
    `${loc.path}: regctl writes no compressed tar (the name ends in ${ext})`,
    `write ${plain}.tar (a docker-archive; its layers stay compressed inside) or name a directory for an OCI layout`,
  );
}
