// The retention engine: ECR lifecycle policies (ordered rules, tag lists, count and age), the prune flags, durations,
// image filters.
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/lifecycle/duration.js';
import { type Candidate, evaluatePolicy, evaluateRetention, unevaluatedRules } from '../../src/lifecycle/evaluate.js';
import { parsePolicy, wildcardMatch } from '../../src/lifecycle/policy.js';
import { parseFilters, sortRows } from '../../src/images/view.js';
import type { ImageRow } from '../../src/images/list.js';

const DAY = 86_400_000;
const NOW = Date.parse('2024-06-01T00:00:00Z');
const img = (digest: string, tags: string[], daysAgo: number): Candidate => ({
  digest,
  tags,
  time: NOW - daysAgo * DAY,
});

type Sel = Record<string, unknown>;
const rule = (rulePriority: number, selection: Sel) => ({ rulePriority, selection, action: { type: 'expire' } });
const policy = (...rules: object[]) => parsePolicy(JSON.stringify({ rules }));
const expired = (images: Candidate[], p: ReturnType<typeof policy>) =>
  evaluatePolicy(images, p, NOW)
    .filter((v) => v.expire)
    .map((v) => v.digest)
    .sort();

describe('ECR lifecycle policies with archive rules', () => {
  const transition = (rulePriority: number, selection: Sel) => ({
    rulePriority,
    selection,
    action: { type: 'transition', targetStorageClass: 'archive' },
  });
  const p = () =>
    policy(
      transition(1, {
        tagStatus: 'tagged',
        tagPrefixList: ['prod'],
        countType: 'sinceImagePulled',
        countUnit: 'days',
        countNumber: 30,
      }),
      rule(2, {
        tagStatus: 'any',
        storageClass: 'archive',
        countType: 'sinceImageTransitioned',
        countUnit: 'days',
        countNumber: 90,
      }),
      rule(3, {
        tagStatus: 'tagged',
        tagPrefixList: ['beta'],
        countType: 'sinceImagePulled',
        countUnit: 'days',
        countNumber: 10,
      }),
      rule(4, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }),
    );

  it('parses every field ECR documents (transition, storageClass, sinceImagePulled, sinceImageTransitioned)', () => {
    expect(
      p().rules.map((r) => [r.action.type, r.selection.storageClass ?? 'standard', r.selection.countType]),
    ).toEqual([
      ['transition', 'standard', 'sinceImagePulled'],
      ['expire', 'archive', 'sinceImageTransitioned'],
      ['expire', 'standard', 'sinceImagePulled'],
      ['expire', 'standard', 'imageCountMoreThan'],
    ]);
  });

  it('images a rule it cannot evaluate selects first are kept; the other rules still decide; each such rule is named', () => {
    const images = [img('P', ['prod-1'], 100), img('B', ['beta-1'], 100), img('N', ['x'], 1), img('O', ['y'], 50)];
    const verdicts = evaluatePolicy(images, p(), NOW);
    expect(verdicts.filter((v) => v.expire).map((v) => v.digest)).toEqual(['O']);
    expect(verdicts.find((v) => v.digest === 'P')!.reason).toMatch(
      /kept: the rule is not evaluated here \(it moves images to the archive/,
    );
    expect(verdicts.find((v) => v.digest === 'B')!.reason).toMatch(
      /not evaluated here \(ECR does not share when an image was last pulled\)/,
    );
    expect(unevaluatedRules(p())).toEqual([
      expect.stringMatching(/^rule 1 .* is not evaluated here: it moves images to the archive/),
      expect.stringMatching(/^rule 2 .* is not evaluated here: it selects archived images/),
      expect.stringMatching(/^rule 3 .* is not evaluated here: ECR does not share when an image was last pulled/),
    ]);
  });
});

describe('ECR lifecycle policy evaluation', () => {
  // ECR docs, "Filtering on multiple rules", examples A and B.
  const exampleA = [img('A', ['beta-1', 'prod-1'], 10), img('B', ['beta-2', 'prod-2'], 9), img('C', ['beta-3'], 8)];
  const exampleB = [
    img('A', ['beta-1', 'prod-1'], 10),
    img('B', ['beta-2', 'prod-2'], 9),
    img('C', ['beta-3', 'prod-3'], 8),
  ];
  const prodThenBeta = (list: 'tagPrefixList' | 'tagPatternList') =>
    policy(
      rule(1, {
        tagStatus: 'tagged',
        [list]: [list === 'tagPrefixList' ? 'prod' : 'prod*'],
        countType: 'imageCountMoreThan',
        countNumber: 1,
      }),
      rule(2, {
        tagStatus: 'tagged',
        [list]: [list === 'tagPrefixList' ? 'beta' : 'beta*'],
        countType: 'imageCountMoreThan',
        countNumber: 1,
      }),
    );

  it.each([
    [
      'example A, prefixes: an image a higher rule kept is never expired by a later rule',
      exampleA,
      prodThenBeta('tagPrefixList'),
      ['A'],
    ],
    ['example A, patterns', exampleA, prodThenBeta('tagPatternList'), ['A']],
    [
      'example B: later rules still count images earlier rules decided',
      exampleB,
      prodThenBeta('tagPrefixList'),
      ['A', 'B'],
    ],
    [
      'rule order is rulePriority, not list order',
      exampleA,
      policy(
        rule(2, { tagStatus: 'tagged', tagPrefixList: ['beta'], countType: 'imageCountMoreThan', countNumber: 1 }),
        rule(1, { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 1 }),
      ),
      ['A'],
    ],
    [
      'several prefixes: an image must carry every one',
      [img('A', ['alpha-1'], 5), img('B', ['alpha-2', 'beta-2'], 4), img('C', ['alpha-3', 'beta-3'], 3)],
      policy(
        rule(1, {
          tagStatus: 'tagged',
          tagPrefixList: ['alpha', 'beta'],
          countType: 'imageCountMoreThan',
          countNumber: 1,
        }),
      ),
      ['B'],
    ],
    [
      'pattern wildcards match the whole tag',
      [img('A', ['v1.0-rc1'], 5), img('B', ['v1.0'], 4), img('C', ['xv1.0-rc2'], 3), img('D', ['v2.0-rc1'], 2)],
      policy(
        rule(1, {
          tagStatus: 'tagged',
          tagPatternList: ['v*-rc*'],
          countType: 'sinceImagePushed',
          countUnit: 'days',
          countNumber: 1,
        }),
      ),
      ['A', 'D'],
    ],
    [
      'untagged by count: the newest N untagged stay, tagged images untouched',
      [img('u1', [], 9), img('u2', [], 8), img('u3', [], 1), img('t', ['latest'], 30)],
      policy(rule(1, { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 })),
      ['u1', 'u2'],
    ],
    [
      'untagged by age',
      [img('u1', [], 15), img('u2', [], 13), img('t', ['x'], 99)],
      policy(rule(1, { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 })),
      ['u1'],
    ],
    [
      'any, last: images an earlier rule kept still take places in its count, but only the others go',
      [
        img('p1', ['prod-1'], 1),
        img('p2', ['prod-2'], 2),
        img('d2', ['dev-2'], 3),
        img('d1', ['dev-1'], 30),
        img('u', [], 40),
      ],
      policy(
        rule(1, { tagStatus: 'tagged', tagPrefixList: ['prod'], countType: 'imageCountMoreThan', countNumber: 5 }),
        rule(9, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 3 }),
      ),
      ['d1', 'u'],
    ],
    [
      'count and age rules together',
      [
        img('a', ['rel-1'], 100),
        img('b', ['rel-2'], 60),
        img('c', ['rel-3'], 10),
        img('d', ['tmp-1'], 31),
        img('e', ['tmp-2'], 29),
      ],
      policy(
        rule(10, { tagStatus: 'tagged', tagPrefixList: ['rel'], countType: 'imageCountMoreThan', countNumber: 2 }),
        rule(20, {
          tagStatus: 'tagged',
          tagPatternList: ['tmp-*'],
          countType: 'sinceImagePushed',
          countUnit: 'days',
          countNumber: 30,
        }),
      ),
      ['a', 'd'],
    ],
  ])('%s', (_name, images, p, want) => {
    expect(expired(images, p)).toEqual(want);
  });

  it('names the deciding rule and why', () => {
    const v = evaluatePolicy(exampleA, prodThenBeta('tagPrefixList'), NOW);
    expect(v.find((x) => x.digest === 'A')).toMatchObject({
      expire: true,
      rule: expect.stringMatching(/^rule 1 .*prod/),
      reason: expect.stringMatching(/number 2/),
    });
    expect(v.find((x) => x.digest === 'B')).toMatchObject({ expire: false, rule: expect.stringMatching(/^rule 1/) });
    expect(v.find((x) => x.digest === 'C')).toMatchObject({ expire: false, rule: expect.stringMatching(/^rule 2/) });
  });

  it.each([
    ['{', /not valid JSON/],
    ['{"rules": []}', /non-empty "rules"/],
    [
      JSON.stringify({ rules: [rule(1, { tagStatus: 'tagged', countType: 'imageCountMoreThan', countNumber: 1 })] }),
      /needs a tagPrefixList or a tagPatternList/,
    ],
    [
      JSON.stringify({
        rules: [
          rule(1, {
            tagStatus: 'tagged',
            tagPrefixList: ['a'],
            tagPatternList: ['a*'],
            countType: 'imageCountMoreThan',
            countNumber: 1,
          }),
        ],
      }),
      /not both/,
    ],
    [
      JSON.stringify({
        rules: [
          rule(1, { tagStatus: 'untagged', tagPrefixList: ['a'], countType: 'imageCountMoreThan', countNumber: 1 }),
        ],
      }),
      /only with tagStatus "tagged"/,
    ],
    [
      JSON.stringify({
        rules: [
          rule(1, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }),
          rule(2, { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }),
        ],
      }),
      /"any" must have the highest/,
    ],
    [
      JSON.stringify({
        rules: [
          rule(1, { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }),
          rule(1, { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }),
        ],
      }),
      /used twice/,
    ],
    [
      JSON.stringify({ rules: [rule(1, { tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 1 })] }),
      /countUnit "days"/,
    ],
    [
      JSON.stringify({
        rules: [rule(1, { tagStatus: 'untagged', countType: 'imageCountMoreThan', countUnit: 'days', countNumber: 1 })],
      }),
      /countUnit does not go with countType "imageCountMoreThan"/,
    ],
    [
      JSON.stringify({ rules: [rule(1, { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 0 })] }),
      /countNumber/,
    ],
    [
      JSON.stringify({
        rules: [
          rule(1, {
            tagStatus: 'tagged',
            tagPatternList: ['*a*b*c*d*e'],
            countType: 'imageCountMoreThan',
            countNumber: 1,
          }),
        ],
      }),
      /more than 4 wildcards/,
    ],
    [
      JSON.stringify({
        rules: [
          {
            rulePriority: 1,
            selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 },
            action: { type: 'transition' },
          },
        ],
      }),
      /a transition needs targetStorageClass "archive"/,
    ],
  ])('refuses an invalid policy: %s', (text, message) => {
    expect(() => parsePolicy(text, 'p.json')).toThrow(message);
    try {
      parsePolicy(text, 'p.json');
    } catch (err) {
      expect((err as { exitCode: number }).exitCode).toBe(2);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('wildcards: * is any run, the rest literal', () => {
    expect(wildcardMatch('prod*', 'prod')).toBe(true);
    expect(wildcardMatch('*-rc*', 'v1-rc2')).toBe(true);
    expect(wildcardMatch('v1.*', 'v1x2')).toBe(false);
    expect(wildcardMatch('latest', 'latest-1')).toBe(false);
  });
});

describe('prune flags (ECR rules in CLI form)', () => {
  const images = [
    img('n1', ['v5'], 1),
    img('n2', ['v4'], 2),
    img('n3', ['v3', 'stable'], 3),
    img('n4', ['v2'], 40),
    img('n5', ['v1'], 50),
    img('u', [], 60),
    img('b', ['build-7'], 70),
  ];
  const go = (o: Parameters<typeof evaluateRetention>[1]) =>
    evaluateRetention(images, o, NOW)
      .filter((v) => v.expire)
      .map((v) => v.digest)
      .sort();

  it.each([
    ['--keep 2: all tagged images beyond the newest two', { keep: 2 }, ['b', 'n3', 'n4', 'n5']],
    ['--keep 2 --match ^v: a digest with a kept tag (stable) stays', { keep: 2, match: /^v/ }, ['n4', 'n5']],
    ['--older-than 30d', { olderThanMs: 30 * DAY }, ['b', 'n4', 'n5']],
    ['--keep 1 --older-than 30d: both must hold', { keep: 1, olderThanMs: 30 * DAY, match: /^v/ }, ['n4', 'n5']],
    ['--untagged alone: only untagged images', { untagged: true }, ['u']],
    ['--untagged --match ^build: both groups', { untagged: true, match: /^build/ }, ['b', 'u']],
    ['--keep 0 --match ^build', { keep: 0, match: /^build/ }, ['b']],
  ])('%s', (_name, o, want) => {
    expect(go(o)).toEqual(want);
  });

  it('says why a digest stays when another of its tags is kept', () => {
    const v = evaluateRetention(images, { keep: 2, match: /^v/ }, NOW).find((x) => x.digest === 'n3')!;
    expect(v.expire).toBe(false);
    expect(v.reason).toMatch(/tag stable is kept .*digest stays/);
  });
});

describe('durations and image filters', () => {
  it.each([
    ['30d', 30 * DAY],
    ['12h', 12 * 3_600_000],
    ['2w', 14 * DAY],
    ['1d12h', 1.5 * DAY],
    ['90m', 90 * 60_000],
    ['7', 7 * DAY],
    ['0d', undefined],
    ['abc', undefined],
    ['10y', undefined],
    ['', undefined],
  ])('parseDuration(%s)', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  const row = (digest: string, tags: string[], created: string, size = 1): ImageRow => ({
    digest,
    tags,
    mediaType: '',
    platforms: ['linux/amd64'],
    size,
    created,
  });
  const rows = [
    row('sha256:a', ['v1', 'x'], '2024-01-01T00:00:00Z', 5),
    row('sha256:b', [], '2024-05-30T00:00:00Z', 9),
    row('sha256:c', ['v2,1'], '2024-05-01T00:00:00Z', 7),
  ];
  const keep = (terms: string[]) =>
    rows.filter((r) => parseFilters(terms).every((f) => f(r, NOW))).map((r) => r.digest);

  it('filters: tag=RE (a comma inside stays), untagged, older/newer, ANDed', () => {
    expect(keep(['tag=^v'])).toEqual(['sha256:a', 'sha256:c']);
    expect(keep(['tag=^v2,1$'])).toEqual(['sha256:c']);
    expect(keep(['untagged'])).toEqual(['sha256:b']);
    expect(keep(['older=40d'])).toEqual(['sha256:a']);
    expect(keep(['tag=^v,newer=60d'])).toEqual(['sha256:c']);
    expect(keep(['platform=linux/arm64'])).toEqual([]);
    expect(() => parseFilters(['bogus'])).toThrow(/unknown term/);
    expect(() => parseFilters(['older=soon'])).toThrow(/unreadable duration/);
  });

  it('sorts by tag, created, size', () => {
    expect(sortRows(rows, 'tag').map((r) => r.digest)).toEqual(['sha256:a', 'sha256:c', 'sha256:b']);
    expect(sortRows(rows, 'created').map((r) => r.digest)).toEqual(['sha256:b', 'sha256:c', 'sha256:a']);
    expect(sortRows(rows, 'size').map((r) => r.digest)).toEqual(['sha256:b', 'sha256:c', 'sha256:a']);
  });
});
