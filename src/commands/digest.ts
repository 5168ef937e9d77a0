// `digest REF`: the manifest digest, by HEAD where the registry allows (no Docker Hub pull counted).
import { choosePlatform, openResolved, parsePlatforms } from './shared.js';
import type { CommandDef } from './types.js';
import { warnRateLimit } from './flags.js';

export const digestCommand: CommandDef = {
  name: 'digest',
  args: '<ref>',
  summary: "print an image's manifest digest (a HEAD request: no pull counted on Docker Hub)",
  examples: ['regctl digest alpine:3.20', 'regctl digest --platform linux/arm64 alpine:3.20', 'regctl digest oci:./layout:3.20'],
  configure(cmd) {
    cmd.option('--platform <os/arch[/variant]>', "the digest of one platform's image in an index");
  },
  async run(ctx, [refText], opts) {
    const { loc, src, desc: head } = await openResolved(ctx, refText);
    try {
      const platforms = parsePlatforms(opts.platform);
      const desc = platforms ? (await choosePlatform(ctx, src, await src.getManifest(head.digest, ctx.signal), platforms, refText)).desc : head;
      if (loc.kind === 'registry') warnRateLimit(ctx, loc.ref.registry);
      return { stdout: desc.digest, json: { digest: desc.digest, mediaType: desc.mediaType, size: desc.size } };
    } finally {
      await src.close();
    }
  },
};
