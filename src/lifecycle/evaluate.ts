// The retention engine (pure): ECR lifecycle policies and the `prune` flags evaluated over a repository's images.
//
// ECR's semantics (docs "Lifecycle policy evaluation rules", examples A and B): rules run in rulePriority order; each
// rule sees every image its selection matches (counting images other rules already decided, "as if they haven't been
// expired") and marks, oldest first, those beyond its count or age; an image's fate is decided by the first rule whose
// tag requirements it meets — a later rule never expires it. Count rules order by push time, newest kept.
import { type LifecyclePolicy, type LifecycleRule, describeRule, notEvaluable, selects } from './policy.js';
import { formatAge } from './duration.js';

const DAY = 86_400_000;

export interface Candidate {
  digest: string;
  tags: string[];
  /**
   * ms since epoch the image counts from: pushed (ECR) or its config's created elsewhere; undefined = unknown (oldest).
   */
  time?: number;
}

export interface Verdict extends Candidate {
  expire: boolean;
  /** the rule that decided, as text (undefined: no rule selected the image) */
  rule?: string;
  reason: string;
}

/** Newest first; unknown times last; ties by digest so every run orders the same. */
function newestFirst<T extends Candidate>(images: readonly T[]): T[] {
  return [...images].sort((a, b) => (b.time ?? -Infinity) - (a.time ?? -Infinity) || a.digest.localeCompare(b.digest));
}

function marks(rule: LifecycleRule, selected: Candidate[], now: number): Map<string, string> {
  const out = new Map<string, string>(); // digest → why expired; absent → why kept is computed by the caller
  const s = rule.selection;
  if (s.countType === 'imageCountMoreThan') {
    newestFirst(selected).forEach((img, i) => {
      if (i >= s.countNumber) out.set(img.digest, `number ${i + 1} by push time, over the ${s.countNumber} kept`);
    });
  } else {
    for (const img of selected) {
      if (img.time !== undefined && now - img.time > s.countNumber * DAY)
        out.set(img.digest, `pushed ${formatAge(now - img.time)} ago, over ${s.countNumber} days`);
    }
  }
  return out;
}

/** The rules of a policy regctl cannot evaluate here, each named with the reason. */
export function unevaluatedRules(policy: LifecyclePolicy): string[] {
  return policy.rules.flatMap((r) => {
    const why = notEvaluable(r);
    return why ? [`${describeRule(r)} is not evaluated here: ${why}`] : [];
  });
}

/**
 * Evaluate a (validated) policy: one verdict per image, in the images' order. Rules regctl cannot evaluate (archive
 * transitions, last-pull ages) still decide the images they select first, as ECR's first matching rule does: those
 * are kept, never expired by a later rule on a guess. Rules of the archive storage class see no listed image.
 */
export function evaluatePolicy(images: readonly Candidate[], policy: LifecyclePolicy, now: number): Verdict[] {
  const decided = new Map<string, Verdict>();
  for (const rule of [...policy.rules].sort((a, b) => a.rulePriority - b.rulePriority)) {
    if (rule.selection.storageClass === 'archive') continue;
    const selected = images.filter((img) => selects(rule, img.tags));
    const name = describeRule(rule);
    const why = notEvaluable(rule);
    if (why) {
      const reason = `kept: the rule is not evaluated here (${why})`;
      for (const img of selected) {
        if (!decided.has(img.digest)) decided.set(img.digest, { ...img, expire: false, rule: name, reason });
      }
      continue;
    }
    const marked = marks(rule, selected, now);
    for (const img of selected) {
      if (decided.has(img.digest)) continue;
      const why = marked.get(img.digest);
      const keptWhy =
        rule.selection.countType === 'imageCountMoreThan'
          ? `among the newest ${rule.selection.countNumber}`
          : `pushed within ${rule.selection.countNumber} days`;
      decided.set(img.digest, { ...img, expire: why !== undefined, rule: name, reason: why ?? keptWhy });
    }
  }
  return images.map((img) => decided.get(img.digest) ?? { ...img, expire: false, reason: 'no rule selects it' });
}

export interface RetentionOptions {
  /** keep the newest N of each selected group */
  keep?: number;
  /** only tags matching this select an image; the others are kept (and keep their digest) */
  match?: RegExp;
  /** expire only images older than this (ms) */
  olderThanMs?: number;
  /** act on untagged images (with `match`, on both) */
  untagged?: boolean;
  /** the flags as typed, to name the rule in the output */
  label?: string;
}

/**
 * The `prune` flags: ECR's rule language in CLI form. Selected tagged images (a tag matching `match`, every tag
 * without it) and, with `untagged`, untagged images form two groups; in each, an image goes when it is beyond the
 * newest `keep` and older than `olderThanMs` (each condition only when given). An image that would go but carries a tag
 * the selection does not cover stays: deleting by digest would take that kept tag with it.
 */
export function evaluateRetention(images: readonly Candidate[], o: RetentionOptions, now: number): Verdict[] {
  const rule = o.label ?? 'prune';
  const tagged = !o.untagged || o.match !== undefined;
  const decided = new Map<string, Verdict>();
  const groups: Candidate[][] = [
    tagged ? images.filter((i) => i.tags.length > 0 && i.tags.some((t) => !o.match || o.match.test(t))) : [],
    o.untagged ? images.filter((i) => i.tags.length === 0) : [],
  ];
  for (const group of groups) {
    newestFirst(group).forEach((img, i) => {
      const reasons: string[] = [];
      const beyond = o.keep === undefined || i >= o.keep;
      const old = o.olderThanMs === undefined || (img.time !== undefined && now - img.time > o.olderThanMs);
      if (o.keep !== undefined)
        reasons.push(beyond ? `number ${i + 1} by age, over the ${o.keep} kept` : `among the newest ${o.keep}`);
      if (o.olderThanMs !== undefined)
        reasons.push(
          img.time === undefined
            ? 'age unknown'
            : old
              ? `${formatAge(now - img.time)} old`
              : `only ${formatAge(now - img.time)} old`,
        );
      if (reasons.length === 0) reasons.push('untagged');
      let expire = beyond && old;
      let reason = reasons.join(', ');
      const outside = o.match ? img.tags.filter((t) => !o.match!.test(t)) : [];
      if (expire && outside.length > 0) {
        expire = false;
        reason =
          `${reason}; but tag${outside.length > 1 ? 's' : ''} ${outside.join(', ')} ` +
          `${outside.length > 1 ? 'are' : 'is'} ` +
          `kept (not matched by --match), so the digest stays`;
      }
      decided.set(img.digest, { ...img, expire, rule, reason });
    });
  }
  return images.map((img) => decided.get(img.digest) ?? { ...img, expire: false, reason: 'not selected' });
}
