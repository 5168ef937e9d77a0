// `tag REF NEWTAG…`: the same manifest bytes under more tags in the same repository; no blob moves.
import { UsageError } from '../errors.js';
import { formatReference, withTag } from '../location/reference.js';
import { registryRef } from './shared.js';
import type { CommandDef } from './types.js';

export const tagCommand: CommandDef = {
  name: 'tag',
  args: '<ref> <newtag...>',
  summary: 'add tags to an image in the same repository (no blob moves; the digest is unchanged)',
  examples: ['regctl tag localhost:5000/app:1.4.2 1.4 1 latest'],
  async run(ctx, [refText, ...tags]) {
    const ref = registryRef(refText);
    if (tags.length === 0) throw new UsageError('give at least one new tag');
    const targets = tags.map((t) => {
      if (t.includes('/') || t.includes('@')) throw new UsageError(`${JSON.stringify(t)} is not a tag: tag retags within the same repository (use copy for another)`);
      return withTag(ref, t.replace(/^:/, ''));
    });
    const client = ctx.client('dst');
    const repo = { registry: ref.registry, repository: ref.repository };
    const m = await client.getManifest(repo, ref.digest ?? ref.tag ?? 'latest', ctx.signal);
    const out: string[] = [];
    for (const t of targets) {
      await client.putManifest(repo, t.tag!, m, ctx.signal);
      out.push(`${formatReference(t)}@${m.desc.digest}`);
    }
    return { stdout: out.join('\n'), json: { digest: m.desc.digest, tags: targets.map((t) => formatReference(t)) } };
  },
};
