// Opens a Location as a source or a destination; each local kind's module is imported only when used.
import type { HostConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { type Location, refuseCompressedOutput } from '../location/parse.js';
import type { RegistryClient } from '../registry-client/client.js';
import type { RegistryDestinationOptions } from './registry.js';
import type { ImageDestination, ImageSource } from './types.js';

/** What opening a source needs from above: the registry client of the source side, made only when used. */
export interface SourceDeps {
  client(): RegistryClient;
}

/** What a registry destination needs beyond its client; the caller decides ECR's part (src/ecr). */
export type RepositoryHooks = Pick<RegistryDestinationOptions, 'ecr' | 'onMissingRepository' | 'repositoryExists'>;

export interface DestinationDeps {
  /** The registry client of the destination side, made only when used. */
  client(): RegistryClient;
  retries: number;
  /** How a registry's repositories behave on push (ECR: create-on-push), from its name and hosts config. */
  repositoryHooks?(registry: string, hostConfig: HostConfig | undefined): Promise<RepositoryHooks>;
  hostConfig(registry: string): HostConfig | undefined;
}

export interface OpenDestinationOptions {
  /** A name for archives that record one (docker-archive RepoTags), from the source reference. */
  defaultName?: string;
}

async function localKind(
  loc: Location & { kind: 'path' },
  forWrite: boolean,
): Promise<'oci' | 'oci-archive' | 'docker-archive'> {
  const sniff = await import('./sniff.js');
  return forWrite ? sniff.kindForWrite(loc.path) : sniff.detectLocalKind(loc.path);
}

export async function openSource(loc: Location, deps: SourceDeps): Promise<ImageSource> {
  switch (loc.kind) {
    case 'registry': {
      const { RegistrySource } = await import('./registry.js');
      return new RegistrySource(deps.client(), loc.ref);
    }
    case 'oci':
      return (await import('./oci-layout.js')).openOciLayoutSource(loc);
    case 'oci-archive':
      return (await import('./oci-archive.js')).openOciArchiveSource(loc);
    case 'docker-archive':
      return (await import('./docker-archive.js')).openDockerArchiveSource(loc);
    case 'path':
      return openSource({ kind: await localKind(loc, false), path: loc.path } as Location, deps);
    default:
      throw new UsageError('unsupported source location');
  }
}

export async function openDestination(
  loc: Location,
  deps: DestinationDeps,
  opts: OpenDestinationOptions = {},
): Promise<ImageDestination> {
  refuseCompressedOutput(loc);
  switch (loc.kind) {
    case 'registry': {
      const { RegistryDestination } = await import('./registry.js');
      const hooks = await deps.repositoryHooks?.(loc.ref.registry, deps.hostConfig(loc.ref.registry));
      return new RegistryDestination(deps.client(), loc.ref, { retries: deps.retries, ...hooks });
    }
    case 'oci':
      return (await import('./oci-layout.js')).openOciLayoutDestination(loc);
    case 'oci-archive':
      return (await import('./oci-archive.js')).openOciArchiveDestination(loc);
    case 'docker-archive':
      return (await import('./docker-archive.js')).openDockerArchiveDestination(loc, { defaultName: opts.defaultName });
    case 'path':
      return openDestination({ kind: await localKind(loc, true), path: loc.path } as Location, deps, opts);
    default:
      throw new UsageError('unsupported destination location');
  }
}
