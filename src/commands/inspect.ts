// `inspect REF`: name, digest, media type, platforms, created, layers and sizes, labels, entrypoint/cmd; --raw,
// --config, --json.
import type { AppContext } from '../context.js';
import { formatLocation } from '../location/parse.js';
import type { ImageConfigDoc } from '../oci/config.js';
import type { FetchedManifest } from '../oci/manifest.js';
import { formatPlatform } from '../oci/platform.js';
import { jsonForTerminal } from '../util/escape.js';
import { formatBytes, table } from '../output/render.js';
import { warnRateLimit } from './flags.js';
import type { ImageSource } from '../transports/types.js';
import { inspectArchiveList } from './inspect-archive.js';
import { choosePlatform, openResolved, parsePlatforms, readConfigBlob } from './shared.js';
import type { CommandDef } from './types.js';

/** The manifest's (or index's) own annotations, from its bytes; {} when it has none. */
function annotationsOf(m: FetchedManifest): Record<string, string> {
  try {
    const a = (JSON.parse(Buffer.from(m.bytes).toString('utf8')) as { annotations?: unknown }).annotations;
    if (!a || typeof a !== 'object' || Array.isArray(a)) return {};
    return Object.fromEntries(Object.entries(a).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/** `Title:` then `  key=value` rows, or `Title:  -` when there are none. */
function section(title: string, rows: string[]): string[] {
  const none = ' '.repeat(Math.max(1, 12 - title.length)) + '-';
  return [`${title}:${rows.length ? '' : none}`, ...rows.map((r) => `  ${r}`)];
}

async function describeImage(ctx: AppContext, src: ImageSource, m: FetchedManifest) {
  if (m.manifest.kind !== 'image') throw new Error('not an image');
  const configBytes = await readConfigBlob(ctx, src, m.manifest.config);
  let cfg: Partial<ImageConfigDoc> = {};
  try {
    cfg = JSON.parse(Buffer.from(configBytes).toString('utf8')) as ImageConfigDoc;
  } catch {
    /* an artifact whose config is not an image config */
  }
  const layers = m.manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType }));
  return {
    digest: m.desc.digest,
    mediaType: m.desc.mediaType,
    configDigest: m.manifest.config.digest,
    platform: cfg.os
      ? formatPlatform({ os: cfg.os, architecture: cfg.architecture ?? '', variant: cfg.variant })
      : undefined,
    created: cfg.created,
    layers,
    totalSize: layers.reduce((n, l) => n + l.size, 0) + m.manifest.config.size + m.desc.size,
    labels: cfg.config?.Labels ?? {},
    entrypoint: cfg.config?.Entrypoint ?? null,
    cmd: cfg.config?.Cmd ?? null,
    env: cfg.config?.Env ?? [],
    annotations: annotationsOf(m),
    workingDir: cfg.config?.WorkingDir || undefined,
    user: cfg.config?.User || undefined,
    config: cfg,
  };
}

export const inspectCommand: CommandDef = {
  name: 'inspect',
  args: '<ref>',
  summary: 'show an image: digest, media type, platforms, created, layers and sizes, labels, entrypoint and cmd',
  examples: [
    'regctl inspect alpine:3.20',
    'regctl inspect --platform linux/arm64 --json alpine:3.20',
    'regctl inspect --raw alpine:3.20 | jq .',
    'regctl inspect --config oci:./layout:3.20',
  ],
  configure(cmd) {
    cmd.option('--raw', 'print the manifest bytes exactly as stored');
    cmd.option('--config', 'print the image config JSON');
    cmd.option('--platform <os/arch[/variant]>', 'inspect one platform of an index');
  },
  async run(ctx, [refText], opts) {
    const listed = await inspectArchiveList(ctx, refText, opts);
    if (listed) return listed;
    const { loc, src, desc } = await openResolved(ctx, refText);
    try {
      let m = await src.getManifest(desc.digest, ctx.signal);
      const platforms = parsePlatforms(opts.platform);
      if (platforms || (opts.config && m.manifest.kind === 'index'))
        m = await choosePlatform(ctx, src, m, platforms, refText);
      if (loc.kind === 'registry') warnRateLimit(ctx, loc.ref.registry);
      // The bytes as stored, nothing added: `inspect --raw REF | sha256sum` is `regctl digest REF`.
      if (opts.raw) return { raw: m.bytes, json: JSON.parse(Buffer.from(m.bytes).toString('utf8')) };
      const name = formatLocation(loc);
      // Referrers (signatures, SBOMs, attestations) of what is shown, counted by type: registries only.
      const counts =
        loc.kind === 'registry' && !opts.config
          ? await (await import('../referrers/count.js')).countReferrers(ctx, loc.ref, m.desc.digest)
          : undefined;
      const referrerLine = async () => `Referrers:   ${(await import('../referrers/count.js')).countsText(counts)}`;
      const referrersJson = counts ? { referrers: counts } : {};
      if (m.manifest.kind === 'index') {
        const entries = m.manifest.manifests.map((d) => ({
          platform: formatPlatform(d.platform),
          digest: d.digest,
          mediaType: d.mediaType,
          size: d.size,
          ...(d.annotations?.['vnd.docker.reference.type'] ? { type: d.annotations['vnd.docker.reference.type'] } : {}),
        }));
        const annotations = annotationsOf(m);
        const json = {
          name,
          digest: m.desc.digest,
          mediaType: m.desc.mediaType,
          annotations,
          manifests: entries,
          ...referrersJson,
        };
        const lines = [
          `Name:        ${name}`,
          `Digest:      ${m.desc.digest}`,
          `MediaType:   ${m.desc.mediaType}`,
          `Platforms:`,
          table(
            entries.map((e) => [`  ${e.platform}${'type' in e ? ` (${e.type})` : ''}`, e.digest, formatBytes(e.size)]),
          ),
          ...section(
            'Annotations',
            Object.entries(annotations).map(([k, v]) => `${k}=${v}`),
          ),
        ];
        if (loc.kind === 'registry') lines.push(await referrerLine());
        return { stdout: lines.join('\n'), json };
      }
      const info = await describeImage(ctx, src, m);
      if (opts.config) return { stdout: jsonForTerminal(info.config), json: info.config };
      const { config: _config, ...rest } = info;
      const json = { name, ...rest, ...referrersJson };
      const lines = [
        `Name:        ${name}`,
        `Digest:      ${info.digest}`,
        `MediaType:   ${info.mediaType}`,
        `Platform:    ${info.platform ?? 'unknown'}`,
        `Created:     ${info.created ?? 'unknown'}`,
        `Config:      ${info.configDigest}`,
        `Entrypoint:  ${info.entrypoint ? JSON.stringify(info.entrypoint) : '-'}`,
        `Cmd:         ${info.cmd ? JSON.stringify(info.cmd) : '-'}`,
      ];
      if (info.workingDir) lines.push(`WorkingDir:  ${info.workingDir}`);
      if (info.user) lines.push(`User:        ${info.user}`);
      lines.push(...section('Env', info.env));
      lines.push(
        ...section(
          'Labels',
          Object.entries(info.labels).map(([k, v]) => `${k}=${v}`),
        ),
      );
      lines.push(
        ...section(
          'Annotations',
          Object.entries(info.annotations).map(([k, v]) => `${k}=${v}`),
        ),
      );
      lines.push(
        `Layers:      ${info.layers.length}`,
        table(info.layers.map((l) => [`  ${l.digest}`, formatBytes(l.size)])),
      );
      lines.push(`Total size:  ${formatBytes(info.totalSize)}`);
      if (loc.kind === 'registry') lines.push(await referrerLine());
      return { stdout: lines.join('\n'), json };
    } finally {
      await src.close();
    }
  },
};
