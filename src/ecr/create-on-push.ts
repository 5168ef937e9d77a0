// ECR create-on-push, handed to a registry destination as callbacks: it never learns about ECR or the app's flags.
import { RegctlError } from '../errors.js';
import type { Repo } from '../registry-client/client.js';
import type { Logger } from '../util/log.js';
import { type CreateRepoSettings, createRepository, describeRepository } from './api.js';
import type { EcrTarget } from './host.js';

export interface CreateOnPushPolicy {
  /** false: `--no-create-repo`, a missing repository is an error naming the ways out. */
  enabled: boolean;
  settings: CreateRepoSettings;
  log: Logger;
}

/**
 * NAME_UNKNOWN → CreateRepository, once per repository however many uploads hit it at once (a repository another
 * process created meanwhile is fine).
 */
export function ecrCreateOnPush(
  ecr: EcrTarget,
  policy: CreateOnPushPolicy,
): (repo: Repo, signal: AbortSignal) => Promise<boolean> {
  const made = new Map<string, Promise<boolean>>();
  return (repo, signal) => {
    if (!policy.enabled) {
      return Promise.reject(
        new RegctlError(
          'NAME_UNKNOWN',
          `${repo.registry}/${repo.repository}: the ECR repository does not exist, ` +
            `and --no-create-repo forbids creating it`,
          {
            hint:
              'drop --no-create-repo to create it on push, create it first (`aws ecr create-repository`), ' +
              'or add an ECR repository creation template applied for CREATE_ON_PUSH so ECR creates it',
          },
        ),
      );
    }
    let p = made.get(repo.repository);
    if (!p) {
      p = (async () => {
        const outcome = await createRepository(ecr, repo.repository, policy.settings, signal);
        policy.log.info(
          outcome === 'exists'
            ? `ECR repository ${repo.repository} was created meanwhile`
            : `created ECR repository ${repo.repository}`,
        );
        return true;
      })();
      made.set(repo.repository, p);
      p.catch(() => made.delete(repo.repository));
    }
    return p;
  };
}

/** DescribeRepositories for one repository of an ECR registry: whether it exists. */
export const ecrRepositoryExists = (ecr: EcrTarget) => async (repo: Repo, signal: AbortSignal) =>
  (await describeRepository(ecr, repo.repository, signal)) !== undefined;
