// `copy SRC DST` (and the engine run that pull and push share): any location to any location.
import { copyLocations } from '../api/copy.js';
import type { AppContext } from '../context.js';
import { type Location, formatLocation, refuseCompressedOutput } from '../location/parse.js';
import type { ProgressSink } from '../output/progress.js';
import type { Platform } from '../oci/platform.js';
import { paint } from '../output/color.js';
import { formatBytes } from '../output/render.js';
import { type CommandDef, type CommandResult, collect } from './types.js';
import { locationOf, parsePlatforms } from './shared.js';
import { addCreateRepoFlags, createRepoSettings } from './flags.js';
import type { CreateRepoSettings } from '../ecr/api.js';
import type { CopyResult } from '../copy/copy.js';
import { UsageError } from '../errors.js';
import type { ImageRef } from '../location/reference.js';

export async function runCopy(
  ctx: AppContext,
  from: string | Location,
  dst: Location,
  platforms: Platform[] | undefined,
  createRepo?: CreateRepoSettings,
  referrers?: { types?: string[] },
): Promise<CommandResult> {
  const src = typeof from === 'string' ? locationOf(from) : from;
  refuseCompressedOutput(dst);
  if (referrers && (src.kind !== 'registry' || dst.kind !== 'registry')) {
    throw new UsageError('--referrers: referrers are copied between registries only (both SRC and DST a registry)');
  }
  const { createSink } = await import('../output/progress.js');
  let sink: ProgressSink | undefined;
  try {
    const result = await copyLocations(ctx, src, dst, {
      platforms,
      createRepo,
      ready: async () => {
        sink = await createSink(ctx.io, ctx.globals, '');
      },
      onEvent: (e) => sink?.handle(e),
    });
    const { sent, existed, mounted } = result.blobs;
    const parts = [`${sent} blob${sent === 1 ? '' : 's'} sent (${formatBytes(result.bytesSent)})`];
    if (existed) parts.push(`${existed} already there`);
    if (mounted) parts.push(`${mounted} mounted`);
    const p = paint();
    sink?.finish(
      result.upToDate ? `${formatLocation(dst)} is ${p.dim('up to date')}` : `${p.ok('copied')}: ${parts.join(', ')}`,
    );
    if (!result.upToDate && sent === 0) ctx.log.info('no blob bytes were sent');
    const attached =
      referrers && src.kind === 'registry' && dst.kind === 'registry'
        ? await withReferrers(ctx, src.ref, dst.ref, result, referrers.types)
        : undefined;
    return {
      stdout: result.reference,
      json: {
        reference: result.reference,
        digest: result.digest,
        mediaType: result.mediaType,
        upToDate: result.upToDate,
        bytesSent: result.bytesSent,
        blobs: result.blobs,
        ...(attached ? { referrers: attached } : {}),
      },
    };
  } catch (err) {
    sink?.fail();
    throw err;
  }
}

/** Copies the referrers of what copyImage copied, and says what it did on stderr. */
async function withReferrers(ctx: AppContext, src: ImageRef, dst: ImageRef, result: CopyResult, types?: string[]) {
  const { copyReferrers, copiedDigests } = await import('../referrers/write.js');
  const roots = await copiedDigests(ctx, dst, result.digest, result.mediaType, ctx.signal);
  const warn = (m: string) => ctx.log.warn(m);
  const r = await copyReferrers(ctx, src, dst, roots, { types, jobs: ctx.globals.jobs, signal: ctx.signal, warn });
  const copied = `${r.copied} copied (${formatBytes(r.bytesSent)})`;
  ctx.log.info(`referrers: ${r.found} found, ${copied}, ${r.existed} already there`);
  return r;
}

export const copyCommand: CommandDef = {
  name: 'copy',
  aliases: ['cp'],
  args: '<src> <dst>',
  summary: 'copy an image (or a whole multi-arch index) from any location to any location',
  examples: [
    'regctl copy docker.io/library/alpine:3.20 123456789012.dkr.ecr.us-east-1.amazonaws.com/alpine:3.20',
    'regctl copy --platform linux/arm64 alpine:3.20 localhost:5000/alpine:3.20-arm64',
    'regctl copy alpine:3.20 oci:./layout:3.20',
    'regctl copy --referrers alpine:3.20 123456789012.dkr.ecr.us-east-1.amazonaws.com/alpine:3.20',
  ],
  configure(cmd) {
    cmd.option(
      '--platform <os/arch[/variant]>',
      'copy only this platform of an index (repeatable: a new index of those)',
      collect,
    );
    cmd.option('--referrers', 'also copy what points at the image (signatures, SBOMs, attestations), recursively');
    const typeHelp = 'with --referrers: only referrers of this artifactType (repeatable)';
    cmd.option('--referrers-type <mediatype>', typeHelp, collect);
    addCreateRepoFlags(cmd);
  },
  run(ctx, [src, dst], opts) {
    const types = opts.referrersType as string[] | undefined;
    if (types && !opts.referrers) throw new UsageError('--referrers-type needs --referrers');
    const referrers = opts.referrers ? { types } : undefined;
    return runCopy(ctx, src, locationOf(dst), parsePlatforms(opts.platform), createRepoSettings(opts), referrers);
  },
};
