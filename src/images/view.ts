// `images` presentation: --filter terms, --sort keys, the aligned table and the JSON rows.
import { UsageError } from '../errors.js';
import { parseDuration } from '../lifecycle/duration.js';
import { MT } from '../oci/media-types.js';
import { shortDigest } from '../oci/digest.js';
import { formatBytes, table } from '../output/render.js';
import type { ImageRow } from './list.js';

export type SortKey = 'tag' | 'created' | 'pushed' | 'size';
export const SORT_KEYS: SortKey[] = ['tag', 'created', 'pushed', 'size'];

export type Filter = (row: ImageRow, now: number) => boolean;

/** The time an image counts from: pushed where the registry says (ECR), else its config's created. */
export const timeOf = (r: ImageRow): number | undefined => {
  const t = Date.parse(r.pushed ?? r.created ?? '');
  return Number.isFinite(t) ? t : undefined;
};

const KEYS = /^(tag=|untagged$|tagged$|older=|newer=|platform=)/;

/** `tag=RE,untagged,older=30d` (terms ANDed; repeat --filter for more): a predicate. A comma inside a regex stays. */
export function parseFilters(values: string[]): Filter[] {
  const terms: string[] = [];
  for (const v of values) {
    for (const piece of v.split(',')) {
      if (terms.length > 0 && !KEYS.test(piece) && /^tag=/.test(terms.at(-1)!)) terms[terms.length - 1] += `,${piece}`;
      else terms.push(piece);
    }
  }
  return terms.map((term): Filter => {
    const [key, ...rest] = term.split('=');
    const value = rest.join('=');
    switch (key) {
      case 'tag': {
        let re: RegExp;
        try {
          re = new RegExp(value);
        } catch (err) {
          throw new UsageError(`--filter tag=${value}: ${(err as Error).message}`);
        }
        return (r) => r.tags.some((t) => re.test(t));
      }
      case 'untagged':
        return (r) => r.tags.length === 0;
      case 'tagged':
        return (r) => r.tags.length > 0;
      case 'older':
      case 'newer': {
        const ms = parseDuration(value);
        if (ms === undefined) throw new UsageError(`--filter ${key}=${value}: unreadable duration (e.g. 30d, 12h, 2w)`);
        return key === 'older'
          ? (r, now) => (timeOf(r) ?? Infinity) < now - ms
          : (r, now) => (timeOf(r) ?? -Infinity) >= now - ms;
      }
      case 'platform':
        return (r) => r.platforms.includes(value);
      default:
        throw new UsageError(
          `--filter: unknown term ${JSON.stringify(term)}`,
          'terms: tag=RE, untagged, tagged, older=DUR, newer=DUR, platform=OS/ARCH',
        );
    }
  });
}

const dateMs = (s: string | undefined) => (s ? Date.parse(s) || 0 : 0);

export function sortRows(rows: ImageRow[], key: SortKey | undefined): ImageRow[] {
  const out = [...rows];
  const byDigest = (a: ImageRow, b: ImageRow) => a.digest.localeCompare(b.digest);
  switch (key) {
    case 'tag':
      return out.sort(
        (a, b) =>
          (a.tags[0] === undefined ? 1 : b.tags[0] === undefined ? -1 : a.tags[0].localeCompare(b.tags[0])) ||
          byDigest(a, b),
      );
    case 'created':
      return out.sort((a, b) => dateMs(b.created) - dateMs(a.created) || byDigest(a, b));
    case 'pushed':
      return out.sort((a, b) => dateMs(b.pushed) - dateMs(a.pushed) || byDigest(a, b));
    case 'size':
      return out.sort((a, b) => (b.size ?? -1) - (a.size ?? -1) || byDigest(a, b));
    default:
      return out.sort((a, b) => (timeOf(b) ?? 0) - (timeOf(a) ?? 0) || byDigest(a, b));
  }
}

const SHORT_TYPES: Record<string, string> = {
  [MT.ociIndex]: 'oci index',
  [MT.ociManifest]: 'oci image',
  [MT.dockerList]: 'docker list',
  [MT.dockerManifest]: 'docker image',
};

const when = (iso: string | undefined) =>
  iso
    ? iso
        .replace('T', ' ')
        .replace(/(:\d\d)(\.\d+)?Z$/, '$1Z')
        .slice(0, 20)
    : '-';

export function tagsText(tags: string[], max = 4): string {
  if (tags.length === 0) return '<untagged>';
  return tags.length <= max ? tags.join(',') : `${tags.slice(0, max).join(',')} +${tags.length - max} more`;
}

export function renderTable(rows: ImageRow[], withPushed: boolean): string {
  const header = ['TAGS', 'DIGEST', 'TYPE', 'PLATFORMS', 'SIZE', 'CREATED', ...(withPushed ? ['PUSHED'] : [])];
  const body = rows.map((r) => [
    tagsText(r.tags),
    shortDigest(r.digest),
    SHORT_TYPES[r.mediaType] ?? (r.mediaType || '-'),
    r.platforms.join(',') || '-',
    r.size === undefined ? '-' : formatBytes(r.size),
    when(r.created),
    ...(withPushed ? [when(r.pushed)] : []),
  ]);
  return table(body, header);
}
