// Opens a Location as a source or a destination; each local kind's module is imported only when used.
import type { AppContext } from '../context.js';
import type { CreateRepoSettings, EcrTarget } from '../credentials/ecr.js';
import { RegctlError, UsageError } from '../errors.js';
import { type Location, refuseCompressedOutput } from '../location/parse.js';
import type { Repo } from '../registry-client/client.js';
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

/**
 * ECR create-on-push: NAME_UNKNOWN → CreateRepository, once per repository however many uploads hit it at once (a
 * repository another process created meanwhile is fine). `--no-create-repo` makes it an error naming the ways out.
 */
function ecrCreateOnPush(ctx: AppContext, ecr: EcrTarget, settings: CreateRepoSettings): (repo: Repo, signal: AbortSignal) => Promise<boolean> {
  const made = new Map<string, Promise<boolean>>();
  return (repo, signal) => {
    if (!ctx.globals.createRepo) {
      return Promise.reject(
        new RegctlError('NAME_UNKNOWN', `${repo.registry}/${repo.repository}: the ECR repository does not exist, and --no-create-repo forbids creating it`, {
          hint: 'drop --no-create-repo to create it on push, create it first (`aws ecr create-repository`), or add an ECR repository creation template applied for CREATE_ON_PUSH so ECR creates it',
        }),
      );
    }
    let p = made.get(repo.repository);
    if (!p) {
      p = (async () => {
        const { createEcrRepository } = await import('../credentials/ecr.js');
        const outcome = await createEcrRepository(ecr, repo.repository, settings, signal);
        ctx.log.info(outcome === 'created' ? `created ECR repository ${repo.repository}` : `ECR repository ${repo.repository} was created meanwhile`);
        return true;
      })();
      made.set(repo.repository, p);
      p.catch(() => made.delete(repo.repository));
    }
    return p;
  };
}

/** DescribeRepositories for one repository of an ECR registry. */
const ecrExists = (ecr: EcrTarget) => async (repo: Repo, signal: AbortSignal) =>
  (await import('../credentials/ecr.js')).ecrRepositoryExists(ecr, repo.repository, signal);

export async function openDestination(loc: Location, ctx: AppContext, opts: OpenDestinationOptions = {}): Promise<ImageDestination> {
  refuseCompressedOutput(loc);
  switch (loc.kind) {
    case 'registry': {
      const { RegistryDestination } = await import('./registry.js');
      const hostConfig = ctx.config().hosts[loc.ref.registry];
      const { ecrTarget } = await import('../credentials/ecr.js');
      const ecr = ecrTarget(loc.ref.registry, hostConfig);
      return new RegistryDestination(ctx.client('dst'), loc.ref, {
        retries: ctx.globals.retries,
        hostConfig,
        onMissingRepository: ecr ? ecrCreateOnPush(ctx, ecr, { ...hostConfig?.createRepo, ...opts.createRepo }) : undefined,
        repositoryExists: ecr ? ecrExists(ecr) : undefined,
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
