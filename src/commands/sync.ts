// `sync SPEC`: mirror many images from a YAML spec — plan (tags listed, digests by HEAD), shard, copy in parallel,
// report.
import { RegctlError, UsageError } from '../errors.js';
import { formatLocation } from '../location/parse.js';
import { escapeControl } from '../util/escape.js';
import { formatPlatform } from '../oci/platform.js';
import type { Plan, PlanItem } from '../sync/plan.js';
import type { ImageReport, RunResult } from '../sync/run.js';
import { addCreateRepoFlags, createRepoSettings } from './flags.js';
import type { CommandDef } from './types.js';
import { MAX_JSON_BYTES } from '../oci/limits.js';

/** Images copied at once unless the spec or --images says otherwise (bench/: 4 was best on the sync case). */
export const DEFAULT_IMAGES = 4;
/** Tag listings and HEADs at once while planning (HEADs are small and cost no Docker Hub pull). */
const PLAN_CONCURRENCY = 16;
/** Pause or stop when a registry says fewer pulls than this are left. */
export const DEFAULT_RATE_FLOOR = 10;

const SPEC_HELP = `
Spec (YAML; \${VAR} and \${VAR:-default} are taken from the environment, only for the variables env: lists):
  env: [ECR]                     # the variables \${...} may read (also --env NAME); any other is an error
  defaults:                      # all optional; command-line flags win
    jobs: 8                      # blob transfers at once, across all images
    images: 4                    # images at once
    platforms: [linux/amd64, linux/arm64]   # or "all" (the default: index kept byte-identical)
    keep-going: false
    rate-floor: 10               # pause/stop when ratelimit-remaining falls under this
    rate-wait: 0                 # how long to wait for the window (e.g. 30m, 6h); 0 = stop
    referrers: true              # also copy signatures, SBOMs, attestations (per entry too)
  sync:
    - source: docker.io/library/alpine
      target: \${ECR}/mirror/alpine              # a repository, or oci:DIR for a local layout
      tags:
        semver: ">=3.18"                         # a range (loose tags: 3.20 is 3.20.0)
        allow: ["^edge$"]                        # regexes; a tag matching allow OR semver is a candidate
        deny: ["-rc"]                            # regexes removed from the candidates
        latest: 5                                # keep the 5 newest versions of the candidates
        list: ["3.19.1"]                         # always copied as named
    - source: docker.io/library/nginx:1.27       # a tag and no tags: copies that tag
      target: \${ECR}/mirror/nginx
      platforms: [linux/amd64]

Each (source, tag) belongs to one shard: sha256("SOURCE:TAG") mod N. A platform subset is written as an
index annotated with the source digest, so a re-run checks it with HEADs (and one GET at the target).
Exit status: 0 all done, 1 an image failed (or was skipped), 2 a bad spec or bad flags.`;

function intFlag(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new UsageError(`${name} takes a whole number from ${min} to ${max}`);
    return n;
  };
}

function envName(v: string, all: string[]): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) {
    throw new UsageError(`--env takes an environment variable name, not ${JSON.stringify(v.slice(0, 60))}`);
  }
  return [...all, v];
}

function itemJson(i: PlanItem) {
  return {
    source: i.key,
    target: formatLocation(i.target),
    tag: i.tag ?? null,
    entry: i.entry,
    platforms: i.platforms ? i.platforms.map(formatPlatform) : null,
    action: i.action,
    sourceDigest: i.sourceDigest ?? null,
    targetDigest: i.targetDigest ?? null,
    ...(i.error ? { error: i.error } : {}),
  };
}

function planJson(specPath: string, plan: Plan) {
  const n = (a: PlanItem['action']) => plan.items.filter((i) => i.action === a).length;
  return {
    spec: specPath,
    dryRun: true,
    shard: plan.shard ?? null,
    summary: {
      images: plan.items.length,
      total: plan.total,
      copy: n('copy'),
      upToDate: n('up-to-date'),
      failed: n('error'),
    },
    warnings: plan.warnings,
    images: plan.items.map(itemJson),
  };
}

function reportJson(specPath: string, plan: Plan, result: RunResult, ms: number, planMs: number) {
  const n = (s: ImageReport['status']) => result.reports.filter((r) => r.status === s).length;
  return {
    spec: specPath,
    dryRun: false,
    shard: plan.shard ?? null,
    summary: {
      images: plan.items.length,
      total: plan.total,
      copied: n('copied'),
      upToDate: n('up-to-date'),
      failed: n('failed'),
      skipped: n('skipped'),
      bytesSent: result.reports.reduce((t, r) => t + r.bytesSent, 0),
      durationMs: ms,
      planMs,
    },
    stopped: result.stopped ?? null,
    warnings: plan.warnings,
    images: result.reports.map((r) => ({
      ...itemJson(r.item),
      status: r.status,
      digest: r.digest ?? null,
      reference: r.reference ?? null,
      bytesSent: r.bytesSent,
      blobs: r.blobs ?? null,
      durationMs: r.durationMs,
      ...(r.referrers ? { referrers: r.referrers } : {}),
      ...(r.error ? { error: r.error } : {}),
    })),
  };
}

/** A spec is a regular file (not a FIFO or a device: those are refused, not read forever) of at most 4 MiB. */
async function readSpec(path: string): Promise<string> {
  try {
    const { readRegular } = await import('../util/read.js');
    return (await readRegular(path, MAX_JSON_BYTES)).toString('utf8');
  } catch (err) {
    if (err instanceof RegctlError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`,
    );
  }
}

export const syncCommand: CommandDef = {
  name: 'sync',
  args: '<spec>',
  summary: 'mirror many images from a YAML spec: tag selection, platforms, images in parallel, shards across machines',
  examples: [
    'regctl sync mirror.yaml --dry-run',
    'regctl sync mirror.yaml --images 8 --jobs 16 --keep-going',
    'regctl sync mirror.yaml --shard ${{ matrix.shard }}/3          # one job of a CI matrix of 3',
    'regctl sync mirror.yaml --shard auto/3                        # a pod of a Kubernetes Indexed Job',
    'regctl sync mirror.yaml --json > report.json',
  ],
  configure(cmd) {
    cmd
      .option('--dry-run', 'print the plan (what would be copied, what is up to date) and change nothing')
      .option(
        '--images <n>',
        `images copied at once (default: the spec's, else ${DEFAULT_IMAGES})`,
        intFlag('--images', 1, 64),
      )
      .option('--shard <I/N>', 'do shard I of N (0-based); auto/N takes I from JOB_COMPLETION_INDEX')
      .option('--keep-going', 'after a failure, copy the rest (exit 1 at the end)')
      .option(
        '--rate-floor <n>',
        `pause or stop when a registry's ratelimit-remaining falls under n; ` +
          `0 turns it off (default ${DEFAULT_RATE_FLOOR})`,
        intFlag('--rate-floor', 0, 1_000_000),
      )
      .option(
        '--rate-wait <duration>',
        'wait up to this long for the rate-limit window (e.g. 30m, 6h) instead of stopping',
      )
      .option('--env <name>', 'let ${NAME} in the spec read it (repeatable; or list it in env:)', envName, [])
      .addHelpText('after', SPEC_HELP);
    // jobsGiven (a --jobs the user typed, which overrides the spec's) comes from cli.ts, as for every command.
    addCreateRepoFlags(cmd);
  },
  async run(ctx, [specPath], opts) {
    const started = Date.now();
    const { parseDuration, parseSpec } = await import('../sync/spec.js');
    const spec = parseSpec(await readSpec(specPath), specPath, ctx.env, { allowEnv: opts.env as string[] });
    const d = spec.defaults;
    let rateWaitMs = d.rateWaitMs ?? 0;
    if (opts.rateWait !== undefined) {
      const ms = parseDuration(opts.rateWait as string); // `--rate-wait <duration>`: a string
      if (ms === undefined)
        throw new UsageError(`--rate-wait: unreadable duration ${JSON.stringify(opts.rateWait)} (e.g. 90s, 30m, 6h)`);
      rateWaitMs = ms;
    }
    const { makePlan, parseShard } = await import('../sync/plan.js');
    const shard = opts.shard !== undefined ? parseShard(opts.shard as string, ctx.env) : undefined;
    // Before any client exists: the connection pools are sized from jobs.
    const jobs = opts.jobsGiven ? ctx.globals.jobs : (d.jobs ?? ctx.globals.jobs);
    // jobs from the command line or the spec cap every transfer; otherwise small blobs get more lanes.
    if (opts.jobsGiven || d.jobs !== undefined) ctx.globals.lightJobs = jobs;
    ctx.globals.jobs = jobs;
    const images = (opts.images as number | undefined) ?? d.images ?? DEFAULT_IMAGES;
    const keepGoing = Boolean(opts.keepGoing) || d.keepGoing === true;
    const rateFloor = (opts.rateFloor as number | undefined) ?? d.rateFloor ?? DEFAULT_RATE_FLOOR;

    const render = await import('../output/sync-progress.js');
    const live = render.liveTerminal(ctx.io) && !ctx.globals.quiet && !ctx.globals.json;
    const spinner = live
      ? (await import('ora'))
          .default({
            stream: ctx.io.stderr as NodeJS.WriteStream,
            text: `sync: planning ${spec.entries.length} entr${spec.entries.length === 1 ? 'y' : 'ies'}…`,
            isEnabled: true,
          })
          .start()
      : undefined;
    let plan: Plan;
    try {
      plan = await makePlan(spec, ctx, { shard, concurrency: PLAN_CONCURRENCY, signal: ctx.signal });
    } finally {
      spinner?.stop();
    }
    for (const w of plan.warnings) ctx.log.warn(w);

    if (opts.dryRun) {
      const failed = plan.items.some((i) => i.action === 'error');
      return {
        stdout: `${render.renderPlan(plan)}\n${render.planSummary(plan)}`,
        json: planJson(specPath, plan),
        exitCode: failed ? 1 : 0,
      };
    }

    const { runPlan } = await import('../sync/run.js');
    const sink = await render.createSyncSink(ctx.io, ctx.globals, plan.items.length);
    const planMs = Date.now() - started;
    let result: RunResult;
    try {
      result = await runPlan(plan, ctx, {
        images,
        jobs,
        lightJobs: ctx.globals.lightJobs,
        keepGoing,
        rateFloor,
        rateWaitMs,
        signal: ctx.signal,
        hooks: sink,
        createRepo: createRepoSettings(opts),
      });
    } finally {
      sink.stop();
    }
    const ms = Date.now() - started;
    if (result.stopped) {
      ctx.io.stderr.write(`regctl: sync stopped: ${escapeControl(result.stopped.message, { oneLine: true })}\n`);
      if (result.stopped.hint) ctx.io.stderr.write(`hint: ${escapeControl(result.stopped.hint, { oneLine: true })}\n`);
    }
    const bad = result.reports.some((r) => r.status === 'failed' || r.status === 'skipped');
    return {
      stdout: render.runSummary(result.reports, plan, ms),
      json: reportJson(specPath, plan, result, ms, planMs),
      exitCode: bad ? 1 : 0,
    };
  },
};
