// `inspect` of a docker-archive holding several images (`docker save a b`): a list of their names and image IDs.
import type { AppContext } from '../context.js';
import { formatLocation, parseLocation } from '../location/parse.js';
import { table } from '../output/render.js';
import { escapeControl } from '../util/escape.js';
import type { CommandResult } from './types.js';

/**
 * The listing when `refText` is an unnamed docker-archive (prefixed, or a path detected as one) holding more than
 * one image; undefined when the usual inspect applies (one image, a name given, --raw/--config/--platform).
 */
export async function inspectArchiveList(
  ctx: AppContext,
  refText: string,
  opts: Record<string, unknown>,
): Promise<CommandResult | undefined> {
  if (opts.raw || opts.config || opts.platform) return undefined;
  const loc = parseLocation(refText);
  let path: string;
  if (loc.kind === 'docker-archive' && loc.name === undefined) path = loc.path;
  else if (loc.kind === 'path') {
    const { detectLocalKind } = await import('../transports/sniff.js');
    if ((await detectLocalKind(loc.path).catch(() => undefined)) !== 'docker-archive') return undefined;
    path = loc.path;
  } else return undefined;
  const { listDockerArchive } = await import('../transports/docker-archive-read.js');
  const images = await listDockerArchive(path, ctx.signal);
  if (!images || images.length < 2) return undefined;
  const name = formatLocation({ kind: 'docker-archive', path });
  const rows = images.map((i) => [
    `  ${i.names.length ? i.names.map((n) => escapeControl(n, { field: true })).join(', ') : '<none>'}`,
    i.id,
    i.platform ? escapeControl(i.platform, { field: true }) : 'unknown',
    `${i.layers} layer${i.layers === 1 ? '' : 's'}`,
  ]);
  const lines = [
    `Name:        ${escapeControl(name, { field: true })}`,
    `Images:      ${images.length}`,
    table(rows),
    `(one image: regctl inspect ${escapeControl(name, { field: true })}:NAME:TAG)`,
  ];
  return { stdout: lines.join('\n'), json: { name, images } };
}
