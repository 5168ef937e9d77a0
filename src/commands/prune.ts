// `prune REPO`: retention on any registry — keep the newest N, expire by age, expire untagged, or an ECR lifecycle
// policy evaluated here.
import pLimit from 'p-limit';
import { type AppContext, ecrOf } from '../context.js';
import { RegctlError, UsageError } from '../errors.js';
import type { Verdict } from '../lifecycle/evaluate.js';
import { parseRepository } from '../location/reference.js';
import type { Digest } from '../oci/digest.js';
import type { Repo } from '../registry-client/client.js';
import { deletionHint } from '../registry-client/errors.js';
import { pageSize } from './flags.js';
import { escapeControl } from '../util/escape.js';
import { readRegular } from '../util/read.js';
import type { CommandDef, CommandResult } from './types.js';
import { MAX_JSON_BYTES } from '../oci/limits.js';

interface Decide {
  decide(images: import('../lifecycle/evaluate.js').Candidate[], now: number): Verdict[];
  /** Rules of a policy not evaluated here, named with the reason. */
  notes?: string[];
}

async function ruleFromFlags(opts: Record<string, unknown>): Promise<Decide> {
  const [{ evaluateRetention }, { parseDuration }] = await Promise.all([
    import('../lifecycle/evaluate.js'),
    import('../lifecycle/duration.js'),
  ]);
  const label: string[] = [];
  let keep: number | undefined;
  if (opts.keep !== undefined) {
    keep = Number(opts.keep);
    if (!Number.isInteger(keep) || keep < 0) throw new UsageError('--keep takes a whole number (0 or more)');
    label.push(`--keep ${keep}`);
  }
  let match: RegExp | undefined;
  if (opts.match !== undefined) {
    const re = opts.match as string; // `--match <re>`: commander hands over the text
    try {
      match = new RegExp(re);
    } catch (err) {
      throw new UsageError(`--match: ${(err as Error).message}`);
    }
    label.push(`--match ${re}`);
  }
  let olderThanMs: number | undefined;
  if (opts.olderThan !== undefined) {
    const text = opts.olderThan as string; // `--older-than <duration>`
    // A bare number is refused: 30 could be days (as ECR counts) or seconds (as sleep does).
    if (/^\s*\d+(\.\d+)?\s*$/.test(text)) {
      const n = text.trim();
      throw new UsageError(`--older-than ${n}: give a unit: s, m, h, d or w (e.g. ${n}d for days)`);
    }
    olderThanMs = parseDuration(text);
    if (olderThanMs === undefined)
      throw new UsageError(`--older-than: unreadable duration ${JSON.stringify(opts.olderThan)} (e.g. 30d, 12h, 2w)`);
    label.push(`--older-than ${text}`);
  }
  const untagged = Boolean(opts.untagged);
  if (untagged) label.push('--untagged');
  if (!untagged && keep === undefined && olderThanMs === undefined) {
    throw new UsageError(
      'prune needs a rule: --keep N, --older-than DUR, --untagged, or --from-policy POLICY.json ' +
        '(e.g. prune REPO --keep 10 --dry-run)',
    );
  }
  return {
    decide: (images, now) =>
      evaluateRetention(images, { keep, match, olderThanMs, untagged, label: label.join(' ') }, now),
  };
}

async function ruleFromPolicy(path: string): Promise<Decide> {
  const [{ evaluatePolicy, unevaluatedRules }, { parsePolicy }] = await Promise.all([
    import('../lifecycle/evaluate.js'),
    import('../lifecycle/policy.js'),
  ]);
  let text: string;
  try {
    text = (await readRegular(path, MAX_JSON_BYTES)).toString('utf8');
  } catch (err) {
    if (err instanceof RegctlError) throw new UsageError(`--from-policy: ${err.message}`);
    throw new UsageError(
      `--from-policy: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const policy = parsePolicy(text, path);
  return { decide: (images, now) => evaluatePolicy(images, policy, now), notes: unevaluatedRules(policy) };
}

async function remove(
  ctx: AppContext,
  repo: Repo,
  ecr: import('../ecr/host.js').EcrTarget | undefined,
  digests: string[],
): Promise<{ deleted: string[]; failures: string[] }> {
  if (digests.length === 0) return { deleted: [], failures: [] };
  if (ecr) return (await import('../ecr/api.js')).batchDeleteImages(ecr, repo.repository, digests, ctx.signal);
  const client = ctx.client('dst');
  const limit = pLimit(Math.max(1, Math.min(ctx.globals.jobs, 8)));
  const deleted: string[] = [];
  const failures: string[] = [];
  await Promise.all(
    digests.map((d) =>
      limit(async () => {
        try {
          await client.deleteManifest(repo, d as Digest, ctx.signal);
          deleted.push(d);
        } catch (err) {
          if (ctx.signal.aborted) throw err;
          failures.push(`${d}: ${(err as Error).message}`);
        }
      }),
    ),
  );
  return { deleted: digests.filter((d) => deleted.includes(d)), failures };
}

/**
 * Deleting asks first: on a terminal, the list of what is about to go and a y/N question; elsewhere a refusal (exit
 * 2) unless --yes. `rows`: [tags, digest, why] per image.
 */
const cutEnd = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

async function confirmed(ctx: AppContext, name: string, rows: string[][], of: number): Promise<boolean> {
  const n = `${rows.length} of ${of} image${of === 1 ? '' : 's'}`;
  const { canPrompt, confirm } = await import('../output/prompt.js');
  if (!canPrompt()) {
    const tags = rows.flatMap((r) => (r[0] && r[0] !== '-' ? [r[0]] : [])).join(', ');
    throw new UsageError(
      `prune ${name} would delete ${n}${tags ? ` (${cutEnd(tags, 80)})` : ''}, and there is no terminal to ask`,
      'add --yes to delete without asking, or --dry-run to list what would go',
    );
  }
  const { table } = await import('../output/render.js');
  ctx.io.stderr.write(`About to delete ${n} in ${name}:\n${table(rows.map((r) => ['  ' + r[0], ...r.slice(1)]))}\n`);
  return confirm(`Delete ${rows.length === 1 ? 'it' : `these ${rows.length}`}?`, ctx.signal);
}

export const pruneCommand: CommandDef = {
  name: 'prune',
  args: '<repo>',
  summary:
    "delete a repository's old images by retention rules (or an ECR lifecycle policy evaluated here); " +
    'never an image a kept tag points to',
  examples: [
    'regctl prune localhost:5000/app --keep 10 --dry-run',
    'regctl prune localhost:5000/app --keep 10 --yes   # in a script: no question asked',
    "regctl prune localhost:5000/app --keep 5 --match '^v' --older-than 30d",
    'regctl prune 123456789012.dkr.ecr.us-east-1.amazonaws.com/app --untagged --older-than 7d',
    'regctl prune localhost:5000/app --from-policy lifecycle.json --dry-run',
  ],
  configure(cmd) {
    cmd.option('--keep <n>', 'keep the newest N selected images (by push time on ECR, else by created)');
    cmd.option('--match <re>', 'select images by a tag matching this regex; other tags are kept and keep their digest');
    cmd.option(
      '--older-than <duration>',
      'delete only images older than this, with a unit: s m h d w (30d, 12h, 1d12h)',
    );
    cmd.option(
      '--untagged',
      'select untagged images (ECR lists them); with --match, those and the matching tagged ones',
    );
    cmd.option('--from-policy <file>', 'evaluate an ECR lifecycle policy (JSON) against the repository, as ECR would');
    cmd.option('--dry-run', 'print what would be deleted and why, delete nothing');
    cmd.option('-y, --yes', 'delete without asking (needed where there is no terminal to ask: scripts, CI)');
    cmd.option('--page-size <n>', 'tags (ECR: image details) asked for per request, at most 1000', '1000');
  },
  async run(ctx, [repoText], opts): Promise<CommandResult> {
    const ref = parseRepository(repoText);
    const repo: Repo = { registry: ref.registry, repository: ref.repository };
    const usesFlags = ['keep', 'match', 'olderThan', 'untagged'].filter((k) => opts[k] !== undefined);
    if (opts.fromPolicy !== undefined && usesFlags.length > 0)
      throw new UsageError(
        '--from-policy takes its rules from the policy: drop --keep, --match, --older-than and --untagged',
      );
    const rule =
      opts.fromPolicy !== undefined ? await ruleFromPolicy(opts.fromPolicy as string) : await ruleFromFlags(opts);
    for (const note of rule.notes ?? []) ctx.log.warn(note);
    const [{ listImages }, { tagsText, timeOf }, render] = await Promise.all([
      import('../images/list.js'),
      import('../images/view.js'),
      import('../output/render.js'),
    ]);
    const ecr = await ecrOf(ctx, repo.registry);
    // ECR: DescribeImages has tags and push times; only indexes are read (their children are not images of their own).
    const listing = await listImages(ctx.client('any'), repo, {
      pageSize: pageSize(opts.pageSize),
      details: !ecr,
      children: true,
      signal: ctx.signal,
      jobs: ctx.globals.jobs,
      ...(ecr ? { ecr } : {}),
    });
    const now = Date.now();
    // Fallback indexes and cosign tags (`sha256-<hex>`, `.sig`, `.att`, `.sbom`) are attachments, not images: they
    // go or stay with the image they are attached to.
    const { isAttachmentRow, planReferrerPrune } = await import('../referrers/prune.js');
    const images = listing.rows.filter((r) => !isAttachmentRow(r.tags));
    const candidates = images.map((r) => {
      const time = timeOf(r);
      return { digest: r.digest, tags: r.tags, ...(time !== undefined ? { time } : {}) };
    });
    const verdicts = rule.decide(candidates, now);
    const mediaTypeOf = new Map(images.map((r) => [r.digest, r.mediaType]));
    const rowOf = (v: Verdict) => ({ digest: v.digest, mediaType: mediaTypeOf.get(v.digest) ?? '' });
    const keptRows = verdicts.filter((v) => !v.expire).map(rowOf);
    const attachments = await planReferrerPrune(ctx, repo, keptRows, verdicts.filter((v) => v.expire).map(rowOf), {
      ecr: Boolean(ecr),
      tags: listing.rows.flatMap((r) => r.tags),
    });
    // A referrer of a kept image (an untagged signature on ECR, say) is kept whatever the rule said.
    for (const v of verdicts) {
      if (v.expire && attachments.protect.has(v.digest)) {
        Object.assign(v, { expire: false, reason: 'a referrer of a kept image' });
      }
    }
    const going = verdicts.filter((v) => v.expire);
    const attached = attachments.attached;
    const shownReasons = ['digest stays', 'not evaluated here', 'referrer of a kept'];
    const shown = (v: Verdict) => shownReasons.some((s) => v.reason.includes(s));
    const guarded = verdicts.filter((v) => !v.expire && shown(v));
    const attachedLine = (a: (typeof attached)[number]) => [
      a.tag ?? '<untagged>',
      a.digest,
      `${a.what} of ${a.subject}`,
    ];
    const line = (v: Verdict) => [tagsText(v.tags, 6), v.digest, `${v.rule ?? ''}: ${v.reason}`];
    const name = `${repo.registry}/${repo.repository}`;
    const dry = Boolean(opts.dryRun);
    const json = (deleted: string[], failures: string[]) => ({
      repository: name,
      dryRun: dry,
      images: verdicts.length,
      expire: going.map((v) => ({
        digest: v.digest,
        tags: v.tags,
        rule: v.rule,
        reason: v.reason,
        ...(dry ? {} : { deleted: deleted.includes(v.digest) }),
      })),
      kept: verdicts
        .filter((v) => !v.expire)
        .map((v) => ({ digest: v.digest, tags: v.tags, ...(v.rule ? { rule: v.rule } : {}), reason: v.reason })),
      attached: attached.map((a) => ({ ...a, ...(dry ? {} : { deleted: deleted.includes(a.digest) }) })),
      ...(failures.length ? { failures } : {}),
    });
    const keptLines = guarded.map((v) => ['kept', ...line(v)]);
    if (dry) {
      const rows = [
        ...going.map((v) => ['would delete', ...line(v)]),
        ...attached.map((a) => ['would delete', ...attachedLine(a)]),
        ...keptLines,
      ];
      ctx.log.info(
        `${going.length} of ${verdicts.length} image${verdicts.length === 1 ? '' : 's'} ` +
          `in ${name} would be deleted (dry run)`,
      );
      return { stdout: rows.length ? render.table(rows) : '', json: json([], []) };
    }
    const asked = [...going.map((v) => line(v)), ...attached.map((a) => attachedLine(a))];
    if (going.length && !opts.yes && !(await confirmed(ctx, name, asked, verdicts.length))) {
      ctx.log.info(`prune ${name}: nothing deleted`);
      return { stdout: '', json: json([], []) };
    }
    // Referrers first (a subject is never left behind by its signature's failure), then the images.
    const first = await remove(ctx, repo, ecr, [...new Set(attached.map((a) => a.digest))]);
    const second = await remove(
      ctx,
      repo,
      ecr,
      going.map((v) => v.digest),
    );
    const deleted = [...first.deleted, ...second.deleted];
    const failures = [...first.failures, ...second.failures];
    const rows = [
      ...going.filter((v) => deleted.includes(v.digest)).map((v) => ['deleted', ...line(v)]),
      ...attached.filter((a) => deleted.includes(a.digest)).map((a) => ['deleted', ...attachedLine(a)]),
      ...keptLines,
    ];
    if (failures.length > 0 && deleted.length === 0) {
      throw new RegctlError(
        'PRUNE_FAILED',
        `prune ${name}: no image could be deleted: ` +
          `${failures[0]}${failures.length > 1 ? ` (and ${failures.length - 1} more)` : ''}`,
        {
          hint: ecr ? undefined : deletionHint(repo.registry),
        },
      );
    }
    for (const f of failures) {
      const why = escapeControl(f.replace(/\s*\n\s*/g, ' '), { oneLine: true });
      ctx.io.stderr.write(`regctl: prune ${name}: could not delete ${why}\n`);
    }
    const n = first.deleted.length;
    const extra = n ? ` and ${n} referrer${n === 1 ? '' : 's'} or referrers index${n === 1 ? '' : 'es'}` : '';
    const of = `${verdicts.length} image${verdicts.length === 1 ? '' : 's'}`;
    const failed = failures.length ? `; ${failures.length} failed` : '';
    ctx.log.info(`deleted ${second.deleted.length} of ${of}${extra} in ${name}${failed}`);
    return {
      stdout: rows.length ? render.table(rows) : '',
      json: json(deleted, failures),
      exitCode: failures.length ? 1 : 0,
    };
  },
};
