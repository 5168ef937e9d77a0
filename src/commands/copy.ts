// `copy SRC DST` (and the engine run that pull and push share): any location to any location.
import { copyLocations } from '../api/copy.js';
import type { AppContext } from '../context.js';
import { type Location, formatLocation } from '../location/parse.js';
import type { ProgressSink } from '../output/progress.js';
import type { Platform } from '../oci/platform.js';
import { formatBytes } from '../output/render.js';
import { type CommandDef, type CommandResult, collect } from './types.js';
import { locationOf, parsePlatforms } from './shared.js';
import { addCreateRepoFlags, createRepoSettings } from './flags.js';
import type { CreateRepoSettings } from '../ecr/api.js';

export async function runCopy(
  ctx: AppContext, from: string | Location, dst: Location, platforms: Platform[] | undefined,
  createRepo?: CreateRepoSettings,
): Promise<CommandResult> {
  const { createSink } = await import('../output/progress.js');
  let sink: ProgressSink | undefined;
  try {
    const result = await copyLocations(ctx, from, dst, {
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
    sink?.finish(result.upToDate ? `${formatLocation(dst)} is up to date` : `copied: ${parts.join(', ')}`);
    if (!result.upToDate && sent === 0) ctx.log.info('no blob bytes were sent');
    return {
      stdout: result.reference,
      json: {
        reference: result.reference, digest: result.digest, mediaType: result.mediaType, upToDate: result.upToDate,
        bytesSent: result.bytesSent, blobs: result.blobs,
      },
    };
  } catch (err) {
    sink?.fail();
    throw err;
  }
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
  ],
  configure(cmd) {
    cmd.option('--platform <os/arch[/variant]>', 'copy only this platform of an index (repeatable: a new index of those)', collect);
    addCreateRepoFlags(cmd);
  },
  run(ctx, [src, dst], opts) {
    return runCopy(ctx, src, locationOf(dst), parsePlatforms(opts.platform), createRepoSettings(opts));
  },
};
