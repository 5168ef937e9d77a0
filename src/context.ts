// AppContext: what a command or feature may use — io, the interrupt signal, global options, config, registry clients
// built lazily (src/app-context.ts wires them) — and the narrower dependencies it hands down to transports.
import type { Writable } from 'node:stream';
import type { RegctlConfig } from './config.js';
import type { CreateRepoSettings } from './ecr/api.js';
import type { RegistryClient } from './registry-client/client.js';
import type { Hosts } from './registry-client/hosts.js';
import type { RateLimit } from './registry-client/ratelimit.js';
import type { EcrTarget } from './ecr/host.js';
import type { DestinationDeps, SourceDeps } from './transports/open.js';
import type { Logger } from './util/log.js';

export interface GlobalOptions {
  /** Blob transfers at once. */
  jobs: number;
  /**
   * Blob transfers at once while the blobs are small (LIGHT_TASK): `jobs` when the user chose it, else more
   * (DEFAULT_LIGHT_JOBS), since a small blob costs round trips more than bandwidth.
   */
  lightJobs: number;
  creds?: string;
  srcCreds?: string;
  destCreds?: string;
  plainHttp: boolean;
  insecure: boolean;
  retries: number;
  timeout?: number;
  json: boolean;
  quiet: boolean;
  debug: boolean;
  createRepo: boolean;
}

export interface IO {
  stdout: Writable;
  stderr: Writable;
  /** stderr is a terminal: live progress. */
  isTTY: boolean;
  color: boolean;
}

export type Role = 'src' | 'dst' | 'any';

export interface AppContext {
  io: IO;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  globals: GlobalOptions;
  log: Logger;
  config(): RegctlConfig;
  hosts(): Hosts;
  /** A registry client whose credentials follow the role's flags (--src-creds / --dest-creds). */
  client(role: Role): RegistryClient;
  /** What a registry last said of its rate limit (ratelimit-* headers), if it said anything. */
  rateLimit(registry: string): RateLimit | undefined;
  close(): Promise<void>;
}

/** A source's dependencies: the source side's client (--src-creds). */
export const sourceDeps = (ctx: AppContext): SourceDeps => ({ client: () => ctx.client('src') });

/**
 * A destination's dependencies: the destination side's client (--dest-creds), retries, and for ECR registries
 * create-on-push (`--no-create-repo`, the create flags over the hosts config's createRepo) from src/ecr.
 */
export function destinationDeps(ctx: AppContext, createRepo?: CreateRepoSettings): DestinationDeps {
  return {
    client: () => ctx.client('dst'),
    retries: ctx.globals.retries,
    hostConfig: (registry) => ctx.config().hosts[registry],
    async repositoryHooks(registry, hostConfig) {
      const { ecrTarget } = await import('./ecr/host.js');
      const ecr = ecrTarget(registry, hostConfig);
      if (!ecr) return {};
      const { ecrCreateOnPush, ecrRepositoryExists } = await import('./ecr/create-on-push.js');
      const settings = { ...hostConfig?.createRepo, ...createRepo };
      const policy = { enabled: ctx.globals.createRepo, settings, log: ctx.log };
      return {
        ecr: true,
        onMissingRepository: ecrCreateOnPush(ecr, policy),
        repositoryExists: ecrRepositoryExists(ecr),
      };
    },
  };
}

/** The ECR API behind a registry host (by host pattern or the hosts config), or undefined. */
export async function ecrOf(ctx: AppContext, registry: string): Promise<EcrTarget | undefined> {
  const { ecrTarget } = await import('./ecr/host.js');
  return ecrTarget(registry, ctx.config().hosts[registry]);
}
