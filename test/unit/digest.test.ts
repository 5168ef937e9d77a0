// Digests: validation (sha256/sha512, exact hex length, lowercase), computation, and the helpers around them.
import { describe, expect, it } from 'vitest';
import { type Digest, algorithmOf, digestOf, hexOf, isDigest, parseDigest, shortDigest } from '../../src/oci/digest.js';

const HEX64 = '0123456789abcdef'.repeat(4);
const HEX128 = '0123456789abcdef'.repeat(8);
const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const EMPTY_SHA512 =
  'sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce' +
  '47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e';

describe('isDigest / parseDigest', () => {
  it.each([
    [`sha256:${HEX64}`],
    [`sha512:${HEX128}`],
    [EMPTY_SHA256],
    [EMPTY_SHA512],
    [`sha256:${'0'.repeat(64)}`],
    [`sha256:${'f'.repeat(64)}`],
  ])('accepts %s', (value) => {
    expect(isDigest(value)).toBe(true);
    expect(parseDigest(value)).toBe(value);
  });

  it.each<[string, string]>([
    ['empty', ''],
    ['no algorithm', HEX64],
    ['no hex', 'sha256:'],
    ['only a colon', ':'],
    ['sha256 one short', `sha256:${HEX64.slice(1)}`],
    ['sha256 one long', `sha256:${HEX64}0`],
    ['sha256 with sha512 length', `sha256:${HEX128}`],
    ['sha512 with sha256 length', `sha512:${HEX64}`],
    ['uppercase hex', `sha256:${HEX64.toUpperCase()}`],
    ['uppercase algorithm', `SHA256:${HEX64}`],
    ['non-hex character', `sha256:${HEX64.slice(1)}g`],
    ['md5', `md5:${'0'.repeat(32)}`],
    ['sha384', `sha384:${'0'.repeat(96)}`],
    ['sha1', `sha1:${'0'.repeat(40)}`],
    ['blake3', `blake3:${HEX64}`],
    ['path traversal', 'sha256:../../etc'],
    ['slash in hex', `sha256:${HEX64.slice(2)}/x`],
    ['leading space', ` sha256:${HEX64}`],
    ['trailing newline', `sha256:${HEX64}\n`],
    ['two colons', `sha256::${HEX64}`],
    ['algorithm with a plus', `sha256+b64u:${HEX64}`],
  ])('refuses %s', (_why, value) => {
    expect(isDigest(value)).toBe(false);
    expect(() => parseDigest(value)).toThrow(TypeError);
    expect(() => parseDigest(value)).toThrow(/invalid digest/);
  });

  it('keeps the error message short for a huge value', () => {
    const huge = `sha256:${'x'.repeat(10_000)}`;
    let message = '';
    try {
      parseDigest(huge);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^invalid digest "sha256:x+"$/);
    expect(message.length).toBeLessThan(200);
  });
});

describe('digestOf', () => {
  it.each<[string, string, 'sha256' | 'sha512' | undefined, string]>([
    ['empty, default sha256', '', undefined, EMPTY_SHA256],
    ['empty, sha256', '', 'sha256', EMPTY_SHA256],
    ['empty, sha512', '', 'sha512', EMPTY_SHA512],
    ['"abc", sha256', 'abc', 'sha256', 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    [
      '"abc", sha512',
      'abc',
      'sha512',
      'sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a' +
        '2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    ],
  ])('%s', (_name, text, algorithm, expected) => {
    const bytes = new TextEncoder().encode(text);
    const d = algorithm ? digestOf(bytes, algorithm) : digestOf(bytes);
    expect(d).toBe(expected);
    expect(isDigest(d)).toBe(true);
  });

  it('hashes only the view, not the whole underlying buffer', () => {
    const backing = new TextEncoder().encode('xxabcxx');
    expect(digestOf(backing.subarray(2, 5))).toBe(digestOf(new TextEncoder().encode('abc')));
  });
});

describe('algorithmOf / hexOf / shortDigest', () => {
  it.each<[string, 'sha256' | 'sha512', string, string]>([
    [`sha256:${HEX64}`, 'sha256', HEX64, 'sha256:0123456789ab'],
    [`sha512:${HEX128}`, 'sha512', HEX128, 'sha512:0123456789ab'],
    [EMPTY_SHA256, 'sha256', EMPTY_SHA256.slice(7), 'sha256:e3b0c44298fc'],
  ])('%s', (value, algorithm, hex, short) => {
    const d = value as Digest;
    expect(algorithmOf(d)).toBe(algorithm);
    expect(hexOf(d)).toBe(hex);
    expect(shortDigest(d)).toBe(short);
  });
});
