// `referrers REF`: what points at an image (signatures, SBOMs, attestations), recursively: type, digest, size, created.
import { formatBytes, table } from '../output/render.js';
import { escapeControl } from '../util/escape.js';
import { registryRef } from './shared.js';
import { type CommandDef, collect } from './types.js';

const CREATED = ['org.opencontainers.image.created', 'org.opencontainers.artifact.created'];

export const referrersCommand: CommandDef = {
  name: 'referrers',
  args: '<ref>',
  summary: 'list what points at an image (signatures, SBOMs, attestations): artifact type, digest, size, annotations',
  examples: [
    'regctl referrers alpine:3.20',
    'regctl referrers --type application/spdx+json --json localhost:5000/app:v1',
  ],
  configure(cmd) {
    const help = 'only referrers of this artifactType (repeatable; their own referrers still listed)';
    cmd.option('--type <mediatype>', help, collect);
  },
  async run(ctx, [refText], opts) {
    const ref = registryRef(refText);
    const [{ RepoReferrers, discoverTree }, { RegctlError }] = await Promise.all([
      import('../referrers/discover.js'),
      import('../errors.js'),
    ]);
    const client = ctx.client('src');
    const repo = { registry: ref.registry, repository: ref.repository };
    const desc = await client.headManifest(repo, ref.digest ?? ref.tag ?? 'latest', ctx.signal);
    if (!desc) throw new RegctlError('NOT_FOUND', `${refText}: image not found`);
    const found = await discoverTree(new RepoReferrers(client, repo), [desc.digest], {
      signal: ctx.signal,
      warn: (m) => ctx.log.warn(m),
      types: opts.type as string[] | undefined,
    });
    const rows = found.map((r) => ({
      subject: r.subject,
      depth: r.depth,
      artifactType: r.desc.artifactType ?? '',
      mediaType: r.desc.mediaType,
      digest: r.desc.digest,
      size: r.desc.size,
      via: r.via,
      ...(r.tag ? { tag: r.tag } : {}),
      annotations: r.desc.annotations ?? {},
    }));
    const created = (a: Record<string, string>) => CREATED.map((k) => a[k]).find(Boolean) ?? '-';
    const lines = rows.map((r) => [
      escapeControl(`${'  '.repeat(r.depth - 1)}${r.artifactType || r.mediaType}`, { field: true }),
      r.digest,
      formatBytes(r.size),
      escapeControl(created(r.annotations), { field: true }),
      r.tag ? `tag ${escapeControl(r.tag, { field: true })}` : r.via,
    ]);
    const of = `${ref.registry}/${ref.repository}@${desc.digest}`;
    ctx.log.info(`${rows.length} referrer${rows.length === 1 ? '' : 's'} of ${of}`);
    return {
      stdout: rows.length ? table(lines, ['TYPE', 'DIGEST', 'SIZE', 'CREATED', 'FOUND BY']) : '',
      json: { subject: desc.digest, referrers: rows },
    };
  },
};
