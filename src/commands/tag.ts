// `tag REF NEWTAG…`: the same manifest bytes under more tags in the same repository; no blob moves.
import { tagImage } from '../api/registry.js';
import type { CommandDef } from './types.js';

export const tagCommand: CommandDef = {
  name: 'tag',
  args: '<ref> <newtag...>',
  summary: 'add tags to an image in the same repository (no blob moves; the digest is unchanged)',
  examples: ['regctl tag localhost:5000/app:1.4.2 1.4 1 latest'],
  async run(ctx, [refText, ...tags]) {
    const { digest, tags: refs } = await tagImage(ctx, refText, tags);
    return { stdout: refs.map((r) => `${r}@${digest}`).join('\n'), json: { digest, tags: refs } };
  },
};
