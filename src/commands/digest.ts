// `digest REF`: the manifest digest, by HEAD where the registry allows (no Docker Hub pull counted).
import { digestOf } from '../api/registry.js';
import { parsePlatforms } from './shared.js';
import type { CommandDef } from './types.js';
import { warnRateLimit } from './flags.js';

export const digestCommand: CommandDef = {
  name: 'digest',
  args: '<ref>',
  summary: "print an image's manifest digest (a HEAD request: no pull counted on Docker Hub)",
  examples: [
    'regctl digest alpine:3.20',
    'regctl digest --platform linux/arm64 alpine:3.20',
    'regctl digest oci:./layout:3.20',
  ],
  configure(cmd) {
    cmd.option('--platform <os/arch[/variant]>', "the digest of one platform's image in an index");
  },
  async run(ctx, [refText], opts) {
    const desc = await digestOf(ctx, refText, parsePlatforms(opts.platform));
    if (desc.location.kind === 'registry') warnRateLimit(ctx, desc.location.ref.registry);
    return { stdout: desc.digest, json: { digest: desc.digest, mediaType: desc.mediaType, size: desc.size } };
  },
};
