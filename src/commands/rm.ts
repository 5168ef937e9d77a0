// `rm REF`: delete an image; `rm REPO:TAG` whose image other tags name removes that tag alone (--force: the image).
import { RegctlError, hasCode } from '../errors.js';
import { formatReference } from '../location/reference.js';
import { registryRef } from './shared.js';
import type { CommandDef } from './types.js';

/** The verb's -s after a list of one. */
const s1 = (list: string[]): string => (list.length === 1 ? 's' : '');

export const rmCommand: CommandDef = {
  name: 'rm',
  aliases: ['delete'],
  args: '<ref>',
  summary: 'delete an image; of a tag that shares its image with other tags, only that tag goes (--force: the image)',
  examples: [
    'regctl rm localhost:5000/app:old',
    'regctl rm localhost:5000/app@sha256:…',
    'regctl rm --force localhost:5000/app:v1.2.0',
  ],
  configure(cmd) {
    cmd.option('--force', 'delete the image even when other tags name it (they go with it)');
  },
  async run(ctx, [refText], opts) {
    const ref = registryRef(refText);
    const client = ctx.client('dst');
    const repo = { registry: ref.registry, repository: ref.repository };
    const desc = await client.headManifest(repo, ref.digest ?? ref.tag ?? 'latest', ctx.signal);
    if (!desc) throw new RegctlError('NOT_FOUND', `${formatReference(ref)}: image not found`);
    const tag = ref.digest ? undefined : (ref.tag ?? 'latest');
    const [{ otherTags, untag }, { RegistryError }, { parseEcrHost }] = await Promise.all([
      import('../registry-client/untag.js'),
      import('../registry-client/errors.js'),
      import('../ecr/host.js'),
    ]);
    const others = tag ? await otherTags(client, repo, tag, desc.digest, ctx.signal) : [];
    const name = formatReference(ref);
    if (tag && others.length && !opts.force) {
      const ecr = parseEcrHost(ref.registry) || ctx.config().hosts[ref.registry]?.type === 'ecr';
      let how: string;
      try {
        how = await untag(client, repo, tag, desc, { uploadMode: ecr ? 'patch' : 'put', signal: ctx.signal });
      } catch (err) {
        if (!(err instanceof RegistryError) && !hasCode(err, 'DELETE_UNSUPPORTED')) throw err;
        const which = `${others.join(', ')} also name${s1(others)} this image`;
        const why = `the registry cannot remove one tag alone (${(err as Error).message})`;
        throw new RegctlError('UNTAG_UNSUPPORTED', `${name}: ${which}, and ${why}`, {
          hint: `regctl rm --force ${name} deletes the image with all its tags`,
          cause: err,
        });
      }
      // A registry that takes a tag DELETE as a manifest DELETE (as zot once did) takes the other tags with it: say so.
      const kept = await client.headManifest(repo, others[0], ctx.signal);
      if (kept?.digest !== desc.digest) {
        const what = `the registry deleted the image, not only the tag: ${others.join(', ')} went with it`;
        throw new RegctlError('UNTAG_FAILED', `${name}: ${what}`);
      }
      return {
        stdout: `untagged ${name} (${desc.digest} is kept: ${others.join(', ')} still name${s1(others)} it)`,
        json: { untagged: name, digest: desc.digest, keptTags: others, how },
      };
    }
    await client.deleteManifest(repo, desc.digest, ctx.signal);
    const gone = formatReference({ ...ref, tag: undefined }, { digest: desc.digest });
    const also = others.length ? `\nthe tags ${others.join(', ')} named it too and went with it` : '';
    const tags = tag ? [tag, ...others] : [];
    return { stdout: `deleted ${gone}${also}`, json: { deleted: gone, digest: desc.digest, tags } };
  },
};
