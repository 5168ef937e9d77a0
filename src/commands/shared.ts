// Helpers several commands share: platform flags, registry-only arguments, opening a source and reading its config.
import type { AppContext } from '../context.js';
import { UsageError } from '../errors.js';
import { type Location, parseLocation } from '../location/parse.js';
import type { ImageRef } from '../location/reference.js';
import { type Platform, parsePlatform } from '../oci/platform.js';

export function parsePlatforms(values: unknown): Platform[] | undefined {
  if (values === undefined) return undefined;
  const list = (Array.isArray(values) ? values : [values]).flatMap((v) => String(v).split(','));
  return list.map((v) => {
    const p = parsePlatform(v);
    if (!p) throw new UsageError(`invalid platform ${JSON.stringify(v)}: expected os/arch[/variant], e.g. linux/arm64`);
    return p;
  });
}

export function registryRef(text: string, what = 'reference'): ImageRef {
  const loc = parseLocation(text);
  if (loc.kind !== 'registry') throw new UsageError(`${what} must be a registry image, got ${JSON.stringify(text)}`);
  return loc.ref;
}

/** Reads a small JSON blob (a config) from a source, verified and capped at 4 MiB. */
export async function readSmallBlob(ctx: AppContext, src: import('../transports/types.js').ImageSource, desc: import('../oci/manifest.js').Descriptor): Promise<Uint8Array> {
  const { verified } = await import('../copy/verify.js');
  if (desc.size > 4 * 1024 * 1024) throw new UsageError(`blob ${desc.digest} is over the 4 MiB limit for configs`);
  const chunks: Uint8Array[] = [];
  for await (const c of verified(await src.getBlob(desc, { signal: ctx.signal }), desc)) chunks.push(c);
  return Buffer.concat(chunks);
}

export function locationOf(text: string): Location {
  return parseLocation(text);
}
