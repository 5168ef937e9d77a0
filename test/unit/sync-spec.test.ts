// Sync spec parsing: a valid spec becomes plain entries; every mistake is a usage error (exit 2) naming SPEC:LINE.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { expandEnv, parseDuration, parseSpec } from '../../src/sync/spec.js';

const ENV = { ECR: '123456789012.dkr.ecr.us-east-1.amazonaws.com', TEAM: 'mirror' };

function errorOf(text: string, env: NodeJS.ProcessEnv = ENV): UsageError {
  try {
    parseSpec(text, 'mirror.yaml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    return err as UsageError;
  }
  throw new Error('expected a usage error');
}

describe('parseSpec: a valid spec', () => {
  it('reads defaults, entries, tag rules, platforms and ${ENV}', () => {
    const spec = parseSpec(
      [
        'env: [ECR, TEAM]',
        'defaults: { jobs: 8, images: 3, platforms: [linux/amd64, linux/arm64], ' +
          'keep-going: true, rate-floor: 20, rate-wait: 1h30m }',
        'sync:',
        '  - source: docker.io/library/alpine',
        '    target: ${ECR}/${TEAM}/alpine',
        '    tags: { semver: ">=3.18", allow: ["^edge$"], deny: ["-rc"], latest: 5 }',
        '  - source: nginx:1.27',
        '    target: oci:./bundle',
        '    platforms: all',
        '  - source: ghcr.io/o/r:v1',
        '    target: localhost:5000/r:stable',
        '    platforms: linux/arm64',
      ].join('\n'),
      'mirror.yaml',
      ENV,
    );
    expect(spec.defaults).toEqual({
      jobs: 8,
      images: 3,
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      keepGoing: true,
      rateFloor: 20,
      rateWaitMs: 5_400_000,
    });
    const [a, n, r] = spec.entries;
    expect(a.line).toBe(4);
    expect(a.source).toMatchObject({ kind: 'registry', ref: { registry: 'docker.io', repository: 'library/alpine' } });
    expect(a.target).toMatchObject({
      kind: 'registry',
      ref: { registry: ENV.ECR, repository: 'mirror/alpine', tag: undefined },
    });
    expect(a.targetTag).toBeUndefined();
    expect(a.tags?.semver).toBe('>=3.18');
    expect(a.tags?.allow?.map(String)).toEqual(['/^edge$/']);
    expect(a.tags?.latest).toBe(5);
    expect(a.platforms).toHaveLength(2);
    expect(n.line).toBe(7);
    expect(n.tags).toBeUndefined();
    expect(n.platforms).toBeUndefined();
    expect(n.target).toEqual({ kind: 'oci', path: './bundle' });
    expect(r.targetTag).toBe('stable');
    expect(r.platforms).toEqual([{ os: 'linux', architecture: 'arm64' }]);
  });

  it('YAML anchors and aliases work', () => {
    const spec = parseSpec(
      'sync:\n  - source: a\n    target: b\n    tags: &r { semver: ">=1" }\n' +
        '  - source: c\n    target: d\n    tags: *r\n',
      'a.yaml',
      ENV,
    );
    expect(spec.entries[1].tags?.semver).toBe('>=1');
  });
});

describe('parseSpec: mistakes name the line', () => {
  it.each<[string, string, number, RegExp]>([
    ['invalid YAML', 'sync:\n  - source: a:1\n    target: b: c\n', 3, /invalid YAML: Nested mappings/],
    [
      'a duplicate key',
      'sync:\n  - source: a:1\n    target: b\n    source: c:1\n',
      4,
      /invalid YAML: Map keys must be unique/,
    ],
    ['an empty file', '', 1, /empty/],
    ['no sync list', 'defaults: { jobs: 2 }\n', 1, /needs a `sync:` list/],
    ['sync not a list', 'sync:\n  source: a\n', 2, /must be a list/],
    [
      'an unknown top-level key, with a suggestion',
      'sync:\n  - { source: a:1, target: b }\nSync: []\n',
      3,
      /unknown key "Sync" \(did you mean "sync"\?\)/,
    ],
    ['an unknown entry key', 'sync:\n  - source: a:1\n    target: b\n    tag: x\n', 4, /sync\[0\]: unknown key "tag"/],
    ['a missing target', 'sync:\n  - source: a:1\n  - source: b:1\n    target: c\n', 2, /sync\[0\] needs a `target`/],
    [
      'an unset variable',
      'env: [NOPE]\nsync:\n  - source: a:1\n    target: ${NOPE}/b\n',
      4,
      /environment variable NOPE is not set/,
    ],
    [
      'a variable env: does not list',
      'env: [TEAM]\nsync:\n  - source: a:1\n    target: ${ECR}/b\n',
      4,
      /\$\{ECR\} is not allowed: list it under `env:` in the spec, or pass --env ECR/,
    ],
    ['a variable and no env: list', 'sync:\n  - source: a:1\n    target: ${ECR}/b\n', 3, /\$\{ECR\} is not allowed/],
    [
      'an env list that is not names',
      'env: [ECR, "not a name"]\nsync:\n  - { source: a:1, target: b }\n',
      1,
      /`env` must be a list of environment variable names/,
    ],
    ['a bad variable reference', 'sync:\n  - source: a:1\n    target: ${1X}/b\n', 3, /invalid variable reference/],
    [
      'a bad reference',
      'sync:\n  - source: "UPPER CASE:1"\n    target: b\n',
      2,
      /sync\[0\]\.source: invalid reference/,
    ],
    [
      'a source without a tag and without tags',
      'sync:\n  - source: alpine\n    target: b\n',
      2,
      /names no tag: add one/,
    ],
    [
      'a source tag and tags together',
      'sync:\n  - source: alpine:3\n    target: b\n    tags: { latest: 2 }\n',
      4,
      /keep one/,
    ],
    [
      'a bad regex',
      'sync:\n  - source: alpine\n    target: b\n    tags:\n      allow:\n        - "^ok$"\n        - "(unclosed"\n',
      7,
      /allow: invalid regular expression "\(unclosed"/,
    ],
    [
      'a bad semver range',
      'sync:\n  - source: alpine\n    target: b\n    tags:\n      semver: ">=banana"\n',
      5,
      /invalid semver range/,
    ],
    [
      'latest not a number',
      'sync:\n  - source: alpine\n    target: b\n    tags: { latest: five }\n',
      4,
      /latest must be a whole number/,
    ],
    ['an empty tags map', 'sync:\n  - source: alpine\n    target: b\n    tags: {}\n', 4, /tags is empty/],
    [
      'an invalid tag in list',
      'sync:\n  - source: alpine\n    target: b\n    tags:\n      list: [ok, "bad tag"]\n',
      5,
      /invalid tag "bad tag"/,
    ],
    [
      'a bad platform',
      'sync:\n  - source: alpine:3\n    target: b\n    platforms: [linux/amd64, amd64]\n',
      4,
      /invalid platform "amd64"/,
    ],
    [
      'a bad default',
      'defaults:\n  jobs: 0\nsync:\n  - { source: a:1, target: b }\n',
      2,
      /defaults\.jobs must be a whole number from 1 to 64/,
    ],
    [
      'a bad duration',
      'defaults:\n  rate-wait: soon\nsync:\n  - { source: a:1, target: b }\n',
      2,
      /unreadable duration/,
    ],
    ['an archive target', 'sync:\n  - source: a:1\n    target: docker-archive:/tmp/x.tar\n', 3, /not an archive/],
    [
      'a target tag with a tag selection',
      'sync:\n  - source: alpine\n    target: b:1\n    tags: { semver: "*" }\n',
      3,
      /target names a tag/,
    ],
    [
      'a target digest',
      'sync:\n  - source: a:1\n    target: b@sha256:' + 'a'.repeat(64) + '\n',
      3,
      /cannot name a digest/,
    ],
    [
      'a digest source without a target tag',
      'sync:\n  - source: a@sha256:' + 'a'.repeat(64) + '\n    target: b\n',
      3,
      /names no tag to write under/,
    ],
    [
      'tag selection on an archive source',
      'sync:\n  - source: oci-archive:/tmp/x.tar\n    target: b\n    tags: { allow: [x] }\n',
      4,
      /needs a registry or oci: source/,
    ],
  ])('%s', (_name, text, line, re) => {
    const err = errorOf(text);
    expect(err.message).toMatch(new RegExp(`^mirror\\.yaml:${line}: `));
    expect(err.message).toMatch(re);
  });
});

describe('parseSpec: ${VAR} reads only what the spec allows, and no error shows a value it read', () => {
  const SECRET = 'hunter2-Secret-Value';
  const env = { ...ENV, LEAK: SECRET };

  it('--env NAME (allowEnv) allows a variable the spec does not list', () => {
    const text = 'sync:\n  - source: a:1\n    target: ${ECR}/b\n';
    const spec = parseSpec(text, 'm.yaml', env, { allowEnv: ['ECR'] });
    expect(spec.entries[0].target).toMatchObject({ ref: { registry: ENV.ECR } });
    expect(() => parseSpec(text, 'm.yaml', env, { allowEnv: ['TEAM'] })).toThrow(/\$\{ECR\} is not allowed/);
  });

  it.each<[string, string, RegExp]>([
    [
      'a target that is no location',
      'target: "${LEAK} UPPER"',
      /sync\[0\]\.target: "\$\{LEAK\} UPPER" is not a valid location once its variables are expanded/,
    ],
    [
      'a bad regex',
      'target: b\n    tags: { allow: ["(${LEAK}"] }',
      /allow: invalid regular expression "\(\$\{LEAK\}": Unterminated group/,
    ],
    ['a bad tag in list', 'target: b\n    tags: { list: ["${LEAK} x"] }', /invalid tag "\$\{LEAK\} x"/],
    ['a bad semver range', 'target: b\n    tags: { semver: ">=${LEAK}" }', /invalid semver range ">=\$\{LEAK\}"/],
    ['a bad platform', 'target: b:1\n    platforms: ["${LEAK}"]', /invalid platform "\$\{LEAK\}"/],
  ])('%s', (_name, rest, re) => {
    const source = `alpine${rest.includes('tags') ? '' : ':1'}`;
    const err = errorOf(`env: [LEAK]\nsync:\n  - source: ${source}\n    ${rest}\n`, env);
    expect(err.message).toMatch(re);
    expect(err.message).not.toContain(SECRET);
    expect(err.message.toLowerCase()).not.toContain(SECRET.toLowerCase());
  });
});

describe('helpers', () => {
  it.each<[string, number | undefined]>([
    ['90', 90_000],
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['6h', 21_600_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['soon', undefined],
    ['5x', undefined],
    ['', undefined],
  ])('parseDuration(%s)', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('expandEnv: ${X}, ${X:-default}, $${ escapes, unset is an error', () => {
    const fail = (why: string): never => {
      throw new Error(why);
    };
    expect(expandEnv('${A}/${B:-dflt}/$${A}', { A: 'a' }, fail)).toBe('a/dflt/${A}');
    expect(() => expandEnv('${MISSING}', {}, fail)).toThrow(/MISSING is not set/);
  });
});
