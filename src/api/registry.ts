// What digest, tag and ls do, for the library and the CLI alike: values out, nothing printed.
import type { AppContext } from '../context.js';
import { UsageError } from '../errors.js';
import { type ImageRef, formatReference, parseRepository, withTag } from '../location/reference.js';
import type { Location } from '../location/parse.js';
import type { Platform } from '../oci/platform.js';
import { choosePlatform, openResolved, registryRef } from '../commands/shared.js';

export interface DigestFound {
  digest: string;
  mediaType: string;
  size: number;
  /** Where it was read from (a registry location: rate-limit warnings name its host). */
  location: Location;
}

/** An image's manifest digest: by HEAD where the registry allows; with `platforms`, that image of an index. */
export async function digestOf(ctx: AppContext, refText: string, platforms?: Platform[]): Promise<DigestFound> {
  const { loc, src, desc: head } = await openResolved(ctx, refText);
  try {
    const desc = platforms
      ? (await choosePlatform(ctx, src, await src.getManifest(head.digest, ctx.signal), platforms, refText)).desc
      : head;
    return { digest: desc.digest, mediaType: desc.mediaType, size: desc.size, location: loc };
  } finally {
    await src.close();
  }
}

export interface Tagged {
  digest: string;
  /** The new references, `registry/repository:tag`. */
  tags: string[];
}

/** The same manifest bytes under more tags of its repository; no blob moves. */
export async function tagImage(ctx: AppContext, refText: string, tags: string[]): Promise<Tagged> {
  const ref: ImageRef = registryRef(refText);
  if (tags.length === 0) throw new UsageError('give at least one new tag');
  const targets = tags.map((t) => {
    if (t.includes('/') || t.includes('@')) {
      throw new UsageError(
        `${JSON.stringify(t)} is not a tag: tag retags within the same repository (use copy for another)`,
      );
    }
    return withTag(ref, t.replace(/^:/, ''));
  });
  const client = ctx.client('dst');
  const repo = { registry: ref.registry, repository: ref.repository };
  const m = await client.getManifest(repo, ref.digest ?? ref.tag ?? 'latest', ctx.signal);
  for (const t of targets) await client.putManifest(repo, t.tag!, m, ctx.signal);
  return { digest: m.desc.digest, tags: targets.map((t) => formatReference(t)) };
}

/** Every tag of a repository, across pages of `pageSize` (1 to 1000). */
export async function listTagsOf(ctx: AppContext, repoText: string, pageSize = 1000): Promise<string[]> {
  const ref = parseRepository(repoText);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new UsageError('--page-size takes a whole number from 1 to 1000');
  }
  return ctx.client('any').listTags({ registry: ref.registry, repository: ref.repository }, ctx.signal, pageSize);
}
