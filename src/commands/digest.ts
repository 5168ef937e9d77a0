// `digest REF`: the manifest digest, by HEAD where the registry allows (no Docker Hub pull counted).
import { parseLocation } from '../location/parse.js';
import { parsePlatforms } from './shared.js';
import type { CommandDef } from './types.js';
import { warnRateLimit } from './inspect.js';

export const digestCommand: CommandDef = {
  name: 'digest',
  args: '<ref>',
  summary: "print an image's manifest digest (a HEAD request: no pull counted on Docker Hub)",
  examples: ['regctl digest alpine:3.20', 'regctl digest --platform linux/arm64 alpine:3.20', 'regctl digest oci:./layout:3.20'],
  configure(cmd) {
    cmd.option('--platform <os/arch[/variant]>', "the digest of one platform's image in an index");
  },
  async run(ctx, [refText], opts) {
    const loc = parseLocation(refText);
    const { openSource } = await import('../transports/open.js');
    const src = await openSource(loc, ctx);
    try {
      const platforms = parsePlatforms(opts.platform);
      let desc = await src.resolve(ctx.signal);
      if (!desc) {
        const { RegctlError } = await import('../errors.js');
        throw new RegctlError('NOT_FOUND', `${refText}: image not found`);
      }
      if (platforms) {
        const { selectRoot } = await import('../copy/plan.js');
        const { hostPlatform } = await import('../oci/platform.js');
        const root = await src.getManifest(desc.digest, ctx.signal);
        const chosen = await selectRoot(src, root, { platforms, singleImage: true, defaultPlatform: hostPlatform(), jobs: 1, signal: ctx.signal, where: refText });
        desc = chosen.desc;
      }
      if (loc.kind === 'registry') warnRateLimit(ctx, loc.ref.registry);
      return { stdout: desc.digest, json: { digest: desc.digest, mediaType: desc.mediaType, size: desc.size } };
    } finally {
      await src.close();
    }
  },
};
