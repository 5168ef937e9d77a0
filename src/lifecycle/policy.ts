// ECR lifecycle policies as data: parse and validate the JSON (as ECR would before accepting it), and tag wildcards.
// The fields are those of ECR's lifecycle policy parameter docs
// (https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html), archive included.
import { UsageError } from '../errors.js';

export type TagStatus = 'tagged' | 'untagged' | 'any';

export interface LifecycleRule {
  rulePriority: number;
  description?: string;
  selection: {
    tagStatus: TagStatus;
    tagPrefixList?: string[];
    tagPatternList?: string[];
    /** The storage class the rule looks at (default standard): archived images are out of reach of a pull. */
    storageClass?: 'standard' | 'archive';
    countType: CountType;
    countUnit?: 'days';
    countNumber: number;
  };
  action: { type: 'expire' } | { type: 'transition'; targetStorageClass: 'archive' };
}

export type CountType = 'imageCountMoreThan' | 'sinceImagePushed' | 'sinceImagePulled' | 'sinceImageTransitioned';
const COUNT_TYPES: readonly string[] = [
  'imageCountMoreThan',
  'sinceImagePushed',
  'sinceImagePulled',
  'sinceImageTransitioned',
];
const SELECTION_FIELDS = [
  'tagStatus',
  'tagPrefixList',
  'tagPatternList',
  'storageClass',
  'countType',
  'countUnit',
  'countNumber',
];

/** Why regctl cannot evaluate a rule here (undefined: it can): ECR alone knows pulls, transitions and the archive. */
export function notEvaluable(rule: LifecycleRule): string | undefined {
  const s = rule.selection;
  if (s.storageClass === 'archive') return 'it selects archived images, which regctl cannot list';
  if (rule.action.type === 'transition') return 'it moves images to the archive, which only ECR does';
  if (s.countType === 'sinceImagePulled') return 'ECR does not share when an image was last pulled';
  if (s.countType === 'sinceImageTransitioned') return 'it counts from an archive transition';
  return undefined;
}

export interface LifecyclePolicy {
  rules: LifecycleRule[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new UsageError(`${where} must be a non-empty list of non-empty strings`);
  }
  return v as string[];
}

function parseRule(raw: unknown, i: number, strict: boolean): LifecycleRule {
  const at = `rules[${i}]`;
  if (!isObject(raw)) throw new UsageError(`${at} must be an object`);
  const { rulePriority, description, selection, action } = raw;
  if (!Number.isInteger(rulePriority) || (rulePriority as number) < 1)
    throw new UsageError(`${at}.rulePriority must be a whole number from 1`);
  if (description !== undefined && typeof description !== 'string')
    throw new UsageError(`${at}.description must be a string`);
  if (!isObject(action) || (action.type !== 'expire' && action.type !== 'transition')) {
    throw new UsageError(`${at}.action.type must be "expire" or "transition"`);
  }
  if (action.type === 'transition' && action.targetStorageClass !== 'archive') {
    throw new UsageError(`${at}.action: a transition needs targetStorageClass "archive"`);
  }
  if (action.type === 'expire' && action.targetStorageClass !== undefined) {
    throw new UsageError(`${at}.action: targetStorageClass goes only with type "transition"`);
  }
  if (!isObject(selection)) throw new UsageError(`${at}.selection must be an object`);
  const s = selection;
  const sel = `${at}.selection`;
  for (const key of strict ? Object.keys(s) : []) {
    if (!SELECTION_FIELDS.includes(key)) {
      throw new UsageError(`${sel}.${key} is not a lifecycle selection field (${SELECTION_FIELDS.join(', ')})`);
    }
  }
  if (s.tagStatus !== 'tagged' && s.tagStatus !== 'untagged' && s.tagStatus !== 'any')
    throw new UsageError(`${sel}.tagStatus must be tagged, untagged or any`);
  const prefixes = s.tagPrefixList === undefined ? undefined : stringList(s.tagPrefixList, `${sel}.tagPrefixList`);
  const patterns = s.tagPatternList === undefined ? undefined : stringList(s.tagPatternList, `${sel}.tagPatternList`);
  if (s.tagStatus === 'tagged') {
    if (prefixes && patterns) throw new UsageError(`${sel}: give tagPrefixList or tagPatternList, not both`);
    if (!prefixes && !patterns)
      throw new UsageError(`${sel}: tagStatus "tagged" needs a tagPrefixList or a tagPatternList`);
  } else if (prefixes || patterns) {
    throw new UsageError(`${sel}: tagPrefixList and tagPatternList go only with tagStatus "tagged"`);
  }
  for (const p of patterns ?? [])
    if ((p.match(/\*/g) ?? []).length > 4)
      throw new UsageError(`${sel}.tagPatternList: ${JSON.stringify(p)} has more than 4 wildcards`);
  if (s.storageClass !== undefined && s.storageClass !== 'standard' && s.storageClass !== 'archive') {
    throw new UsageError(`${sel}.storageClass must be standard or archive`);
  }
  if (!Number.isInteger(s.countNumber) || (s.countNumber as number) < 1)
    throw new UsageError(`${sel}.countNumber must be a whole number from 1`);
  if (typeof s.countType !== 'string' || !COUNT_TYPES.includes(s.countType)) {
    throw new UsageError(`${sel}.countType must be one of ${COUNT_TYPES.join(', ')}`);
  }
  if (s.countType === 'imageCountMoreThan') {
    if (s.countUnit !== undefined)
      throw new UsageError(`${sel}: countUnit does not go with countType "imageCountMoreThan"`);
  } else if (s.countUnit !== 'days') {
    throw new UsageError(`${sel}: countType "${s.countType}" needs countUnit "days"`);
  }
  return {
    rulePriority: rulePriority as number,
    ...(description !== undefined ? { description } : {}),
    selection: {
      tagStatus: s.tagStatus,
      ...(prefixes ? { tagPrefixList: prefixes } : {}),
      ...(patterns ? { tagPatternList: patterns } : {}),
      ...(s.storageClass ? { storageClass: s.storageClass } : {}),
      countType: s.countType as CountType,
      ...(s.countUnit ? { countUnit: 'days' as const } : {}),
      countNumber: s.countNumber as number,
    },
    action: action.type === 'transition' ? { type: 'transition', targetStorageClass: 'archive' } : { type: 'expire' },
  };
}

/**
 * Parse and validate a policy; every problem is a UsageError naming the field (exit 2). `strict`: refuse selection
 * fields ECR does not know; off, they are let through.
 */
export function parsePolicy(text: string, where = 'policy', strict = true): LifecyclePolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return validatePolicy(doc, strict);
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${where}: ${err.message}`);
    throw err;
  }
}

function validatePolicy(doc: unknown, strict = true): LifecyclePolicy {
  if (!isObject(doc) || !Array.isArray(doc.rules) || doc.rules.length === 0)
    throw new UsageError('a lifecycle policy needs a non-empty "rules" list');
  const rules = doc.rules.map((r, i) => parseRule(r, i, strict));
  const seen = new Set<number>();
  for (const r of rules) {
    if (seen.has(r.rulePriority))
      throw new UsageError(`rulePriority ${r.rulePriority} is used twice: each rule needs its own`);
    seen.add(r.rulePriority);
  }
  const sorted = [...rules].sort((a, b) => a.rulePriority - b.rulePriority);
  // Per storage class (ECR: "Rule for tagStatus=ANY must have the lowest priority per storage class").
  for (const cls of ['standard', 'archive']) {
    const mine = sorted.filter((r) => (r.selection.storageClass ?? 'standard') === cls);
    const anyRule = mine.findIndex((r) => r.selection.tagStatus === 'any');
    if (anyRule !== -1 && anyRule !== mine.length - 1) {
      throw new UsageError(`a rule with tagStatus "any" must have the highest rulePriority (${cls} storage class)`);
    }
    if (mine.filter((r) => r.selection.tagStatus === 'untagged').length > 1) {
      throw new UsageError(`only one rule may select untagged images (of the ${cls} storage class)`);
    }
  }
  return { rules: sorted };
}

/** ECR's tag wildcard: `*` matches any run of characters (none included); everything else literally; the whole tag. */
export function wildcardMatch(pattern: string, tag: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(tag);
}

/**
 * Whether an image's tags meet a rule's tag requirements: every prefix (or pattern) of the list matched by some tag.
 */
export function selects(rule: LifecycleRule, tags: readonly string[]): boolean {
  const s = rule.selection;
  if (s.tagStatus === 'any') return true;
  if (s.tagStatus === 'untagged') return tags.length === 0;
  if (tags.length === 0) return false;
  if (s.tagPrefixList) return s.tagPrefixList.every((p) => tags.some((t) => t.startsWith(p)));
  return (s.tagPatternList ?? []).every((p) => tags.some((t) => wildcardMatch(p, t)));
}

export function describeRule(rule: LifecycleRule): string {
  const s = rule.selection;
  const which =
    s.tagStatus === 'untagged'
      ? 'untagged images'
      : s.tagStatus === 'any'
        ? 'all images'
        : s.tagPrefixList
          ? `tags with prefix ${s.tagPrefixList.join(' and ')}`
          : `tags matching ${s.tagPatternList!.join(' and ')}`;
  const verb = rule.action.type === 'transition' ? 'archive' : 'expire';
  const since: Record<string, string> = {
    sinceImagePushed: 'pushed',
    sinceImagePulled: 'last pulled',
    sinceImageTransitioned: 'archived',
  };
  const what =
    s.countType === 'imageCountMoreThan'
      ? `${rule.action.type === 'transition' ? 'archive all but' : 'keep'} the newest ${s.countNumber} of ${which}`
      : `${verb} ${which} ${since[s.countType]} over ${s.countNumber} days ago`;
  return `rule ${rule.rulePriority}${rule.description ? ` "${rule.description}"` : ''} (${what})`;
}
