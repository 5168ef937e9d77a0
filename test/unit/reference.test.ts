// Image references: Docker grammar, docker.io normalisation, digests winning over tags, and refusals as UsageError.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import {
  DOCKER_HUB,
  DOCKER_HUB_API,
  type ImageRef,
  apiHostOf,
  formatReference,
  normalizeRegistry,
  parseReference,
  parseRepository,
  withTag,
} from '../../src/location/reference.js';

const D256 = `sha256:${'0123456789abcdef'.repeat(4)}`;
const D512 = `sha512:${'0123456789abcdef'.repeat(8)}`;

/** Asserts that `fn` throws a UsageError (code USAGE, exit 2) whose message matches `message`. */
function expectUsageError(fn: () => unknown, message?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(UsageError);
  const err = caught as UsageError;
  expect(err.code).toBe('USAGE');
  expect(err.exitCode).toBe(2);
  if (message) expect(err.message).toMatch(message);
}

type Row = [
  input: string,
  registry: string,
  apiHost: string,
  repository: string,
  tag: string | undefined,
  digest: string | undefined,
];

describe('parseReference: valid references', () => {
  it.each<Row>([
    // Docker Hub normalisation: host, library/, latest.
    ['alpine', 'docker.io', 'registry-1.docker.io', 'library/alpine', 'latest', undefined],
    ['alpine:3.20', 'docker.io', 'registry-1.docker.io', 'library/alpine', '3.20', undefined],
    ['docker.io/alpine', 'docker.io', 'registry-1.docker.io', 'library/alpine', 'latest', undefined],
    ['docker.io/library/alpine:edge', 'docker.io', 'registry-1.docker.io', 'library/alpine', 'edge', undefined],
    ['regclient/regctl:edge', 'docker.io', 'registry-1.docker.io', 'regclient/regctl', 'edge', undefined],
    ['docker.io/library/foo/bar', 'docker.io', 'registry-1.docker.io', 'library/foo/bar', 'latest', undefined],
    ['store/foo/bar', 'docker.io', 'registry-1.docker.io', 'store/foo/bar', 'latest', undefined],
    ['other/library', 'docker.io', 'registry-1.docker.io', 'other/library', 'latest', undefined],
    ['ubuntu-12.04-base', 'docker.io', 'registry-1.docker.io', 'library/ubuntu-12.04-base', 'latest', undefined],
    // The aliases of Docker Hub all become docker.io.
    ['index.docker.io/x', 'docker.io', 'registry-1.docker.io', 'library/x', 'latest', undefined],
    ['index.docker.io/library/alpine', 'docker.io', 'registry-1.docker.io', 'library/alpine', 'latest', undefined],
    ['registry-1.docker.io/x', 'docker.io', 'registry-1.docker.io', 'library/x', 'latest', undefined],
    ['registry-1.docker.io/o/r:t', 'docker.io', 'registry-1.docker.io', 'o/r', 't', undefined],
    ['registry.hub.docker.com/o/r', 'docker.io', 'registry-1.docker.io', 'o/r', 'latest', undefined],
    ['INDEX.DOCKER.IO/x', 'docker.io', 'registry-1.docker.io', 'library/x', 'latest', undefined],
    // docker:// is the registry transport's prefix and is dropped.
    ['docker://alpine', 'docker.io', 'registry-1.docker.io', 'library/alpine', 'latest', undefined],
    ['docker://ghcr.io/o/r:t', 'ghcr.io', 'ghcr.io', 'o/r', 't', undefined],
    // Other registries: the first component is a host when it has a dot, a port, is localhost or has uppercase.
    ['ghcr.io/o/r:t', 'ghcr.io', 'ghcr.io', 'o/r', 't', undefined],
    ['example.com/group/image:v42', 'example.com', 'example.com', 'group/image', 'v42', undefined],
    ['example.com:5000/g/roup/image:a', 'example.com:5000', 'example.com:5000', 'g/roup/image', 'a', undefined],
    ['e.xample.co/g/roup/image:a', 'e.xample.co', 'e.xample.co', 'g/roup/image', 'a', undefined],
    ['xn--n3h.com:18080/foo', 'xn--n3h.com:18080', 'xn--n3h.com:18080', 'foo', 'latest', undefined],
    ['test-com:8080/foo', 'test-com:8080', 'test-com:8080', 'foo', 'latest', undefined],
    ['localhost/group/image:v42', 'localhost', 'localhost', 'group/image', 'v42', undefined],
    ['localhost:5000/a/b:t', 'localhost:5000', 'localhost:5000', 'a/b', 't', undefined],
    ['127.0.0.1:5000/image:v42', '127.0.0.1:5000', '127.0.0.1:5000', 'image', 'v42', undefined],
    ['192.168.0.1:8/debian', '192.168.0.1:8', '192.168.0.1:8', 'debian', 'latest', undefined],
    ['[::1]:5000/x', '[::1]:5000', '[::1]:5000', 'x', 'latest', undefined],
    ['[::1]/x:t', '[::1]', '[::1]', 'x', 't', undefined],
    [
      '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
      '[fc00:1:2:3:4:5:6:7]:5000',
      '[fc00:1:2:3:4:5:6:7]:5000',
      'library/debian',
      'latest',
      undefined,
    ],
    // Hosts are case-insensitive and kept lowercase; a first component with uppercase is a host (not a repo).
    ['EXAMPLE/group-image:V42', 'example', 'example', 'group-image', 'V42', undefined],
    ['Example-1/image:1.0-BETA', 'example-1', 'example-1', 'image', '1.0-BETA', undefined],
    ['GHCR.IO/o/r', 'ghcr.io', 'ghcr.io', 'o/r', 'latest', undefined],
    // Without a host, a dotted or port-like single name is a Docker Hub repository and its tag.
    ['192.168.0.1', 'docker.io', 'registry-1.docker.io', 'library/192.168.0.1', 'latest', undefined],
    ['192.168.0.1:80', 'docker.io', 'registry-1.docker.io', 'library/192.168.0.1', '80', undefined],
    ['localhost', 'docker.io', 'registry-1.docker.io', 'library/localhost', 'latest', undefined],
    ['localhost:5000', 'docker.io', 'registry-1.docker.io', 'library/localhost', '5000', undefined],
    ['test_com/foo', 'docker.io', 'registry-1.docker.io', 'test_com/foo', 'latest', undefined],
    // Path component separators: '.', '_', '__', one or more '-'.
    ['e.xample.co/g-r.o__u_p/im----age:a', 'e.xample.co', 'e.xample.co', 'g-r.o__u_p/im----age', 'a', undefined],
    ['dock__er/docker', 'docker.io', 'registry-1.docker.io', 'dock__er/docker', 'latest', undefined],
    ['docker---rules/docker', 'docker.io', 'registry-1.docker.io', 'docker---rules/docker', 'latest', undefined],
    ['a.b.c/d_e/f-g', 'a.b.c', 'a.b.c', 'd_e/f-g', 'latest', undefined],
    ['d/docker', 'docker.io', 'registry-1.docker.io', 'd/docker', 'latest', undefined],
    ['jess/t', 'docker.io', 'registry-1.docker.io', 'jess/t', 'latest', undefined],
    ['0/1', 'docker.io', 'registry-1.docker.io', '0/1', 'latest', undefined],
    // Tags: word characters, '.', '-', not leading; up to 128.
    ['r:_underscore-first', 'docker.io', 'registry-1.docker.io', 'library/r', '_underscore-first', undefined],
    ['r:v1.2.3-rc.1_build', 'docker.io', 'registry-1.docker.io', 'library/r', 'v1.2.3-rc.1_build', undefined],
    [`r:${'t'.repeat(128)}`, 'docker.io', 'registry-1.docker.io', 'library/r', 't'.repeat(128), undefined],
    // A digest: no tag is invented; a tag and a digest are both kept (the digest wins when fetching).
    [`127.0.0.1:5000/x@${D256}`, '127.0.0.1:5000', '127.0.0.1:5000', 'x', undefined, D256],
    [`127.0.0.1:5000/x:t@${D256}`, '127.0.0.1:5000', '127.0.0.1:5000', 'x', 't', D256],
    [`alpine@${D256}`, 'docker.io', 'registry-1.docker.io', 'library/alpine', undefined, D256],
    [`busybox:latest@${D256}`, 'docker.io', 'registry-1.docker.io', 'library/busybox', 'latest', D256],
    [`registry:5000/group/image@${D256}`, 'registry:5000', 'registry:5000', 'group/image', undefined, D256],
    [`ghcr.io/o/r@${D512}`, 'ghcr.io', 'ghcr.io', 'o/r', undefined, D512],
    [`docker://[::1]:5000/a/b:c@${D256}`, '[::1]:5000', '[::1]:5000', 'a/b', 'c', D256],
  ])('%s', (input, registry, apiHost, repository, tag, digest) => {
    const expected: ImageRef = { registry, apiHost, repository };
    if (tag !== undefined) expected.tag = tag;
    if (digest !== undefined) expected.digest = digest as ImageRef['digest'];
    expect(parseReference(input)).toStrictEqual(expected);
  });

  it('accepts a repository of exactly 255 characters', () => {
    const repo = `o/${'a'.repeat(253)}`;
    expect(parseReference(`ghcr.io/${repo}`).repository).toBe(repo);
  });

  it('accepts a Docker Hub name whose library/ form is exactly 255 characters', () => {
    const name = 'a'.repeat(255 - 'library/'.length);
    expect(parseReference(name).repository).toBe(`library/${name}`);
  });
});

describe('parseReference: invalid references throw UsageError', () => {
  it.each<[string, string, RegExp]>([
    ['empty', '', /empty/],
    ['docker:// with nothing after it', 'docker://', /empty/],
    // Repository names.
    ['uppercase repository', 'Alpine', /lowercase/],
    ['uppercase repository after a host', 'docker.io/Upper/Case/Repo:tag', /lowercase/],
    ['uppercase last component', 'docker/Docker', /lowercase/],
    ['uppercase in a component after localhost', 'localhost:5000/a/B', /lowercase/],
    ['leading dash', '-docker', /invalid repository name/],
    ['leading dash in the repository', 'project/-image:tag', /invalid repository name/],
    ['trailing dash', 'project/image-:tag', /invalid repository name/],
    ['trailing dash in the namespace', 'docker-/docker', /invalid repository name/],
    ['triple underscore', 'project/image___x:tag', /invalid repository name/],
    ['underscores only', '____/____', /invalid repository name/],
    ['leading underscore', '_docker/_docker', /invalid repository name/],
    ['leading dot', '.foo/bar', /invalid/],
    ['consecutive dots', 'docker/dock..er', /invalid repository name/],
    ['dot then underscore', 'docker/dock_.er', /invalid repository name/],
    ['dash then dot', 'docker/dock-.er', /invalid repository name/],
    // A dotted first component is a host, so these fail as hosts.
    ['consecutive dots in the first component', 'dock..er/docker', /invalid registry host/],
    ['underscore in a host', 'dock_.er/docker', /invalid registry host/],
    ['dash then dot in a host', 'dock-.er/docker', /invalid registry host/],
    ['trailing slash', 'docker/', /invalid repository name/],
    ['empty components', 'docker///docker', /invalid repository name/],
    ['leading slash', '/alpine', /invalid repository name/],
    ['a star', 'project/star*:tag', /invalid repository name/],
    ['a space', 'al pine', /invalid repository name/],
    ['a trailing space', 'alpine ', /invalid repository name/],
    ['host without a repository', 'ghcr.io/', /invalid repository name/],
    ['a URL', 'https://github.com/docker/docker', /invalid/],
    ['only a tag', ':latest', /invalid repository name/],
    ['only a digest', `@${D256}`, /invalid repository name/],
    // Hosts.
    ['host with a leading dash', '-docker.io/project/image:tag', /invalid registry host/],
    ['host with a trailing dash', 'docker-.io/project/image:tag', /invalid registry host/],
    ['host with an empty port', 'localhost:/x', /invalid registry host/],
    ['host with a non-numeric port', 'localhost:abc/x', /invalid/],
    ['IPv6 without brackets', 'fc00::1:5000/debian', /invalid registry host/],
    ['IPv6 with a zone', '[fe80::1%eth0]:5000/debian', /invalid registry host/],
    ['IPv6 host alone', '[fc00::1]', /invalid/],
    ['IPv6 host and port alone', '[fc00::1]:5000', /invalid/],
    ['registry and port without repository', 'localhost:5000/', /invalid repository name/],
    // Tags.
    ['empty tag', 'alpine:', /invalid tag/],
    ['tag with a caret', 'project/image:tag^1', /invalid tag/],
    ['tag with a leading dot', 'alpine:.x', /invalid tag/],
    ['tag with a leading dash', 'alpine:-x', /invalid tag/],
    ['tag with a plus', 'alpine:1+2', /invalid tag/],
    ['tag over 128 characters', `alpine:${'t'.repeat(129)}`, /invalid tag/],
    ['tag with a colon', 'alpine:a:b', /invalid/],
    // Digests.
    ['short digest', 'project/image@sha256:12345', /invalid digest/],
    ['long digest', `alpine@${D256}0`, /invalid digest/],
    ['sha512 with sha256 length', `alpine@sha512:${'0'.repeat(64)}`, /invalid digest/],
    ['non-hex digest', `project/image@sha256:gggg${'0'.repeat(60)}`, /invalid digest/],
    ['uppercase hex digest', `alpine@sha256:${'A'.repeat(64)}`, /invalid digest/],
    ['unknown algorithm', `alpine@md5:${'0'.repeat(32)}`, /invalid digest/],
    ['sha384 not supported', `alpine@sha384:${'0'.repeat(96)}`, /invalid digest/],
    ['no algorithm', `alpine@${'0'.repeat(64)}`, /invalid digest/],
    ['empty digest', 'alpine@', /invalid digest/],
    ['path traversal as digest', 'alpine@sha256:../../etc/passwd', /invalid digest/],
    ['two digests', `alpine@${D256}@${D256}`, /invalid digest/],
    ['digest before the tag', `alpine@${D256}:t`, /invalid digest/],
    // Length limits.
    ['repository over 255 characters', `ghcr.io/o/${'a'.repeat(254)}`, /longer than 255/],
    ['namespace over 255 characters', `${'a_b'.repeat(86)}/docker`, /longer than 255/],
    ['Docker Hub name whose library/ form is over 255', 'a'.repeat(248), /longer than 255/],
    ['input over 4096 characters', `alpine:${'t'.repeat(5000)}`, /too long/],
  ])('%s: %s', (_why, input, message) => {
    expectUsageError(() => parseReference(input), message);
  });

  it('names the offending input in the message', () => {
    expectUsageError(() => parseReference('Bad/Name'), /"Bad\/Name"/);
  });
});

describe('parseRepository', () => {
  it.each<[string, string, string]>([
    ['alpine', 'docker.io', 'library/alpine'],
    ['docker://alpine', 'docker.io', 'library/alpine'],
    ['ghcr.io/o/r', 'ghcr.io', 'o/r'],
    ['localhost:5000/a/b', 'localhost:5000', 'a/b'],
    ['[::1]:5000/x', '[::1]:5000', 'x'],
    ['index.docker.io/o/r', 'docker.io', 'o/r'],
  ])('%s → %s/%s without a tag', (input, registry, repository) => {
    expect(parseRepository(input)).toStrictEqual({ registry, apiHost: apiHostOf(registry), repository });
  });

  it.each([
    ['alpine:3.20'],
    ['ghcr.io/o/r:t'],
    [`ghcr.io/o/r@${D256}`],
    ['localhost:5000/a/b:t'],
    ['docker://alpine:latest'],
    ['Bad'],
  ])('refuses %s', (input) => {
    expectUsageError(() => parseRepository(input));
  });
});

describe('formatReference', () => {
  it.each<[string, string]>([
    ['alpine', 'docker.io/library/alpine:latest'],
    ['index.docker.io/o/r:t', 'docker.io/o/r:t'],
    ['localhost:5000/a/b:t', 'localhost:5000/a/b:t'],
    ['[::1]:5000/x', '[::1]:5000/x:latest'],
    [`127.0.0.1:5000/x@${D256}`, `127.0.0.1:5000/x@${D256}`],
    [`127.0.0.1:5000/x:t@${D256}`, `127.0.0.1:5000/x@${D256}`],
  ])('%s → %s', (input, formatted) => {
    const ref = parseReference(input);
    expect(formatReference(ref)).toBe(formatted);
    // The formatted form parses back to the same reference, minus a tag the digest replaced.
    const again = parseReference(formatted);
    expect(again.registry).toBe(ref.registry);
    expect(again.repository).toBe(ref.repository);
    expect(again.digest).toBe(ref.digest);
  });

  it.each<[ImageRef, { digest?: string }, string]>([
    [{ registry: 'ghcr.io', apiHost: 'ghcr.io', repository: 'o/r' }, {}, 'ghcr.io/o/r'],
    [{ registry: 'ghcr.io', apiHost: 'ghcr.io', repository: 'o/r', tag: 't' }, { digest: D256 }, `ghcr.io/o/r@${D256}`],
    [
      { registry: 'ghcr.io', apiHost: 'ghcr.io', repository: 'o/r', digest: D512 as ImageRef['digest'] },
      { digest: D256 },
      `ghcr.io/o/r@${D256}`,
    ],
  ])('%o with %o → %s', (ref, opts, formatted) => {
    expect(formatReference(ref, opts)).toBe(formatted);
  });
});

describe('withTag', () => {
  it.each<[string, string, string]>([
    ['alpine', '3.20', 'docker.io/library/alpine:3.20'],
    [`ghcr.io/o/r:old@${D256}`, 'new', 'ghcr.io/o/r:new'],
    ['localhost:5000/a', '_x', 'localhost:5000/a:_x'],
  ])('%s + %s → %s (drops any digest)', (input, tag, formatted) => {
    const ref = withTag(parseReference(input), tag);
    expect(ref.tag).toBe(tag);
    expect(ref.digest).toBeUndefined();
    expect(formatReference(ref)).toBe(formatted);
  });

  it.each([[''], ['-x'], ['.x'], ['a b'], ['a:b'], ['t'.repeat(129)]])('refuses the tag %j', (tag) => {
    expectUsageError(() => withTag(parseReference('alpine'), tag), /invalid tag/);
  });

  it('does not change the reference it is given', () => {
    const ref = parseReference(`ghcr.io/o/r:old@${D256}`);
    withTag(ref, 'new');
    expect(ref).toStrictEqual({ registry: 'ghcr.io', apiHost: 'ghcr.io', repository: 'o/r', tag: 'old', digest: D256 });
  });
});

describe('normalizeRegistry and apiHostOf', () => {
  it.each<[string, string]>([
    ['docker.io', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['registry.hub.docker.com', 'docker.io'],
    ['Docker.IO', 'docker.io'],
    ['ghcr.io', 'ghcr.io'],
    ['GHCR.io', 'ghcr.io'],
    ['localhost:5000', 'localhost:5000'],
    ['[::1]:5000', '[::1]:5000'],
    ['docker.io:443', 'docker.io:443'],
  ])('normalizeRegistry(%s) = %s', (host, normalized) => {
    expect(normalizeRegistry(host)).toBe(normalized);
  });

  it.each<[string, string]>([
    [DOCKER_HUB, DOCKER_HUB_API],
    ['ghcr.io', 'ghcr.io'],
    ['localhost:5000', 'localhost:5000'],
  ])('apiHostOf(%s) = %s', (registry, api) => {
    expect(apiHostOf(registry)).toBe(api);
  });
});
