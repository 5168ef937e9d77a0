// Where credentials may go (own origin, no HTTPS→HTTP, no dot segments, no http realm) and masking secrets by value.
import { describe, expect, it } from 'vitest';
import { redactText } from '../../src/registry-client/errors.js';
import { checkHandedUrl, checkRealm, isOwnOrigin, resolveHanded } from '../../src/registry-client/origin.js';
import { maskSecrets, rememberLogin, rememberSecret } from '../../src/util/secrets.js';

const OWN = 'https://registry.example.com';

describe('origin rules', () => {
  it.each([
    ['https://registry.example.com/v2/x', true],
    ['https://registry.example.com:443/v2/x', true],
    ['https://registry.example.com:5000/v2/x', false],
    ['http://registry.example.com/v2/x', false],
    ['https://cdn.example.com/v2/x', false],
  ])("%s is the registry's own origin: %s", (url, own) => {
    expect(isOwnOrigin(OWN, url)).toBe(own);
  });

  it.each([
    '/v2/a/blobs/uploads/../../../prod/app/manifests/latest',
    '/v2/a/blobs/uploads/%2e%2e/%2E%2E/x',
    '/v2/a/./blobs/uploads/x',
    'https://other.example.com/v2/a/.%2e/x?y=..',
  ])('a handed-over URL with dot segments is refused: %s', (raw) => {
    expect(() => resolveHanded(raw, `${OWN}/v2/a/blobs/uploads/`, 'upload')).toThrow(/"\." or "\.\." path segments/);
  });

  it('a handed-over URL without dot segments resolves against its base; dots in the query are fine', () => {
    expect(resolveHanded('/v2/a/blobs/uploads/u1?_state=a..b', OWN, 'upload').toString()).toBe(
      `${OWN}/v2/a/blobs/uploads/u1?_state=a..b`,
    );
  });

  it('HTTPS never steps down to plain HTTP, from the registry or from an HTTPS hop; other schemes are refused', () => {
    expect(() => checkHandedUrl(OWN, new URL('http://other:8080/x'), 'upload')).toThrow(/refused to move from HTTPS/);
    const fromHttps = new URL('https://cdn.example.com/x');
    expect(() => checkHandedUrl('http://127.0.0.1:5000', new URL('http://x/y'), 'blob', fromHttps)).toThrow(/HTTPS/);
    expect(() => checkHandedUrl(OWN, new URL('file:///etc/passwd'), 'blob')).toThrow(/only http\(s\)/);
    expect(() => checkHandedUrl('http://127.0.0.1:5000', new URL('http://127.0.0.1:6000/x'), 'blob')).not.toThrow();
  });

  it('an http:// realm is refused for an HTTPS registry unless allowed; fine for an HTTP registry', () => {
    expect(() => checkRealm('r.example.com', OWN, 'http://auth.example.com/token', false)).toThrow(/plain HTTP/);
    expect(() => checkRealm('r.example.com', OWN, 'http://auth.example.com/token', true)).not.toThrow();
    expect(() => checkRealm('r.example.com', OWN, 'https://auth.example.com/token', false)).not.toThrow();
    const plainReg = 'http://127.0.0.1:5000';
    expect(() => checkRealm('127.0.0.1:5000', plainReg, 'http://127.0.0.1:5001/token', false)).not.toThrow();
  });
});

describe('secrets masked by value', () => {
  it('a remembered password, its base64, the Basic value and a token are masked wherever they appear', () => {
    rememberLogin('unit-user', 'Unit-Test-Passw0rd!');
    rememberSecret('tok_0123456789abcdef');
    const basic = Buffer.from('unit-user:Unit-Test-Passw0rd!').toString('base64');
    const pass64 = Buffer.from('Unit-Test-Passw0rd!').toString('base64');
    const text =
      `bad password Unit-Test-Passw0rd! creds ${basic} p=${pass64} t=tok_0123456789abcdef ` +
      `u=${encodeURIComponent('Unit-Test-Passw0rd!')}`;
    expect(maskSecrets(text)).toBe('bad password *** creds *** p=*** t=*** u=***');
    expect(redactText(`DENIED: ${text}`)).not.toMatch(/Passw0rd|tok_0123|VW5pd/);
  });

  it('values shorter than 6 characters are not masked by value (they would mask ordinary words)', () => {
    rememberSecret('abc');
    expect(maskSecrets('abc abcd')).toBe('abc abcd');
  });
});
