// copyLocations: the copy every caller shares (the library's copy/pull/push and the CLI's), events out, no printing.
import { type AppContext, destinationDeps, sourceDeps } from '../context.js';
import type { CopyEvent, EventSink } from '../copy/events.js';
import type { CreateRepoSettings } from '../ecr/api.js';
import { type Location, refuseCompressedOutput } from '../location/parse.js';
import { formatReference } from '../location/reference.js';
import type { Platform } from '../oci/platform.js';
import { locationOf } from '../commands/shared.js';

/** Progress of a copy, as the library reports it. Byte events carry the bytes moved since the last one. */
export type ProgressEvent =
  | { type: 'blob-started'; digest: string; size: number }
  | { type: 'blob-bytes'; digest: string; bytes: number }
  | { type: 'blob-done'; digest: string; size: number; outcome: 'sent' | 'exists' | 'mounted' }
  | { type: 'manifest-written'; digest: string };

/** The engine's events as the library's ProgressEvent (the rest are the CLI's concern). */
export function progressOf(on: (e: ProgressEvent) => void): EventSink {
  const sizes = new Map<string, number>();
  return (e: CopyEvent) => {
    if (e.type === 'blob') {
      if (e.state === 'start') {
        sizes.set(e.digest, e.size);
        on({ type: 'blob-started', digest: e.digest, size: e.size });
      } else {
        const outcome = e.state === 'done' ? 'sent' : e.state;
        on({ type: 'blob-done', digest: e.digest, size: e.size ?? sizes.get(e.digest) ?? 0, outcome });
      }
    } else if (e.type === 'bytes') on({ type: 'blob-bytes', digest: e.digest, bytes: e.n });
    else if (e.type === 'manifest' && e.state === 'pushed') on({ type: 'manifest-written', digest: e.digest });
  };
}

export interface CopyRun {
  platforms?: Platform[] | undefined;
  createRepo?: CreateRepoSettings | undefined;
  onEvent?: EventSink;
  /** Read the root's platforms even when the copy was up to date at the first HEAD. */
  wantPlatforms?: boolean;
  /** Called once both sides are open, before anything moves (the CLI starts its progress view here). */
  ready?: () => Promise<void>;
}

/** The tag the root is written under: the destination's own, else the source's (`pull alpine:3.20 oci:dir`: 3.20). */
function tagFor(src: Location, dst: Location): string | undefined {
  const srcTag =
    src.kind === 'registry'
      ? src.ref.digest
        ? undefined
        : src.ref.tag
      : src.kind === 'oci' || src.kind === 'oci-archive'
        ? src.tag
        : undefined;
  switch (dst.kind) {
    case 'registry':
      return dst.ref.digest ? undefined : dst.ref.tag;
    case 'oci':
    case 'oci-archive':
      return dst.tag ?? srcTag;
    default:
      return srcTag;
  }
}

export async function copyLocations(
  ctx: AppContext,
  from: string | Location,
  to: string | Location,
  run: CopyRun = {},
) {
  const src = typeof from === 'string' ? locationOf(from) : from;
  const dst = typeof to === 'string' ? locationOf(to) : to;
  refuseCompressedOutput(dst);
  const [{ openSource, openDestination }, { copyImage, platformsOf }] = await Promise.all([
    import('../transports/open.js'),
    import('../copy/copy.js'),
  ]);
  const source = await openSource(src, sourceDeps(ctx));
  try {
    const fromRef = src.kind === 'registry' && src.ref.tag && !src.ref.digest ? formatReference(src.ref) : undefined;
    // A docker-archive written from another keeps its name (RepoTags).
    const defaultName = fromRef ?? source.imageName;
    const dest = await openDestination(dst, destinationDeps(ctx, run.createRepo), { defaultName });
    await run.ready?.();
    const result = await copyImage(source, dest, {
      jobs: ctx.globals.jobs,
      lightJobs: ctx.globals.lightJobs,
      platforms: run.platforms,
      tag: tagFor(src, dst),
      retries: ctx.globals.retries,
      signal: ctx.signal,
      ...(run.onEvent ? { onEvent: run.onEvent } : {}),
    });
    // Up to date at the first HEAD: the root was not read. The library reads it for its platforms (one small GET; a
    // pull on Docker Hub's count, so the CLI, which does not print them, does not).
    let platforms = result.platforms ?? [];
    if (!result.platforms && run.wantPlatforms) {
      platforms = platformsOf(await source.getManifest(result.digest, ctx.signal));
    }
    return { ...result, platforms, dst };
  } finally {
    await source.close();
  }
}
