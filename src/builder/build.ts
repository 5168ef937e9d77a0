// regctl build: parse, check every needed stage up front, build each platform's image over its base, make the index.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppContext } from '../context.js';
import { UsageError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { FetchedManifest } from '../oci/manifest.js';
import { type Platform, formatPlatform, hostPlatform } from '../oci/platform.js';
import { BaseResolver } from './base.js';
import { type Flavor, encodeConfig, makeIndex, makeManifest } from './config.js';
import { BuildContext } from './context.js';
import { type StagedDockerfile, dockerfileError, parseDockerfile, toStages } from './dockerfile.js';
import { expandWord } from './expand.js';
import { isUrl, refuse, refuseUrl } from './instructions.js';
import type { BuiltLayer } from './layer.js';
import type { BlobOrigin, MadeImage } from './source.js';
import { PlatformBuild, SUPPORTED, globalArgs, platformArgs } from './stage.js';
import type { BuildOptions, LayerRef, Shared } from './types.js';

export interface BuildRequest {
  contextDir: string;
  dockerfileText: string;
  /** The Dockerfile's path, for `<Dockerfile>.dockerignore`. */
  dockerfilePath?: string;
  /** Target platforms; 'all': every platform of the final stage's base index; undefined: the host's. */
  platforms?: Platform[] | 'all';
  opts: Omit<BuildOptions, 'tmpDir'>;
}

export interface BuildResult {
  image: MadeImage;
  platforms: Platform[];
  /** The layers this build wrote that the image holds (distinct). */
  layers: BuiltLayer[];
  /** Base layers read to index their directory trees (not in the cache yet): how many, their bytes. */
  indexed: { layers: number; bytes: number };
  /** Removes the temporary layer files. */
  close(): Promise<void>;
}

/** Docker's predefined proxy args never count as unused. */
const PREDEFINED = /^(HTTPS?_PROXY|FTP_PROXY|NO_PROXY|ALL_PROXY)$/i;

function expandSafe(df: StagedDockerfile, text: string, globals: Map<string, string>): string {
  try {
    return expandWord(text, globals, df.escape);
  } catch {
    return text;
  }
}

function stageNamed(df: StagedDockerfile, name: string): number | undefined {
  const lower = name.toLowerCase();
  const s = df.stages.find((x) => x.name === lower);
  if (s) return s.index;
  return /^\d+$/.test(name) && Number(name) < df.stages.length ? Number(name) : undefined;
}

/** The stages the target needs (FROM a stage, COPY --from a stage), each instruction checked before anything runs. */
function neededStages(df: StagedDockerfile, target: number, globals: Map<string, string>): number[] {
  const seen = new Set<number>();
  const visit = (i: number) => {
    if (seen.has(i)) return;
    seen.add(i);
    const st = df.stages[i];
    const fromName = expandSafe(df, st.from.args.split(/\s+/)[0] ?? '', globals);
    const dep = stageNamed(df, fromName);
    if (dep !== undefined && dep < i) visit(dep);
    for (const ins of st.body) {
      if (!SUPPORTED.has(ins.keyword) || ins.keyword === 'FROM') refuse(ins);
      if (ins.keyword === 'ADD') for (const w of ins.json ?? ins.args.split(/\s+/)) if (isUrl(w)) refuseUrl(ins, w);
      const from = ins.flags.find((f) => f.name === 'from')?.value;
      const d = from === undefined ? undefined : stageNamed(df, expandSafe(df, from, globals));
      if (d !== undefined && d < i) visit(d);
    }
  };
  visit(target);
  return [...seen].sort((a, b) => a - b);
}

/** The platforms of the final stage's base image (following FROM <stage> links), for `--platform all`. */
async function basePlatforms(
  df: StagedDockerfile,
  target: number,
  globals: Map<string, string>,
  resolver: BaseResolver,
): Promise<Platform[]> {
  for (let i = target, hops = 0; hops <= df.stages.length; hops++) {
    const from = df.stages[i].from;
    const name = expandWord(from.args.split(/\s+/)[0], globals, df.escape);
    const dep = stageNamed(df, name);
    if (dep !== undefined && dep < i) {
      i = dep;
      continue;
    }
    if (name.toLowerCase() === 'scratch')
      throw dockerfileError(
        from.line,
        '--platform all needs a base image with several platforms, not scratch',
        'name the platforms: --platform linux/amd64 --platform linux/arm64',
      );
    return resolver.platforms(name, `Dockerfile:${from.line}: FROM`);
  }
  throw new UsageError('FROM stages form a loop');
}

export async function build(ctx: AppContext, req: BuildRequest): Promise<BuildResult> {
  const df = toStages(parseDockerfile(req.dockerfileText));
  const tmpDir = await mkdtemp(join(tmpdir(), 'regctl-build-'));
  const opts: BuildOptions = { ...req.opts, tmpDir };
  const resolver = new BaseResolver(ctx, req.contextDir, opts.warn, opts.namedContexts);
  // Base sources stay open until the image is pushed: base layers may still have to be copied from them.
  const close = async () => {
    await resolver.close().catch(() => {});
    await rm(tmpDir, { recursive: true, force: true });
  };
  try {
    let target = df.stages.length - 1;
    if (opts.target !== undefined) {
      const t = df.stages.find((s) => s.name === opts.target!.toLowerCase());
      if (!t)
        throw new UsageError(
          `--target ${opts.target}: no such stage (stages: ${df.stages.map((s) => s.name ?? s.index).join(', ')})`,
        );
      target = t.index;
    }
    const hostGlobals = new Map([...platformArgs(hostPlatform()), ...globalArgs(df, opts.buildArgs, hostPlatform())]);
    const needed = neededStages(df, target, hostGlobals);
    const context = await BuildContext.open(req.contextDir, req.dockerfilePath);
    const platforms =
      req.platforms === 'all'
        ? await basePlatforms(df, target, hostGlobals, resolver)
        : (req.platforms ?? [hostPlatform()]);
    const explicit = req.platforms !== undefined;
    const perPlatform = needed.reduce((n, i) => n + 1 + df.stages[i].body.length, 0);
    const finalChain = new Set<number>();
    for (let i: number | undefined = target; i !== undefined && !finalChain.has(i);) {
      finalChain.add(i);
      const dep = stageNamed(df, expandSafe(df, df.stages[i].from.args.split(/\s+/)[0] ?? '', hostGlobals));
      i = dep !== undefined && dep < i ? dep : undefined;
    }
    const steps = { total: perPlatform * platforms.length, done: 0 };
    const indexCache = { dir: opts.indexDir, read: { layers: 0, bytes: 0 } };
    const sh: Shared = {
      df,
      context,
      resolver,
      opts,
      layerCache: new Map(),
      consumedArgs: new Set(),
      finalChain,
      steps,
      indexes: new Map(),
      indexCache,
    };
    const children: Array<{ m: FetchedManifest; platform: Platform; flavor: Flavor }> = [];
    const blobs = new Map<Digest, BlobOrigin>();
    const baseDigests = new Set<Digest>();
    let baseRepo: MadeImage['baseRepo'];
    const finals: LayerRef[][] = [];
    for (const p of platforms) {
      const pb = new PlatformBuild(sh, p, explicit);
      const result = await pb.stage(target);
      finals.push(result.layers);
      const config = encodeConfig(pb.finalConfig(result), result.flavor);
      blobs.set(config.desc.digest, { bytes: config.bytes });
      for (const l of result.layers) {
        if (l.built) blobs.set(l.desc.digest, l.built.path ? { path: l.built.path } : { source: l.built.from! });
        else if (l.base) {
          if (!blobs.has(l.desc.digest)) blobs.set(l.desc.digest, { source: l.base.source });
          if (l.base === result.base) baseDigests.add(l.desc.digest);
        }
      }
      baseRepo ??= result.base?.source.registryRepo;
      const m = makeManifest(
        result.flavor,
        config.desc,
        result.layers.map((l) => l.desc),
      );
      const platform = {
        os: result.config.os,
        architecture: result.config.architecture,
        ...(result.config.variant ? { variant: result.config.variant } : {}),
      };
      if (children.some((c) => formatPlatform(c.platform) === formatPlatform(platform))) {
        throw new UsageError(`two of the asked platforms build the same ${formatPlatform(platform)} image`);
      }
      children.push({ m, platform, flavor: result.flavor });
    }
    const unused = [...opts.buildArgs.keys()].filter((k) => !sh.consumedArgs.has(k) && !PREDEFINED.test(k));
    if (unused.length)
      opts.warn(`build-arg${unused.length > 1 ? 's' : ''} ${unused.join(', ')} not consumed by any ARG`);
    const root =
      children.length === 1
        ? children[0].m
        : makeIndex(
            children[0].flavor,
            children.map((c) => ({ m: c.m, platform: c.platform })),
          );
    const layers = [
      ...new Map(
        finals.flatMap((ls) => ls.filter((l) => l.built).map((l) => [l.desc.digest, l.built!] as const)),
      ).values(),
    ];
    return {
      image: { root, children: children.length === 1 ? [] : children.map((c) => c.m), blobs, baseRepo, baseDigests },
      platforms: children.map((c) => c.platform),
      layers,
      indexed: indexCache.read,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
