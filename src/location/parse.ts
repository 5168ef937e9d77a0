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

export function parseLocation(input: string): Location {
  if (input === '') throw new UsageError('empty location');
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
      return `${loc.ref.registry}/${loc.ref.repository}${loc.ref.tag && !loc.ref.digest ? `:${loc.ref.tag}` : ''}${loc.ref.digest ? `@${loc.ref.digest}` : ''}`;
    case 'docker-archive':
      return `docker-archive:${loc.path}${loc.name ? `:${loc.name}` : ''}`;
    case 'path':
      return loc.path;
    default:
      return `${loc.kind}:${loc.path}${loc.tag ? `:${loc.tag}` : loc.digest ? `:${loc.digest}` : ''}`;
  }
}
