// Tag selection for sync: an explicit list, regex allow/deny, a semver range, the newest N by semver; deterministic
// order.
//
// The rules, in order:
//   candidates = every tag of the source matching an `allow` regex or the `semver` range
//                (neither given: every tag), minus those matching a `deny` regex;
//   `latest: N` keeps the N newest semver tags of the candidates (non-semver candidates stay only
//                when an `allow` regex picked them, e.g. `edge`);
//   selected   = `list` ∪ candidates (`list` tags are taken as named; deny does not apply to them).
// Loose tags are read as versions: `3.20` → 3.20.0, `v1` → 1.0.0, `1.27.0-alpine` → a pre-release; a tag that is not a
// version (`latest`, `edge`, `3.20.1.4`) never matches a semver range. Ranges skip pre-releases unless `prerelease:
// true`. Only the parts of semver used here (the whole package costs start-up time); plan.ts imports this module
// lazily.
import type { SemVer } from 'semver';
import parse from 'semver/functions/parse.js';
import rcompare from 'semver/functions/rcompare.js';
import satisfies from 'semver/functions/satisfies.js';
import type { TagRules } from './spec.js';

const LOOSE = /^v?(\d{1,15})(?:\.(\d{1,15}))?(?:\.(\d{1,15}))?((?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$/;

/** The version a tag stands for, or undefined when it is not one. */
export function tagVersion(tag: string): SemVer | undefined {
  const m = LOOSE.exec(tag);
  if (!m) return undefined;
  const text = `${Number(m[1])}.${Number(m[2] ?? 0)}.${Number(m[3] ?? 0)}${m[4]}`;
  return parse(text) ?? undefined;
}

/** Newest version first (ties by name), then tags that are not versions, by name. */
export function compareTags(a: string, b: string): number {
  const va = tagVersion(a);
  const vb = tagVersion(b);
  if (va && vb) {
    const c = rcompare(va, vb);
    if (c !== 0) return c;
  } else if (va || vb) return va ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether `rules` can be answered without listing the source's tags. */
export function needsListing(rules: TagRules): boolean {
  return Boolean(rules.allow || rules.deny || rules.semver || rules.latest);
}

/** The longest tag the grammar allows; a longer "tag" from a listing is dropped before any regex sees it. */
const MAX_TAG_LENGTH = 128;

/**
 * The tags `rules` select from `all` (a listing). Regexes run in a worker thread (src/sync/regex-worker.ts) so that
 * SIGINT/SIGTERM (`signal`) still stop a user regex that backtracks forever on a hostile tag.
 */
export async function selectTags(all: readonly string[], rules: TagRules, signal?: AbortSignal): Promise<string[]> {
  const chosen = new Set<string>(rules.list ?? []);
  if (needsListing(rules)) {
    const listed = [...new Set(all)].filter((t) => t.length > 0 && t.length <= MAX_TAG_LENGTH);
    const allow = rules.allow ?? [];
    const deny = rules.deny ?? [];
    const { testAll } = await import('./regex-worker.js');
    const hits = await testAll([...allow, ...deny], listed, signal);
    const any = (from: number, to: number) => (i: number) => hits.slice(from, to).some((h) => h[i] === 1);
    const allowedAt = any(0, allow.length);
    const deniedAt = any(allow.length, allow.length + deny.length);
    const bySemver = (t: string) => {
      if (!rules.semver) return false;
      const v = tagVersion(t);
      return v !== undefined && satisfies(v, rules.semver, { includePrerelease: rules.prerelease ?? false });
    };
    const filtered = rules.allow || rules.semver;
    let candidates = listed
      .map((t, i) => ({ t, i }))
      .filter(({ t, i }) => (!filtered || allowedAt(i) || bySemver(t)) && !deniedAt(i));
    if (rules.latest !== undefined) {
      const versions = candidates
        .filter(({ t }) => tagVersion(t))
        .sort((a, b) => compareTags(a.t, b.t))
        .slice(0, rules.latest);
      const others = candidates.filter(({ t, i }) => !tagVersion(t) && allowedAt(i));
      candidates = [...versions, ...others];
    }
    for (const { t } of candidates) chosen.add(t);
  }
  return [...chosen].sort(compareTags);
}
