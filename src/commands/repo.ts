// `repo create|rm|lifecycle get|set`: ECR repositories and their settings and lifecycle policies; a clear refusal
// elsewhere.
import { type AppContext, ecrOf } from '../context.js';
import type { CreateRepoSettings, EcrRepoSettings } from '../ecr/api.js';
import type { EcrTarget } from '../ecr/host.js';
import { RegctlError, UsageError, hasCode } from '../errors.js';
import { parseRepository } from '../location/reference.js';
import { jsonForTerminal } from '../util/escape.js';
import { readRegular } from '../util/read.js';
import { addCreateRepoFlags, createRepoSettings } from './flags.js';
import type { CommandDef, CommandResult } from './types.js';
import { MAX_JSON_BYTES } from '../oci/limits.js';

const describe = (s: EcrRepoSettings) =>
  `tags ${s.immutableTags ? 'immutable' : 'mutable'}, scan on push ${s.scanOnPush ? 'on' : 'off'}, ` +
  `encryption ${s.encryption}${s.kmsKey ? ` ${s.kmsKey}` : ''}`;

/** What differs between an existing repository and the settings asked for, with the way to change each. */
export function settingDifferences(have: EcrRepoSettings, want: CreateRepoSettings): string[] {
  const out: string[] = [];
  if (have.immutableTags !== Boolean(want.immutableTags)) {
    out.push(
      `tags are ${have.immutableTags ? 'immutable' : 'mutable'}, ` +
        `asked ${want.immutableTags ? 'immutable' : 'mutable'} (aws ecr put-image-tag-mutability)`,
    );
  }
  if (have.scanOnPush !== Boolean(want.scanOnPush)) {
    out.push(
      `scan on push is ${have.scanOnPush ? 'on' : 'off'}, asked ${want.scanOnPush ? 'on' : 'off'} ` +
        `(aws ecr put-image-scanning-configuration)`,
    );
  }
  const wantEnc = want.kmsKey ? `KMS ${want.kmsKey}` : 'AES256';
  const haveEnc = have.encryption === 'KMS' ? `KMS ${have.kmsKey ?? '(the AWS managed key)'}` : 'AES256';
  if (
    want.kmsKey
      ? have.encryption !== 'KMS' || (have.kmsKey !== undefined && have.kmsKey !== want.kmsKey)
      : have.encryption !== 'AES256'
  ) {
    out.push(`encryption is ${haveEnc}, asked ${wantEnc} (fixed at creation: delete and create the repository again)`);
  }
  return out;
}

async function ecrFor(
  ctx: AppContext,
  repoText: string,
  action: string,
): Promise<{ ecr: EcrTarget; repository: string; name: string }> {
  const ref = parseRepository(repoText);
  const name = `${ref.registry}/${ref.repository}`;
  const ecr = await ecrOf(ctx, ref.registry);
  if (!ecr) {
    const why =
      action === 'create'
        ? 'registries without a repository API create a repository on its first push: push an image to it'
        : action === 'rm'
          ? 'registries without a repository API cannot delete one: delete its images (regctl prune, regctl rm)'
          : 'lifecycle policies are ECR rules: try one here with regctl prune --from-policy POLICY.json --dry-run';
    throw new RegctlError('UNSUPPORTED', `repo ${action} ${name}: ${ref.registry} is not ECR; ${why}`, { exitCode: 2 });
  }
  return { ecr, repository: ref.repository, name };
}

async function create(ctx: AppContext, repoText: string, opts: Record<string, unknown>): Promise<CommandResult> {
  const { ecr, repository, name } = await ecrFor(ctx, repoText, 'create');
  const want = createRepoSettings(opts);
  const api = await import('../ecr/api.js');
  const made = await api.createRepository(ecr, repository, want, ctx.signal);
  if (made !== 'exists')
    return { stdout: `created ${name} (${describe(made)})`, json: { repository: name, created: true, ...made } };
  const have = await api.describeRepository(ecr, repository, ctx.signal);
  if (!have)
    throw new RegctlError('ECR_API', `repo create ${name}: ECR says the repository exists but does not describe it`);
  const diff = settingDifferences(have, want);
  if (diff.length > 0)
    throw new RegctlError(
      'REPO_SETTINGS',
      `repo create ${name}: the repository exists with other settings: ${diff.join('; ')}`,
    );
  return { stdout: `${name} exists (${describe(have)})`, json: { repository: name, created: false, ...have } };
}

async function remove(ctx: AppContext, repoText: string, opts: Record<string, unknown>): Promise<CommandResult> {
  const { ecr, repository, name } = await ecrFor(ctx, repoText, 'rm');
  try {
    await (await import('../ecr/api.js')).deleteRepository(ecr, repository, Boolean(opts.force), ctx.signal);
  } catch (err) {
    const cause = (err as { cause?: Error }).cause;
    if (cause?.name === 'RepositoryNotEmptyException')
      throw new RegctlError(
        'REPO_NOT_EMPTY',
        `repo rm ${name}: the repository still holds images; --force deletes them with it`,
      );
    if (hasCode(err, 'NOT_FOUND')) throw new RegctlError('NOT_FOUND', `repo rm ${name}: no such repository`);
    throw err;
  }
  return { stdout: `deleted repository ${name}`, json: { repository: name, deleted: true } };
}

async function lifecycle(
  ctx: AppContext,
  verb: string | undefined,
  repoText: string | undefined,
  file: string | undefined,
): Promise<CommandResult> {
  if (verb !== 'get' && verb !== 'set') throw new UsageError('repo lifecycle takes get REPO or set REPO POLICY.json');
  if (!repoText) throw new UsageError(`repo lifecycle ${verb} needs a repository`);
  if (verb === 'set' && !file) throw new UsageError('repo lifecycle set needs a policy file (JSON; - for stdin)');
  if (verb === 'get' && file) throw new UsageError('repo lifecycle get takes only a repository');
  let text: string | undefined;
  if (verb === 'set') {
    try {
      text = file === '-' ? await readStdin() : (await readRegular(file!, MAX_JSON_BYTES)).toString('utf8');
    } catch (err) {
      if (err instanceof RegctlError) throw new UsageError(err.message);
      throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    // JSON with a `rules` list is checked here; the rest is ECR's to judge (its message is shown): ECR adds fields
    // (archive transitions, storage classes) faster than a client can follow.
    checkPolicyShape(text, file === '-' ? 'the policy' : file!);
  }
  const { ecr, repository, name } = await ecrFor(ctx, repoText, `lifecycle ${verb}`);
  const api = await import('../ecr/api.js');
  if (verb === 'get') {
    const policy = await api.getLifecyclePolicy(ecr, repository, ctx.signal);
    if (policy === undefined)
      throw new RegctlError('NOT_FOUND', `repo lifecycle get ${name}: the repository has no lifecycle policy`);
    const doc = JSON.parse(policy) as unknown;
    return { stdout: jsonForTerminal(doc), json: doc };
  }
  await api.putLifecyclePolicy(ecr, repository, JSON.stringify(JSON.parse(text!)), ctx.signal);
  return {
    stdout: `lifecycle policy of ${name} set`,
    json: { repository: name, lifecyclePolicy: JSON.parse(text!) as unknown },
  };
}

function checkPolicyShape(text: string, where: string): void {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
  const isObject = typeof doc === 'object' && doc !== null && !Array.isArray(doc);
  const rules = isObject ? (doc as { rules?: unknown }).rules : undefined;
  if (!Array.isArray(rules) || rules.length === 0) {
    throw new UsageError(`${where}: a lifecycle policy needs a non-empty "rules" list`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const repoCommand: CommandDef = {
  name: 'repo',
  args: '<action> [args...]',
  summary: 'ECR repositories: create (with settings), rm, lifecycle get|set',
  examples: [
    'regctl repo create --immutable-tags --scan-on-push 123456789012.dkr.ecr.us-east-1.amazonaws.com/app',
    'regctl repo rm --force 123456789012.dkr.ecr.us-east-1.amazonaws.com/app',
    'regctl repo lifecycle get 123456789012.dkr.ecr.us-east-1.amazonaws.com/app',
    'regctl repo lifecycle set 123456789012.dkr.ecr.us-east-1.amazonaws.com/app policy.json',
  ],
  configure(cmd) {
    addCreateRepoFlags(cmd);
    cmd.option('--force', 'rm: delete the repository with its images');
  },
  run(ctx, [action, ...rest], opts) {
    const only = (n: number) => {
      if (rest.length !== n)
        throw new UsageError(`repo ${action} takes ${n === 1 ? 'one repository' : `${n} arguments`}`);
    };
    switch (action) {
      case 'create':
        only(1);
        return create(ctx, rest[0], opts);
      case 'rm':
      case 'delete':
        only(1);
        return remove(ctx, rest[0], opts);
      case 'lifecycle':
        if (rest.length > 3) throw new UsageError('repo lifecycle takes get REPO or set REPO POLICY.json');
        return lifecycle(ctx, rest[0], rest[1], rest[2]);
      default:
        throw new UsageError(`repo: unknown action ${JSON.stringify(action)}: create, rm or lifecycle`);
    }
  },
};
