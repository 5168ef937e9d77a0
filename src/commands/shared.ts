// Helpers several commands share: platform flags, registry-only arguments, opening a source and reading its config.
import { statSync } from 'node:fs';
import { type AppContext, sourceDeps } from '../context.js';
import { RegctlError, UsageError } from '../errors.js';
import { type Location, parseLocation } from '../location/parse.js';
import type { ImageRef } from '../location/reference.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import { type Platform, parsePlatform } from '../oci/platform.js';
import type { ImageSource } from '../transports/types.js';

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
export async function readConfigBlob(ctx: AppContext, src: ImageSource, desc: Descriptor): Promise<Uint8Array> {
  const { readSmallBlob } = await import('../copy/verify.js');
  const bytes = await readSmallBlob(desc, () => src.getBlob(desc, { signal: ctx.signal }));
  if (!bytes) throw new UsageError(`blob ${desc.digest} is over the 4 MiB limit for configs`);
  return bytes;
}

/**
 * A location from the command line. A bare name (`saved.tar`) is a Docker Hub image, as docker reads it; where that
 * name is also a file here (or a directory named like a file), the user most likely meant it: say so (exit 2) rather
 * than ask Docker Hub.
 */
export function locationOf(text: string): Location {
  const loc = parseLocation(text);
  if (loc.kind !== 'registry' || loc.ref.registry !== 'docker.io') return loc;
  if (/^(docker:\/\/|([\w-]+\.)*docker\.(io|com)\/)/.test(text)) return loc;
  const local = text.replace(/@.*$/, '');
  let st;
  try {
    st = statSync(local);
  } catch {
    return loc;
  }
  // A directory named like an image (`oci:alpine` made ./alpine) does not shadow the image; `saved.oci` does.
  if (!st.isFile() && !/\.[^/]*$/.test(local.replace(/\/+$/, ''))) return loc;
  throw new UsageError(
    `${text}: did you mean ./${local}? A name without ./ is a Docker Hub image (docker.io/${loc.ref.repository})`,
    `write ./${local} for the local ${st.isDirectory() ? 'directory' : 'file'}, ` +
      `or docker.io/${loc.ref.repository} for the Docker Hub image`,
  );
}

/**
 * A local path argument: `./x`, `/x`, or a `kind:` location; a bare name is taken as `./name`. Registry refs are
 * refused.
 */
export function localLocation(path: string, verb: string): Location {
  const loc = parseLocation(path.includes(':') || path.startsWith('.') || path.startsWith('/') ? path : `./${path}`);
  if (loc.kind === 'registry') throw new UsageError(`${verb} a local path, got ${JSON.stringify(path)}`);
  return loc;
}

/** Opens a location as a source and resolves it; a missing image is a NOT_FOUND error (and the source is closed). */
export async function openResolved(ctx: AppContext, refText: string) {
  const loc = locationOf(refText);
  const { openSource } = await import('../transports/open.js');
  const src = await openSource(loc, sourceDeps(ctx));
  try {
    const desc = await src.resolve(ctx.signal);
    if (!desc) {
      throw new RegctlError('NOT_FOUND', `${refText}: image not found`);
    }
    return { loc, src, desc };
  } catch (err) {
    await src.close();
    throw err;
  }
}

/** One platform's image of an index (the host's when `platforms` is undefined); an image manifest is returned as is. */
export async function choosePlatform(
  ctx: AppContext,
  src: ImageSource,
  m: FetchedManifest,
  platforms: Platform[] | undefined,
  where: string,
): Promise<FetchedManifest> {
  const [{ selectRoot }, { hostPlatform }] = await Promise.all([
    import('../copy/plan.js'),
    import('../oci/platform.js'),
  ]);
  return selectRoot(src, m, {
    platforms,
    singleImage: true,
    defaultPlatform: hostPlatform(),
    jobs: 1,
    signal: ctx.signal,
    where,
  });
}
