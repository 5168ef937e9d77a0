// Platforms: parsing `os/arch[/variant]` with containerd's aliases, formatting, matching index entries, attestations.
import { describe, expect, it } from 'vitest';
import {
  type Platform,
  formatPlatform,
  hostPlatform,
  isAttestationEntry,
  parsePlatform,
  platformMatches,
} from '../../src/oci/platform.js';

const p = (os: string, architecture: string, variant?: string): Platform =>
  variant ? { os, architecture, variant } : { os, architecture };

describe('parsePlatform', () => {
  it.each<[string, Platform]>([
    ['linux/amd64', p('linux', 'amd64')],
    ['linux/arm64', p('linux', 'arm64')],
    ['linux/arm/v7', p('linux', 'arm', 'v7')],
    ['linux/arm/v6', p('linux', 'arm', 'v6')],
    ['linux/arm', p('linux', 'arm')],
    ['windows/amd64', p('windows', 'amd64')],
    ['linux/s390x', p('linux', 's390x')],
    ['linux/ppc64le', p('linux', 'ppc64le')],
    ['linux/riscv64', p('linux', 'riscv64')],
    ['linux/386', p('linux', '386')],
    ['linux/amd64/v3', p('linux', 'amd64', 'v3')],
    // arm64's default variant v8 is dropped, as containerd normalises it.
    ['linux/arm64/v8', p('linux', 'arm64')],
    ['linux/arm64/v9', p('linux', 'arm64', 'v9')],
    // Architecture aliases.
    ['linux/x86_64', p('linux', 'amd64')],
    ['linux/x64', p('linux', 'amd64')],
    ['linux/aarch64', p('linux', 'arm64')],
    ['linux/aarch64/v8', p('linux', 'arm64')],
    ['linux/ia32', p('linux', '386')],
    ['linux/x86', p('linux', '386')],
    // Case and surrounding whitespace are forgiven.
    ['Linux/AMD64', p('linux', 'amd64')],
    ['  linux/arm/v7\n', p('linux', 'arm', 'v7')],
    ['unknown/unknown', p('unknown', 'unknown')],
  ])('%j', (text, expected) => {
    expect(parsePlatform(text)).toStrictEqual(expected);
  });

  it.each([
    [''],
    ['linux'],
    ['/amd64'],
    ['linux/'],
    ['linux//amd64'],
    ['linux/amd64/'],
    ['linux/arm/v7/extra'],
    ['linux amd64'],
    ['linux/amd 64'],
    ['linux/amd64;rm'],
    ['linux/*'],
    ['a/b/c/d'],
  ])('refuses %j', (text) => {
    expect(parsePlatform(text)).toBeUndefined();
  });
});

describe('formatPlatform', () => {
  it.each<[Platform | undefined, string]>([
    [p('linux', 'amd64'), 'linux/amd64'],
    [p('linux', 'arm', 'v7'), 'linux/arm/v7'],
    [p('linux', 'arm64', 'v8'), 'linux/arm64/v8'],
    [{ os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' }, 'windows/amd64'],
    [{ os: 'linux', architecture: 'amd64', variant: '' }, 'linux/amd64'],
    [undefined, 'unknown'],
  ])('%o → %s', (platform, text) => {
    expect(formatPlatform(platform)).toBe(text);
  });

  it.each([['linux/amd64'], ['linux/arm/v7'], ['linux/arm64'], ['windows/amd64']])('%s round-trips', (text) => {
    expect(formatPlatform(parsePlatform(text))).toBe(text);
  });
});

describe('platformMatches', () => {
  it.each<[string, Platform | undefined, boolean]>([
    ['linux/amd64', p('linux', 'amd64'), true],
    ['linux/amd64', p('linux', 'arm64'), false],
    ['linux/amd64', p('windows', 'amd64'), false],
    ['linux/amd64', undefined, false],
    ['linux/amd64', p('linux', 'x86_64'), true],
    ['linux/amd64', p('linux', 'amd64', 'v2'), true],
    ['linux/amd64/v2', p('linux', 'amd64'), false],
    // arm64: v8 is the default on either side.
    ['linux/arm64', p('linux', 'arm64'), true],
    ['linux/arm64', p('linux', 'arm64', 'v8'), true],
    ['linux/arm64/v8', p('linux', 'arm64', 'v8'), true],
    ['linux/arm64/v8', p('linux', 'arm64'), true],
    ['linux/aarch64', p('linux', 'aarch64'), true],
    ['linux/arm64/v9', p('linux', 'arm64'), false],
    // arm: without a variant the index entry means v7; a want without variant takes any arm.
    ['linux/arm/v7', p('linux', 'arm', 'v7'), true],
    ['linux/arm/v7', p('linux', 'arm'), true],
    ['linux/arm/v6', p('linux', 'arm'), false],
    ['linux/arm/v6', p('linux', 'arm', 'v7'), false],
    ['linux/arm/v6', p('linux', 'arm', 'v6'), true],
    ['linux/arm', p('linux', 'arm', 'v6'), true],
    ['linux/arm', p('linux', 'arm64'), false],
    // Attestation entries never match a real platform.
    ['linux/amd64', p('unknown', 'unknown'), false],
  ])('want %s, have %o → %s', (want, have, result) => {
    const w = parsePlatform(want);
    expect(w).toBeDefined();
    expect(platformMatches(w!, have)).toBe(result);
  });

  it('does not change the platform it is given', () => {
    const have = p('linux', 'aarch64', 'v8');
    platformMatches(p('linux', 'arm64'), have);
    expect(have).toStrictEqual(p('linux', 'aarch64', 'v8'));
  });
});

describe('isAttestationEntry', () => {
  it.each<[string, { platform?: Platform; annotations?: Record<string, string> }, boolean]>([
    [
      'buildx attestation by annotation',
      {
        platform: p('unknown', 'unknown'),
        annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': 'sha256:x' },
      },
      true,
    ],
    ['annotation alone', { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } }, true],
    ['unknown/unknown platform alone', { platform: p('unknown', 'unknown') }, true],
    ['a real image', { platform: p('linux', 'amd64') }, false],
    [
      'a real image with unrelated annotations',
      { platform: p('linux', 'amd64'), annotations: { 'org.opencontainers.image.ref.name': '1' } },
      false,
    ],
    [
      'another reference type',
      { platform: p('linux', 'amd64'), annotations: { 'vnd.docker.reference.type': 'something-else' } },
      false,
    ],
    ['unknown os only', { platform: p('unknown', 'amd64') }, false],
    ['unknown architecture only', { platform: p('linux', 'unknown') }, false],
    ['no platform, no annotations', {}, false],
  ])('%s → %s', (_name, desc, result) => {
    expect(isAttestationEntry(desc)).toBe(result);
  });
});

describe('hostPlatform', () => {
  it('describes this machine in the terms parsePlatform uses', () => {
    const host = hostPlatform();
    expect(host.os).toBe(process.platform === 'win32' ? 'windows' : process.platform);
    expect(parsePlatform(formatPlatform(host))).toStrictEqual(
      host.architecture === 'arm64' ? p(host.os, 'arm64') : host,
    );
    expect(['x64', 'x86_64', 'aarch64']).not.toContain(host.architecture);
  });
});
