// Opens a Location as a source or a destination; each local kind's module is imported only when used.
import type { AppContext } from '../context.js';
import { UsageError } from '../errors.js';
import type { Location } from '../location/parse.js';
import type { ImageDestination, ImageSource } from './types.js';

export interface OpenDestinationOptions {
  /** A name for archives that record one (docker-archive RepoTags), from the source reference. */
  defaultName?: string;
}

async function localKind(loc: Location & { kind: 'path' }, forWrite: boolean): Promise<'oci' | 'oci-archive' | 'docker-archive'> {
  const sniff = await import('./sniff.js');
  return forWrite ? sniff.kindForWrite(loc.path) : sniff.detectLocalKind(loc.path);
}

export async function openSource(loc: Location, ctx: AppContext): Promise<ImageSource> {
  switch (loc.kind) {
    case 'registry': {
      const { RegistrySource } = await import('./registry.js');
      return new RegistrySource(ctx.client('src'), loc.ref);
    }
    case 'oci':
      return (await import('./oci-layout.js')).openOciLayoutSource(loc);
    case 'oci-archive':
      return (await import('./oci-archive.js')).openOciArchiveSource(loc);
    case 'docker-archive':
      return (await import('./docker-archive.js')).openDockerArchiveSource(loc);
    case 'path':
      return openSource({ kind: await localKind(loc, false), path: loc.path } as Location, ctx);
    default:
      throw new UsageError('unsupported source location');
  }
}

export async function openDestination(loc: Location, ctx: AppContext, opts: OpenDestinationOptions = {}): Promise<ImageDestination> {
  switch (loc.kind) {
    case 'registry': {
      const { RegistryDestination } = await import('./registry.js');
      const hostConfig = ctx.config().hosts[loc.ref.registry];
      return new RegistryDestination(ctx.client('dst'), loc.ref, { retries: ctx.globals.retries, hostConfig });
    }
    case 'oci':
      return (await import('./oci-layout.js')).openOciLayoutDestination(loc);
    case 'oci-archive':
      return (await import('./oci-archive.js')).openOciArchiveDestination(loc);
    case 'docker-archive':
      return (await import('./docker-archive.js')).openDockerArchiveDestination(loc, { defaultName: opts.defaultName });
    case 'path':
      return openDestination({ kind: await localKind(loc, true), path: loc.path } as Location, ctx, opts);
    default:
      throw new UsageError('unsupported destination location');
  }
}
