// Opens a Location as a source or a destination; each local kind's module is imported only when used.
import type { AppContext } from '../context.js';
import type { CreateRepoSettings } from '../credentials/ecr.js';
import { RegctlError, UsageError } from '../errors.js';
import type { Location } from '../location/parse.js';
import type { ImageDestination, ImageSource } from './types.js';

export interface OpenDestinationOptions {
  /** A name for archives that record one (docker-archive RepoTags), from the source reference. */
  defaultName?: string;
  /** ECR settings for repositories created on push (flags over the hosts config). */
  createRepo?: CreateRepoSettings;
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
      const { ecrTarget } = await import('../credentials/ecr.js');
      const ecr = ecrTarget(loc.ref.registry, hostConfig);
      return new RegistryDestination(ctx.client('dst'), loc.ref, {
        retries: ctx.globals.retries,
        hostConfig,
        onMissingRepository: ecr
          ? async (repo, signal) => {
              if (!ctx.globals.createRepo) {
                throw new RegctlError('NAME_UNKNOWN', `${repo.registry}/${repo.repository}: the ECR repository does not exist`, {
                  hint: 'drop --no-create-repo to create it on push, create it with `regctl repo create`, or set up an ECR create-on-push repository creation template',
                });
              }
              const { createEcrRepository } = await import('../credentials/ecr.js');
              const made = await createEcrRepository(ecr, repo.repository, { ...hostConfig?.createRepo, ...opts.createRepo }, signal);
              ctx.log.info(`${made === 'created' ? 'created' : 'found'} ECR repository ${repo.repository}`);
              return true;
            }
          : undefined,
      });
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
