// Flag helpers more than one command uses: ECR create settings, K=V lists, page sizes, image-list flags, rate-limit
// warnings. A command imports these from here, never from another command's module.
import type { Command } from 'commander';
import type { AppContext } from '../context.js';
import type { CreateRepoSettings } from '../ecr/api.js';
import { UsageError } from '../errors.js';
import { formatRateLimit, isLow } from '../registry-client/ratelimit.js';
import { collect } from './types.js';

/** The ECR settings flags, for `repo create` and the commands that create repositories on push (copy, push, sync). */
export function addCreateRepoFlags(cmd: Command): Command {
  return cmd
    .option('--immutable-tags', 'ECR: a created repository refuses to move its tags')
    .option('--scan-on-push', 'ECR: a created repository scans each pushed image')
    .option('--kms-key <arn>', 'ECR: a created repository is encrypted with this KMS key');
}

/** The flags given (only those: the hosts config's createRepo fills the rest). */
export function createRepoSettings(opts: Record<string, unknown>): CreateRepoSettings {
  return {
    ...(opts.immutableTags ? { immutableTags: true } : {}),
    ...(opts.scanOnPush ? { scanOnPush: true } : {}),
    ...(typeof opts.kmsKey === 'string' ? { kmsKey: opts.kmsKey } : {}),
  };
}

/** K=V flags (--build-arg K alone takes K from the environment, as docker does). */
export function keyValueFlags(values: unknown, flag: string, env?: NodeJS.ProcessEnv): Map<string, string> {
  const m = new Map<string, string>();
  for (const v of (values as string[] | undefined) ?? []) {
    const i = v.indexOf('=');
    if (i === 0) throw new UsageError(`${flag} ${JSON.stringify(v)}: expected KEY=VALUE`);
    if (i < 0) {
      if (!env) throw new UsageError(`${flag} ${JSON.stringify(v)}: expected KEY=VALUE`);
      if (env[v] !== undefined) m.set(v, env[v]);
      continue;
    }
    m.set(v.slice(0, i), v.slice(i + 1));
  }
  return m;
}

export function pageSize(value: unknown): number {
  const n = Number(value ?? 1000);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new UsageError('--page-size takes a whole number from 1 to 1000');
  return n;
}

export function addImagesFlags(cmd: Command): void {
  cmd.option('--sort <key>', 'tag, created, pushed or size (default: newest first)');
  cmd.option(
    '--filter <terms>',
    'tag=RE, untagged, tagged, older=DUR, newer=DUR, platform=OS/ARCH (comma-separated, ANDed; repeatable)',
    collect,
  );
  cmd.option(
    '--no-config',
    'skip reading manifests and configs (no created or platforms; on ECR no manifest GET at all)',
  );
}

export function warnRateLimit(ctx: AppContext, registry: string): void {
  const rl = ctx.rateLimit(registry);
  if (rl && isLow(rl)) ctx.log.warn(`${registry} rate limit: ${formatRateLimit(rl)}`);
}
