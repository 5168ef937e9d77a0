// Sync planning: list and select tags, split into shards by a stable hash, resolve both sides by HEAD, mark copy / up
// to date.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { type AppContext, sourceDeps } from '../context.js';
import { UsageError, hasCode, isAbortError, isRegctlError } from '../errors.js';
import { type Location, formatLocation } from '../location/parse.js';
import { isTag } from '../location/reference.js';
import type { Descriptor } from '../oci/manifest.js';
import { isIndexType } from '../oci/media-types.js';
import { type Platform, formatPlatform } from '../oci/platform.js';
import type { SpecEntry, SyncSpec } from './spec.js';

/**
 * Written on a sub-index made for a platform subset, so a re-run can tell it is up to date without reading the source.
 */
export const SOURCE_DIGEST_ANNOTATION = 'org.regctl.sync.source.digest';
export const PLATFORMS_ANNOTATION = 'org.regctl.sync.platforms';

export interface Shard {
  index: number;
  count: number;
}

export interface ErrorInfo {
  code: string;
  message: string;
  hint?: string;
}

export interface PlanItem {
  /** The shard key and the name of the image: `SOURCE:TAG` (or `@digest`). */
  key: string;
  /** Which `sync:` entry it comes from. */
  entry: number;
  source: Location;
  target: Location;
  /** The tag written at the target. */
  tag?: string;
  platforms?: Platform[];
  /** Copy its referrers too (the entry's or the defaults' `referrers: true`). */
  referrers?: boolean;
  action: 'copy' | 'up-to-date' | 'error';
  sourceDigest?: string;
  targetDigest?: string;
  error?: ErrorInfo;
  /** What the plan's HEADs answered, so the copy does not ask again. */
  resolved?: { source: Descriptor; target?: Descriptor };
}

export interface Plan {
  /** This shard's images, in spec order then tag order (newest version first). */
  items: PlanItem[];
  /** Images in the whole spec, every shard together. */
  total: number;
  shard?: Shard;
  warnings: string[];
}

export interface PlanOptions {
  shard?: Shard;
  /** Concurrent tag listings and HEADs. */
  concurrency: number;
  signal: AbortSignal;
}

/** `I/N` (0-based) or `auto/N` (I from JOB_COMPLETION_INDEX, as a Kubernetes Indexed Job sets it). */
export function parseShard(text: string, env: NodeJS.ProcessEnv): Shard {
  const m = /^\s*(\d+|auto)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`--shard takes I/N (0-based, e.g. 0/3) or auto/N, got ${JSON.stringify(text)}`);
  const count = Number(m[2]);
  if (!Number.isSafeInteger(count) || count < 1) throw new UsageError(`--shard ${text}: N must be 1 or more`);
  let indexText = m[1];
  if (indexText === 'auto') {
    const v = env.JOB_COMPLETION_INDEX;
    if (v === undefined || v.trim() === '') {
      throw new UsageError(
        `--shard auto/${count}: JOB_COMPLETION_INDEX is not set`,
        'Kubernetes sets it in each pod of an Indexed Job (completionMode: Indexed); ' +
          'elsewhere give the index, e.g. --shard 0/3',
      );
    }
    if (!/^\d+$/.test(v.trim()))
      throw new UsageError(`--shard auto/${count}: JOB_COMPLETION_INDEX is ${JSON.stringify(v)}, not a whole number`);
    indexText = v.trim();
  }
  const index = Number(indexText);
  if (index >= count)
    throw new UsageError(`--shard ${index}/${count}: the index must be below ${count} (shards are 0-based)`);
  return { index, count };
}

/** The shard of an image: sha256 of its key, first 8 bytes, modulo N. Stable across machines and runs. */
export function shardOf(key: string, count: number): number {
  return Number(createHash('sha256').update(key).digest().readBigUInt64BE(0) % BigInt(count));
}

export function toErrorInfo(err: unknown): ErrorInfo {
  if (isRegctlError(err))
    return { code: err.code, message: err.message.replace(/\s*\n\s*/g, ' '), ...(err.hint ? { hint: err.hint } : {}) };
  return { code: 'ERROR', message: err instanceof Error ? err.message : String(err) };
}

/** `loc` under `tag`; a tag that is not one by the grammar never becomes a reference (nor a URL path). */
function withTag(loc: Location, tag: string): Location {
  if (!isTag(tag)) throw new UsageError(`invalid tag ${JSON.stringify(tag.slice(0, 140))}`);
  if (loc.kind === 'registry') return { kind: 'registry', ref: { ...loc.ref, tag, digest: undefined } };
  if (loc.kind === 'oci' || loc.kind === 'path') return { kind: 'oci', path: loc.path, tag };
  return loc;
}

function tagOf(loc: Location): string | undefined {
  if (loc.kind === 'registry') return loc.ref.tag;
  if (loc.kind === 'oci' || loc.kind === 'oci-archive') return loc.tag;
  return undefined;
}

/**
 * The source's tags that are tags: a name a registry or a layout lists may be anything (`v1/../../x`, a newline);
 * those are reported (the first few) and skipped, never requested.
 */
async function listValidTags(entry: SpecEntry, ctx: AppContext, signal: AbortSignal, warnings: string[]) {
  const listed = await listSourceTags(entry, ctx, signal);
  const bad = listed.filter((t) => !isTag(t));
  if (bad.length) {
    const some = bad
      .slice(0, 3)
      .map((t) => JSON.stringify(t.slice(0, 140)))
      .join(', ');
    const where = formatLocation(entry.source).replace(/:latest$/, '');
    const more = bad.length > 3 ? ', …' : '';
    const what = `skipped ${bad.length} listed name(s) that are not valid tags`;
    warnings.push(`sync[${entry.index}] (${where}): ${what}: ${some}${more}`);
  }
  return listed.filter(isTag);
}

async function listSourceTags(entry: SpecEntry, ctx: AppContext, signal: AbortSignal): Promise<string[]> {
  const src = entry.source;
  if (src.kind === 'registry')
    return ctx.client('src').listTags({ registry: src.ref.registry, repository: src.ref.repository }, signal);
  if (src.kind === 'oci') {
    const { DirFiles, readIndex, tagsOf } = await import('../transports/layout-read.js');
    return [...new Set(tagsOf(await readIndex(new DirFiles(src.path), signal)))];
  }
  return [];
}

/** The images one entry names: one, or one per selected tag. */
async function expandEntry(
  entry: SpecEntry,
  ctx: AppContext,
  signal: AbortSignal,
  warnings: string[],
): Promise<PlanItem[]> {
  const base = {
    entry: entry.index,
    ...(entry.platforms ? { platforms: entry.platforms } : {}),
    ...(entry.referrers ? { referrers: true } : {}),
  };
  if (!entry.tags) {
    const tag = entry.targetTag ?? tagOf(entry.source);
    const target = tag !== undefined ? withTag(entry.target, tag) : entry.target;
    return [{ ...base, key: formatLocation(entry.source), source: entry.source, target, tag, action: 'copy' }];
  }
  let tags: string[];
  try {
    const { needsListing, selectTags } = await import('./select.js');
    const listed = needsListing(entry.tags) ? await listValidTags(entry, ctx, signal, warnings) : [];
    tags = await selectTags(listed, entry.tags, signal);
  } catch (err) {
    if (isAbortError(err) && signal.aborted) throw err;
    const key = formatLocation(entry.source).replace(/:latest$/, '');
    return [{ ...base, key, source: entry.source, target: entry.target, action: 'error', error: toErrorInfo(err) }];
  }
  if (!tags.length)
    warnings.push(
      `sync[${entry.index}] (${formatLocation(entry.source).replace(/:latest$/, '')}): no tag matches the rules`,
    );
  const writeAs = entry.targetTag;
  return tags.map((tag) => {
    const source = withTag(entry.source, tag);
    const out = writeAs ?? tag;
    return {
      ...base,
      key: formatLocation(source),
      source,
      target: withTag(entry.target, out),
      tag: out,
      action: 'copy' as const,
    };
  });
}

async function resolveSource(loc: Location, ctx: AppContext, signal: AbortSignal): Promise<Descriptor | undefined> {
  if (loc.kind === 'registry') {
    const ref = loc.ref.digest ?? loc.ref.tag ?? 'latest';
    return ctx.client('src').headManifest({ registry: loc.ref.registry, repository: loc.ref.repository }, ref, signal);
  }
  const { openSource } = await import('../transports/open.js');
  const src = await openSource(loc, sourceDeps(ctx));
  try {
    return await src.resolve(signal);
  } finally {
    await src.close();
  }
}

/** What the target holds under the tag now; a layout that does not exist yet holds nothing (and is not created). */
async function resolveTarget(loc: Location, ctx: AppContext, signal: AbortSignal): Promise<Descriptor | undefined> {
  if (loc.kind === 'registry') {
    if (!loc.ref.tag) return undefined;
    return ctx
      .client('dst')
      .headManifest({ registry: loc.ref.registry, repository: loc.ref.repository }, loc.ref.tag, signal);
  }
  if (loc.kind !== 'oci' || loc.tag === undefined) return undefined;
  if (!(await stat(join(loc.path, 'index.json')).catch(() => undefined))) return undefined;
  const { openOciLayoutSource } = await import('../transports/oci-layout.js');
  const src = await openOciLayoutSource(loc, signal);
  try {
    return await src.resolve(signal);
  } catch (err) {
    if (hasCode(err, 'NOT_FOUND')) return undefined;
    throw err;
  } finally {
    await src.close();
  }
}

/**
 * A sub-index a previous sync wrote for this source digest and these platforms (one GET at the target, none at the
 * source).
 */
async function isSyncedSubset(
  item: PlanItem,
  target: Descriptor,
  sourceDigest: string,
  ctx: AppContext,
  signal: AbortSignal,
): Promise<boolean> {
  const t = item.target;
  let annotations: Record<string, string> | undefined;
  if (t.kind === 'registry') {
    const m = await ctx
      .client('dst')
      .getManifest({ registry: t.ref.registry, repository: t.ref.repository }, target.digest, signal);
    annotations = m.manifest.annotations;
  } else if (t.kind === 'oci') {
    const { openOciLayoutSource } = await import('../transports/oci-layout.js');
    const src = await openOciLayoutSource(t, signal);
    try {
      annotations = (await src.getManifest(target.digest, signal)).manifest.annotations;
    } finally {
      await src.close();
    }
  }
  return (
    annotations?.[SOURCE_DIGEST_ANNOTATION] === sourceDigest &&
    annotations?.[PLATFORMS_ANNOTATION] === platformsText(item.platforms)
  );
}

export function platformsText(platforms: Platform[] | undefined): string {
  return (platforms ?? []).map(formatPlatform).join(',');
}

async function resolveItem(item: PlanItem, ctx: AppContext, signal: AbortSignal): Promise<void> {
  try {
    const [src, dst] = await Promise.all([
      resolveSource(item.source, ctx, signal),
      resolveTarget(item.target, ctx, signal),
    ]);
    if (!src) {
      item.action = 'error';
      item.error = { code: 'NOT_FOUND', message: 'no such image at the source' };
      return;
    }
    item.sourceDigest = src.digest;
    if (dst) item.targetDigest = dst.digest;
    item.resolved = { source: src, ...(dst ? { target: dst } : {}) };
    const subset = Boolean(item.platforms?.length) && isIndexType(src.mediaType);
    if (!dst) item.action = 'copy';
    else if (!subset) item.action = dst.digest === src.digest ? 'up-to-date' : 'copy';
    else
      item.action =
        isIndexType(dst.mediaType) && (await isSyncedSubset(item, dst, src.digest, ctx, signal))
          ? 'up-to-date'
          : 'copy';
  } catch (err) {
    if (isAbortError(err) && signal.aborted) throw err;
    item.action = 'error';
    item.error = toErrorInfo(err);
  }
}

export async function makePlan(spec: SyncSpec, ctx: AppContext, opts: PlanOptions): Promise<Plan> {
  const limit = pLimit(Math.max(1, opts.concurrency));
  const warnings: string[] = [];
  const perEntry = await Promise.all(spec.entries.map((e) => limit(() => expandEntry(e, ctx, opts.signal, warnings))));
  // The same image to the same place twice is done once; two images to one target tag would overwrite each other.
  const writers = new Map<string, PlanItem>();
  const all = perEntry.flat().filter((item) => {
    if (item.action === 'error') return true;
    const where = formatLocation(item.target);
    const first = writers.get(where);
    if (!first) writers.set(where, item);
    else if (first.key === item.key && platformsText(first.platforms) === platformsText(item.platforms)) return false;
    else {
      item.action = 'error';
      item.error = {
        code: 'SPEC_CONFLICT',
        message: `${where} is also written by sync[${first.entry}] (${first.key})`,
      };
    }
    return true;
  });
  const shard = opts.shard;
  const items = shard ? all.filter((i) => shardOf(i.key, shard.count) === shard.index) : all;
  await Promise.all(
    items.filter((i) => i.action !== 'error').map((i) => limit(() => resolveItem(i, ctx, opts.signal))),
  );
  return { items, total: all.length, ...(shard ? { shard } : {}), warnings };
}
