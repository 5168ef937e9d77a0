// How the ECR stand-in's PutLifecyclePolicy judges a policy: the fields and constraints of ECR's lifecycle policy
// parameter docs (https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html), archive
// transitions included; refusals as ECR words them: InvalidParameterException "Invalid parameter at
// 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: …'" (the wording that
// getmoto/moto's ECR validator and Terraform users' reports quote, e.g. "Must specify tagPrefixList or tagPatternList
// when tagStatus=TAGGED.", "Rule for tagStatus=ANY must have the lowest priority per storage class").
import { EcrError } from './ecr-ops.js';

const fail = (why: string): never => {
  throw new EcrError(
    'InvalidParameterException',
    `Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: ` +
      `'Lifecycle policy validation failure: ${why}'`,
  );
};
const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const COUNT_TYPES = ['imageCountMoreThan', 'sinceImagePushed', 'sinceImagePulled', 'sinceImageTransitioned'];

export function validateLifecyclePolicy(text: unknown): void {
  let doc: unknown;
  try {
    doc = typeof text === 'string' ? JSON.parse(text) : undefined;
  } catch {
    doc = undefined;
  }
  if (!isObject(doc) || !Array.isArray(doc.rules) || doc.rules.length === 0)
    fail('Could not map policyString into LifecyclePolicy.');
  const rules = (doc as { rules: unknown[] }).rules;
  const priorities = new Set<number>();
  const byClass = new Map<string, Array<{ priority: number; tagStatus: string }>>();
  for (const rule of rules) {
    if (!isObject(rule) || !isObject(rule.selection) || !isObject(rule.action))
      fail('Could not map policyString into LifecyclePolicy.');
    const { rulePriority, selection: s, action: a } = rule as Record<string, any>;
    if (!Number.isInteger(rulePriority) || rulePriority < 1) fail('rulePriority must be a positive integer.');
    if (priorities.has(rulePriority)) fail('The rulePriority must be unique.');
    priorities.add(rulePriority);
    const status = String(s.tagStatus ?? '').toUpperCase();
    if (!['TAGGED', 'UNTAGGED', 'ANY'].includes(status)) fail(`Invalid tagStatus ${JSON.stringify(s.tagStatus)}.`);
    const lists = s.tagPrefixList !== undefined || s.tagPatternList !== undefined;
    if (status === 'TAGGED' && !lists) fail('Must specify tagPrefixList or tagPatternList when tagStatus=TAGGED.');
    if (status !== 'TAGGED' && lists)
      fail(`tagPrefixList and tagPatternList are not allowed when tagStatus=${status}.`);
    const storageClass = s.storageClass ?? 'standard';
    if (storageClass !== 'standard' && storageClass !== 'archive')
      fail(`Invalid storageClass ${JSON.stringify(s.storageClass)}.`);
    if (!COUNT_TYPES.includes(s.countType)) fail(`Invalid countType ${JSON.stringify(s.countType)}.`);
    if (!Number.isInteger(s.countNumber) || s.countNumber < 1) fail('countNumber must be a positive integer.');
    if (s.countType === 'imageCountMoreThan' ? s.countUnit !== undefined : s.countUnit !== 'days') {
      fail(
        `countUnit must be ${s.countType === 'imageCountMoreThan' ? 'absent' : '"days"'} for countType=${s.countType}.`,
      );
    }
    if (s.countType === 'sinceImageTransitioned' && storageClass !== 'archive')
      fail('countType=sinceImageTransitioned requires storageClass=archive.');
    if (a.type === 'transition') {
      if (a.targetStorageClass !== 'archive') fail('targetStorageClass must be archive for action type transition.');
      if (storageClass !== 'standard') fail('Only images in the standard storage class can be transitioned.');
    } else if (a.type !== 'expire' || a.targetStorageClass !== undefined) {
      fail(`Invalid action ${JSON.stringify(a)}.`);
    }
    byClass.set(storageClass, [...(byClass.get(storageClass) ?? []), { priority: rulePriority, tagStatus: status }]);
  }
  for (const list of byClass.values()) {
    const sorted = list.sort((x, y) => x.priority - y.priority);
    const any = sorted.findIndex((r) => r.tagStatus === 'ANY');
    if (any !== -1 && any !== sorted.length - 1)
      fail('Rule for tagStatus=ANY must have the lowest priority per storage class');
    if (sorted.filter((r) => r.tagStatus === 'UNTAGGED').length > 1)
      fail('Only one rule can select Untagged images per storage class');
  }
}
