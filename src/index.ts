// regctl as a library: `import { copy } from 'regctl-js'`. Each function takes the locations and options of its
// command, resolves to a typed result, prints nothing, and fails with a RegctlError whose `code` is stable.
// Heavy modules (the AWS SDK, keytar, zlib) load on first use, as in the CLI.
import { type CommonOptions, withContext } from './api/context.js';
import { type ProgressEvent, copyLocations } from './api/copy.js';
import { digestOf, listTagsOf, tagImage } from './api/registry.js';
import { localDestination } from './commands/pull.js';
import { localLocation, parsePlatforms, registryRef } from './commands/shared.js';
import type { CommandDef } from './commands/types.js';
import type { Location } from './location/parse.js';
import { formatPlatform } from './oci/platform.js';

export { RegctlError, UsageError, DigestError, isRegctlError } from './errors.js';
export type { ErrorCode, ExitCode, OciErrorCode, RegctlErrorCode } from './errors.js';
export type { CommonOptions, Credentials } from './api/context.js';
export type { ProgressEvent } from './api/copy.js';
export type { Logger } from './util/log.js';

export interface CopyOptions extends CommonOptions {
  /** Copy only these platforms of an index (`os/arch[/variant]`); one platform for docker-archive. */
  platforms?: string[];
  /** Blob started / bytes / done, manifest written. */
  onProgress?: (event: ProgressEvent) => void;
  /** ECR: settings for a repository created on push; `false` fails instead of creating one. */
  createRepo?: false | { immutableTags?: boolean; scanOnPush?: boolean; kmsKey?: string };
}

export interface CopyResult {
  /** `ref@digest` (or `path@digest`) of what was written. */
  reference: string;
  digest: string;
  mediaType: string;
  /** The platforms of the written root (an index's entries; an image's own where known). */
  platforms: string[];
  bytesSent: number;
  /** Nothing moved: the destination already held this image. */
  upToDate: boolean;
  blobs: { sent: number; existed: number; mounted: number };
}

async function copyBetween(src: string | Location, dst: string | Location, o: CopyOptions): Promise<CopyResult> {
  const platforms = parsePlatforms(o.platforms);
  const { createRepo, ...common } = o;
  return withContext(common, async (ctx) => {
    if (createRepo === false) ctx.globals.createRepo = false;
    const r = await copyLocations(ctx, src, dst, {
      platforms,
      createRepo: createRepo || undefined,
      wantPlatforms: true,
      ...(o.onProgress ? { onEvent: (await import('./api/copy.js')).progressOf(o.onProgress) } : {}),
    });
    const { reference, digest, mediaType, platforms: written, bytesSent, upToDate, blobs } = r;
    return { reference, digest, mediaType, platforms: written.map(formatPlatform), bytesSent, upToDate, blobs };
  });
}

/** `regctl copy SRC DST`: any location (`host/repo:tag`, `docker-archive:F`, `oci:DIR[:TAG]`, …) to any location. */
export function copy(src: string, dst: string, options: CopyOptions = {}): Promise<CopyResult> {
  return copyBetween(src, dst, options);
}

/** `regctl pull REF PATH`: `format` as `--format` (default: `.tar` → docker-archive, else an OCI layout). */
export function pull(
  ref: string,
  path: string,
  options: CopyOptions & { format?: 'docker-archive' | 'oci' | 'oci-archive' } = {},
): Promise<CopyResult> {
  const { format, ...rest } = options;
  return copyBetween(registryRefLocation(ref), localDestination(path, format), rest);
}

/** `regctl push PATH REF`. */
export function push(path: string, ref: string, options: CopyOptions = {}): Promise<CopyResult> {
  return copyBetween(localLocation(path, 'push reads'), registryRefLocation(ref), options);
}

function registryRefLocation(ref: string): Location {
  return { kind: 'registry', ref: registryRef(ref) };
}

export interface DigestResult {
  digest: string;
  mediaType: string;
  size: number;
}

/** `regctl digest REF`: by HEAD where the registry allows; `platform` picks one image of an index. */
export function digest(ref: string, options: CommonOptions & { platform?: string } = {}): Promise<DigestResult> {
  return withContext(options, async (ctx) => {
    const { digest: d, mediaType, size } = await digestOf(ctx, ref, parsePlatforms(options.platform));
    return { digest: d, mediaType, size };
  });
}

export interface TagResult {
  digest: string;
  /** The references written, `registry/repository:tag`. */
  tags: string[];
}

/** `regctl tag REF NEWTAG…`: the same manifest under more tags of its repository. */
export function tag(ref: string, tags: string | string[], options: CommonOptions = {}): Promise<TagResult> {
  return withContext(options, (ctx) => tagImage(ctx, ref, Array.isArray(tags) ? tags : [tags]));
}

/** `regctl ls REPO`: every tag, across pages. */
export function listTags(repo: string, options: CommonOptions & { pageSize?: number } = {}): Promise<string[]> {
  return withContext(options, (ctx) => listTagsOf(ctx, repo, options.pageSize ?? 1000));
}

/** What `regctl inspect --json` prints: an index's entries, or an image's config summary and layers. */
export type InspectResult =
  | {
      name: string;
      digest: string;
      mediaType: string;
      annotations: Record<string, string>;
      manifests: { platform: string; digest: string; mediaType: string; size: number; type?: string }[];
    }
  | {
      name: string;
      digest: string;
      mediaType: string;
      platform?: string;
      created?: string;
      configDigest: string;
      entrypoint?: string[];
      cmd?: string[];
      workingDir?: string;
      user?: string;
      env: string[];
      labels: Record<string, string>;
      annotations: Record<string, string>;
      layers: { digest: string; size: number; mediaType?: string }[];
      totalSize: number;
    };

/** The command's own run, its `--json` value out (inspect, sync and build: their printing is in the command). */
async function runCommand(
  load: () => Promise<CommandDef>,
  args: string[],
  opts: Record<string, unknown>,
  o: CommonOptions,
) {
  const command = await load();
  return withContext(o, (ctx) => command.run(ctx, args, opts));
}

/** `regctl inspect REF`; `raw` resolves to the manifest as parsed JSON, `config` to the image config. */
export async function inspect(
  ref: string,
  options: CommonOptions & { platform?: string; raw?: boolean; config?: boolean } = {},
): Promise<InspectResult> {
  const { platform, raw, config } = options;
  const load = async () => (await import('./commands/inspect.js')).inspectCommand;
  const r = await runCommand(load, [ref], { platform, raw, config }, options);
  return r.json as InspectResult;
}

export interface SyncOptions extends CommonOptions {
  dryRun?: boolean;
  images?: number;
  shard?: string;
  keepGoing?: boolean;
  rateFloor?: number;
  rateWait?: string;
  /** Environment variables `${NAME}` in the spec may read. */
  allowEnv?: string[];
}

/** What `regctl sync --json` prints: the plan (dry run) or each image's report. `ok` is false when any failed. */
export interface SyncResult {
  ok: boolean;
  report: Record<string, unknown>;
}

/** `regctl sync SPEC`: mirror what a YAML spec lists. */
export async function sync(specPath: string, options: SyncOptions = {}): Promise<SyncResult> {
  const { dryRun, images, shard, keepGoing, rateFloor, rateWait, allowEnv } = options;
  const jobsGiven = options.jobs !== undefined;
  const opts = { dryRun, images, shard, keepGoing, rateFloor, rateWait, env: allowEnv ?? [], jobsGiven };
  const r = await runCommand(async () => (await import('./commands/sync.js')).syncCommand, [specPath], opts, options);
  return { ok: (r.exitCode ?? 0) === 0, report: r.json as Record<string, unknown> };
}

export interface BuildOptions extends CommonOptions {
  /** The Dockerfile (default CONTEXT/Dockerfile). */
  file?: string;
  /** Where to write the image: registry images, `oci:DIR[:TAG]`, `docker-archive:FILE`… */
  tags?: string[];
  buildArgs?: Record<string, string>;
  /** `os/arch[/variant]` each, or `['all']`. */
  platforms?: string[];
  labels?: Record<string, string>;
  target?: string;
  buildContexts?: Record<string, string>;
}

export interface BuildResult {
  digest: string;
  mediaType: string;
  platforms: string[];
  [key: string]: unknown;
}

/** `regctl build CONTEXT`: a Dockerfile built without a daemon (RUN is not supported). */
export async function build(contextDir: string, options: BuildOptions = {}): Promise<BuildResult> {
  const kv = (m?: Record<string, string>) => (m ? Object.entries(m).map(([k, v]) => `${k}=${v}`) : undefined);
  const opts = {
    file: options.file,
    tag: options.tags,
    buildArg: kv(options.buildArgs),
    platform: options.platforms,
    label: kv(options.labels),
    target: options.target,
    buildContext: kv(options.buildContexts),
    maxAddSize: '512MiB',
  };
  const load = async () => (await import('./commands/build.js')).buildCommand;
  const r = await runCommand(load, [contextDir], opts, options);
  return r.json as BuildResult;
}
