// `rm REF`: delete a manifest; a tag is resolved to its digest first (the registry deletes by digest).
import { RegctlError } from '../errors.js';
import { formatReference } from '../location/reference.js';
import { registryRef } from './shared.js';
import type { CommandDef } from './types.js';

export const rmCommand: CommandDef = {
  name: 'rm',
  aliases: ['delete'],
  args: '<ref>',
  summary: 'delete an image manifest (a tag is resolved to its digest first: every tag of that digest goes)',
  examples: ['regctl rm localhost:5000/app:old', 'regctl rm localhost:5000/app@sha256:…'],
  async run(ctx, [refText]) {
    const ref = registryRef(refText);
    const client = ctx.client('dst');
    const repo = { registry: ref.registry, repository: ref.repository };
    const desc = await client.headManifest(repo, ref.digest ?? ref.tag ?? 'latest', ctx.signal);
    if (!desc) throw new RegctlError('NOT_FOUND', `${formatReference(ref)}: image not found`);
    await client.deleteManifest(repo, desc.digest, ctx.signal);
    const gone = formatReference({ ...ref, tag: undefined }, { digest: desc.digest });
    return { stdout: `deleted ${gone}`, json: { deleted: gone, digest: desc.digest } };
  },
};
