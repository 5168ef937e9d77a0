// Sync tag selection: explicit lists, regex allow/deny, semver ranges over loose tags, newest N, deterministic order;
// shards.
import { describe, expect, it } from 'vitest';
import { compareTags, selectTags, tagVersion } from '../../src/sync/select.js';
import type { TagRules } from '../../src/sync/spec.js';
import { parseShard, shardOf } from '../../src/sync/plan.js';

const ALPINE = [
  '3.17',
  '3.17.10',
  '3.18',
  '3.18.9',
  '3.19',
  '3.19.4',
  '3.20',
  '3.20.3',
  '3.21.0-rc1',
  '3.21',
  '3.21.2',
  'edge',
  'latest',
  '3',
  '20240923',
];
const NGINX = [
  '1.25.5',
  '1.26.2',
  '1.26.2-alpine',
  '1.27.0',
  '1.27.1',
  '1.27.2',
  '1.27.2-alpine',
  'mainline',
  'stable',
  'latest',
  'v1.28.0',
];

describe('tagVersion', () => {
  it.each<[string, string | undefined]>([
    ['3.20', '3.20.0'],
    ['3', '3.0.0'],
    ['v1.2.3', '1.2.3'],
    ['1.27.2-alpine', '1.27.2-alpine'],
    ['3.08', '3.8.0'],
    ['1.2.3+build.5', '1.2.3'],
    ['latest', undefined],
    ['edge', undefined],
    ['1.2.3.4', undefined],
    ['3.20_rc1', undefined],
    ['sha-abc123', undefined],
    ['1.2.3-01', undefined],
  ])('%s → %s', (tag, want) => {
    expect(tagVersion(tag)?.version).toBe(want);
  });
});

describe('selectTags', () => {
  it.each<[string, readonly string[], TagRules, string[]]>([
    ['an explicit list is taken as named, even when not listed', ALPINE, { list: ['3.20', 'nope'] }, ['3.20', 'nope']],
    ['allow regex', ALPINE, { allow: [/^3\.19/] }, ['3.19.4', '3.19']],
    ['allow several regexes: a tag matching any', ALPINE, { allow: [/^edge$/, /^latest$/] }, ['edge', 'latest']],
    ['deny alone: every tag but those', NGINX, { deny: [/alpine/, /^v/, /^\d/] }, ['latest', 'mainline', 'stable']],
    [
      'semver range over loose tags (3.20 is 3.20.0), non-versions and pre-releases skipped',
      ALPINE,
      { semver: '>=3.20' },
      ['20240923', '3.21.2', '3.21', '3.20.3', '3.20'],
    ],
    [
      'semver range with prerelease: true',
      ALPINE,
      { semver: '>=3.21.0-0 <4', prerelease: true },
      ['3.21.2', '3.21', '3.21.0-rc1'],
    ],
    [
      'semver ∪ allow, minus deny',
      ALPINE,
      { semver: '>=3.20 <4', allow: [/^edge$/, /-rc/], deny: [/-rc/] },
      ['3.21.2', '3.21', '3.20.3', '3.20', 'edge'],
    ],
    ['latest N over every version', NGINX, { latest: 3 }, ['v1.28.0', '1.27.2', '1.27.2-alpine']],
    [
      'latest N of a semver range, allow-picked non-versions kept',
      ALPINE,
      { semver: '^3.18', allow: [/^edge$/], latest: 2 },
      ['3.21.2', '3.21', 'edge'],
    ],
    ['latest N of the allow-picked versions', NGINX, { allow: [/-alpine$/], latest: 1 }, ['1.27.2-alpine']],
    [
      'list ∪ rules; deny does not remove a listed tag',
      NGINX,
      { list: ['1.25.5'], semver: '~1.27', deny: [/1\.25/] },
      ['1.27.2', '1.27.1', '1.27.0', '1.25.5'],
    ],
    ['nothing matches', NGINX, { allow: [/^2\./] }, []],
    ['duplicates in the listing are dropped', ['1.0', '1.0', '2.0'], { semver: '*' }, ['2.0', '1.0']],
    [
      'v-prefixed and bare tags of one version: ties by name',
      ['v1.2.0', '1.2', '1.2.0'],
      { semver: '1.2.0' },
      ['1.2', '1.2.0', 'v1.2.0'],
    ],
  ])('%s', async (_name, all, rules, want) => {
    expect(await selectTags(all, rules)).toEqual(want);
  });

  it('the order does not depend on the order of the listing', async () => {
    const rules: TagRules = { semver: '>=3.18', allow: [/^edge$/] };
    const shuffled = [...ALPINE].reverse();
    expect(await selectTags(shuffled, rules)).toEqual(await selectTags(ALPINE, rules));
  });

  it('a listed "tag" over 128 characters (the grammar\'s limit) never reaches a regex, is never selected', async () => {
    const long = `v${'1'.repeat(128)}`;
    expect(await selectTags([long, 'v1'], { allow: [/^v/] })).toEqual(['v1']);
    expect(await selectTags([long, 'v1'], { deny: [/^x/] })).toEqual(['v1']);
  });

  it('a regex that backtracks forever on a hostile tag is stopped by the abort signal (ReDoS)', async () => {
    const ac = new AbortController();
    const hostile = `${'a'.repeat(40)}!`;
    const run = selectTags(['ok', hostile], { allow: [/^(a+)+$/] }, ac.signal);
    // The match runs off the main thread: this timer fires although the regex never ends.
    setTimeout(() => ac.abort(Object.assign(new Error('interrupted'), { name: 'AbortError' })), 50);
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('compareTags: newest version first, then non-versions by name', () => {
    expect(['edge', '3.9', 'abc', '3.10', '3.10.1'].sort(compareTags)).toEqual([
      '3.10.1',
      '3.10',
      '3.9',
      'abc',
      'edge',
    ]);
  });
});

describe('shards', () => {
  it('parseShard reads I/N and auto/N (JOB_COMPLETION_INDEX)', () => {
    expect(parseShard('1/3', {})).toEqual({ index: 1, count: 3 });
    expect(parseShard('auto/3', { JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 2, count: 3 });
  });

  it.each([
    ['3/3', {}, /below 3/],
    ['x/3', {}, /I\/N/],
    ['1/0', {}, /1 or more/],
    ['auto/3', {}, /JOB_COMPLETION_INDEX is not set/],
    ['auto/3', { JOB_COMPLETION_INDEX: 'a' }, /not a whole number/],
  ])('parseShard(%s) is a usage error', (text, env, re) => {
    expect(() => parseShard(text, env as NodeJS.ProcessEnv)).toThrow(re);
  });

  it('shardOf is stable, in range and spreads keys', () => {
    const keys = Array.from({ length: 300 }, (_, i) => `docker.io/library/img${i % 7}:1.${i}`);
    const counts = [0, 0, 0];
    for (const k of keys) {
      const s = shardOf(k, 3);
      expect(s).toBe(shardOf(k, 3));
      counts[s]++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(60);
    // Pinned: the hash must not change between versions, or shards of a matrix running mixed versions would overlap.
    expect([
      shardOf('docker.io/library/alpine:3.20', 3),
      shardOf('docker.io/library/nginx:1.27', 3),
      shardOf('a:b', 10),
    ]).toEqual([1, 2, 8]);
  });
});
