// Locations: registry references, docker-archive / oci / oci-archive prefixes and bare local paths.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { type Location, formatLocation, parseLocation, pinnedLocation } from '../../src/location/parse.js';

const D256 = `sha256:${'0123456789abcdef'.repeat(4)}`;
const D512 = `sha512:${'0123456789abcdef'.repeat(8)}`;

describe('parseLocation: local formats', () => {
  it.each<[string, Location]>([
    // docker-archive:PATH[:NAME:TAG] — the name is everything after the first colon and may hold '/' and ':'.
    ['docker-archive:/p/x.tar', { kind: 'docker-archive', path: '/p/x.tar' }],
    ['docker-archive:x.tar', { kind: 'docker-archive', path: 'x.tar' }],
    ['docker-archive:./out/x.tar', { kind: 'docker-archive', path: './out/x.tar' }],
    ['docker-archive:x.tar:name:tag', { kind: 'docker-archive', path: 'x.tar', name: 'name:tag' }],
    ['docker-archive:/p/x.tar:alpine', { kind: 'docker-archive', path: '/p/x.tar', name: 'alpine' }],
    ['docker-archive:x.tar:ghcr.io/o/r:t', { kind: 'docker-archive', path: 'x.tar', name: 'ghcr.io/o/r:t' }],
    ['docker-archive:/tmp/x.tar:myorg/app:1.0', { kind: 'docker-archive', path: '/tmp/x.tar', name: 'myorg/app:1.0' }],
    [
      'docker-archive:x.tar:localhost:5000/a/b:t',
      { kind: 'docker-archive', path: 'x.tar', name: 'localhost:5000/a/b:t' },
    ],
    ['docker-archive:x.tar:', { kind: 'docker-archive', path: 'x.tar' }],
    // oci:PATH[:TAG] and oci:PATH:DIGEST.
    ['oci:dir', { kind: 'oci', path: 'dir' }],
    ['oci:dir:tag', { kind: 'oci', path: 'dir', tag: 'tag' }],
    ['oci:/abs/dir:v1.2.3', { kind: 'oci', path: '/abs/dir', tag: 'v1.2.3' }],
    ['oci:./rel/dir', { kind: 'oci', path: './rel/dir' }],
    ['oci:../up/dir:latest', { kind: 'oci', path: '../up/dir', tag: 'latest' }],
    ['oci:/a:b/dir', { kind: 'oci', path: '/a:b/dir' }],
    ['oci:/a:b/dir:t', { kind: 'oci', path: '/a:b/dir', tag: 't' }],
    ['oci:dir:', { kind: 'oci', path: 'dir' }],
    [`oci:dir:${D256}`, { kind: 'oci', path: 'dir', digest: D256 } as Location],
    [`oci:/abs/dir:${D512}`, { kind: 'oci', path: '/abs/dir', digest: D512 } as Location],
    // oci-archive:PATH[:TAG] and oci-archive:PATH:DIGEST.
    ['oci-archive:a.tar', { kind: 'oci-archive', path: 'a.tar' }],
    ['oci-archive:a.tar:tag', { kind: 'oci-archive', path: 'a.tar', tag: 'tag' }],
    ['oci-archive:/p/a.tar:1.0', { kind: 'oci-archive', path: '/p/a.tar', tag: '1.0' }],
    [`oci-archive:a.tar:${D256}`, { kind: 'oci-archive', path: 'a.tar', digest: D256 } as Location],
    // Bare paths: the format is sniffed later.
    ['./x', { kind: 'path', path: './x' }],
    ['./x.tar', { kind: 'path', path: './x.tar' }],
    ['/x', { kind: 'path', path: '/x' }],
    ['/tmp/out/layout', { kind: 'path', path: '/tmp/out/layout' }],
    ['../x', { kind: 'path', path: '../x' }],
    ['.', { kind: 'path', path: '.' }],
    ['..', { kind: 'path', path: '..' }],
  ])('%s', (input, expected) => {
    expect(parseLocation(input)).toStrictEqual(expected);
  });
});

describe('parseLocation: registry references', () => {
  it.each<[string, string, string, string | undefined, string | undefined]>([
    ['alpine', 'docker.io', 'library/alpine', 'latest', undefined],
    ['docker://alpine:3.20', 'docker.io', 'library/alpine', '3.20', undefined],
    ['ghcr.io/o/r:t', 'ghcr.io', 'o/r', 't', undefined],
    ['localhost:5000/a/b:t', 'localhost:5000', 'a/b', 't', undefined],
    [`127.0.0.1:5000/x@${D256}`, '127.0.0.1:5000', 'x', undefined, D256],
    ['[::1]:5000/x', '[::1]:5000', 'x', 'latest', undefined],
    // Names that merely start like a prefix are references.
    ['ocifoo/bar', 'docker.io', 'ocifoo/bar', 'latest', undefined],
    ['oci-thing:1', 'docker.io', 'library/oci-thing', '1', undefined],
    ['docker-archiver/x', 'docker.io', 'docker-archiver/x', 'latest', undefined],
    ['x', 'docker.io', 'library/x', 'latest', undefined],
    // Without ./ or / a file name is a reference, as in docker and skopeo.
    ['x.tar', 'docker.io', 'library/x.tar', 'latest', undefined],
  ])('%s → registry %s repository %s', (input, registry, repository, tag, digest) => {
    const loc = parseLocation(input);
    expect(loc.kind).toBe('registry');
    if (loc.kind !== 'registry') return;
    expect(loc.ref.registry).toBe(registry);
    expect(loc.ref.repository).toBe(repository);
    expect(loc.ref.tag).toBe(tag);
    expect(loc.ref.digest).toBe(digest);
  });
});

describe('parseLocation: invalid input throws UsageError (exit 2)', () => {
  it.each<[string, RegExp]>([
    ['', /empty location/],
    ['docker-archive:', /needs a path/],
    ['docker-archive::name', /needs a path/],
    ['oci:', /needs a path/],
    ['oci::tag', /needs a path/],
    ['oci-archive:', /needs a path/],
    ['oci:dir:sha256:abc', /invalid digest/],
    [`oci:dir:sha256:${'0'.repeat(63)}`, /invalid digest/],
    [`oci-archive:a.tar:sha512:${'0'.repeat(64)}`, /invalid digest/],
    ['oci:dir:sha256:..', /invalid digest/],
    ['oci-archive:a.tar:sha256:x', /invalid digest/],
    ['docker://', /invalid reference/],
    ['docker://Alpine', /lowercase/],
    ['Alpine', /lowercase/],
    ['alpine@sha256:1', /invalid digest/],
  ])('%j', (input, message) => {
    let caught: unknown;
    try {
      parseLocation(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).exitCode).toBe(2);
    expect((caught as UsageError).message).toMatch(message);
  });
});

describe('pinnedLocation', () => {
  it.each<[string, string]>([
    ['ghcr.io/o/r:t', `ghcr.io/o/r@${D256}`],
    ['oci:dir:tag', `oci:dir:tag@${D256}`],
    ['oci:dir', `oci:dir@${D256}`],
    ['oci-archive:a.tar:tag', `oci-archive:a.tar:tag@${D256}`],
  ])('%s pinned is %s', (input, want) => {
    expect(pinnedLocation(parseLocation(input), D256 as never)).toBe(want);
  });
});

describe('formatLocation', () => {
  it.each<[string, string]>([
    ['alpine', 'docker.io/library/alpine:latest'],
    ['docker://ghcr.io/o/r:t', 'ghcr.io/o/r:t'],
    [`127.0.0.1:5000/x:t@${D256}`, `127.0.0.1:5000/x@${D256}`],
    ['docker-archive:/p/x.tar', 'docker-archive:/p/x.tar'],
    ['docker-archive:x.tar:ghcr.io/o/r:t', 'docker-archive:x.tar:ghcr.io/o/r:t'],
    ['oci:dir', 'oci:dir'],
    ['oci:dir:tag', 'oci:dir:tag'],
    [`oci:dir:${D256}`, `oci:dir:${D256}`],
    ['oci-archive:a.tar:tag', 'oci-archive:a.tar:tag'],
    ['./x', './x'],
    ['/x', '/x'],
  ])('%s → %s and back', (input, formatted) => {
    const loc = parseLocation(input);
    expect(formatLocation(loc)).toBe(formatted);
    const again = parseLocation(formatted);
    if (loc.kind === 'registry' && loc.ref.digest) {
      // The digest replaces the tag in the formatted form.
      const { tag: _tag, ...ref } = loc.ref;
      expect(again).toStrictEqual({ kind: 'registry', ref });
    } else {
      expect(again).toStrictEqual(loc);
    }
  });
});
