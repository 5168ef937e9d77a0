// The --debug header trace masks every secret and escapes control chars; token grants are read from a token
// answer; retry lines are one per operation.
import { describe, expect, it } from 'vitest';
import { RetryReport, operationOf } from '../../src/output/retry-report.js';
import { headerLines } from '../../src/registry-client/debug-trace.js';
import { escapeControl } from '../../src/util/escape.js';
import { grantedScopes, permissionDenied } from '../../src/registry-client/grants.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64url');
const jwt = (claims: object): string => `${b64('{"alg":"RS256"}')}.${b64(JSON.stringify(claims))}.c2ln`;

describe('headerLines', () => {
  it('keeps the scheme of Authorization and masks its value, cookies and token-like headers', () => {
    const lines = headerLines('>', {
      authorization: 'Bearer abc.def.ghi',
      cookie: 'session=s3cr3t',
      'x-amz-security-token': 'FwoGZXIvYXdzE',
      'x-goog-signature': 'deadbeef',
      'docker-distribution-api-version': 'registry/2.0',
    });
    expect(lines).toEqual([
      '>   authorization: Bearer ***',
      '>   cookie: ***',
      '>   docker-distribution-api-version: registry/2.0',
      '>   x-amz-security-token: ***',
      '>   x-goog-signature: ***',
    ]);
  });

  it('masks signed query parameters of a Location, JWTs anywhere, and escapes terminal control sequences', () => {
    const lines = headerLines('<', {
      location: 'https://cdn.example/blob?X-Amz-Signature=abcdef&X-Amz-Credential=AKIA&ok=1',
      'x-note': `\u001b[2Jhello ${jwt({ sub: 'x' })}`,
      'set-cookie': ['a=1', 'b=2'],
    });
    expect(lines.join('\n')).not.toMatch(/abcdef|AKIA|eyJ/);
    expect(lines).toContain('<   x-note: \\x1b[2Jhello ***');
    const cookies = lines.filter((l) => l.startsWith('<   set-cookie: '));
    expect(cookies).toEqual(['<   set-cookie: ***', '<   set-cookie: ***']);
  });

  it('caps the number of lines a hostile server can cause', () => {
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`x-h${i}`, 'v']));
    expect(headerLines('<', many).length).toBeLessThanOrEqual(65);
    expect(escapeControl('a\rb\u009bc', { field: true })).toBe('a\\x0db\\x9bc');
  });
});

describe('grantedScopes', () => {
  it('reads the OAuth2 scope field, else the JWT access claim, else says nothing', () => {
    const oauth = grantedScopes({ scope: 'repository:a:pull repository:b:push,pull' }, 'opaque');
    expect(oauth).toEqual(['repository:a:pull', 'repository:b:pull,push']);
    const claim = jwt({ access: [{ type: 'repository', name: 'lib/x', actions: ['pull'] }] });
    expect(grantedScopes({}, claim)).toEqual(['repository:lib/x:pull']);
    expect(grantedScopes({}, jwt({ access: [{ type: 'repository', name: 'lib/x', actions: [] }] }))).toEqual([]);
    expect(grantedScopes({}, 'not-a-jwt')).toBeUndefined();
    expect(grantedScopes({}, 'a.%%%.c')).toBeUndefined();
  });
});

describe('RetryReport', () => {
  it('says each retried operation once, whatever blob or attempt', () => {
    const r = new RetryReport();
    const at = { side: 'destination', host: 'h' } as const;
    const first = r.line({ what: `upload sha256:${'a'.repeat(64)} to h/r`, reason: 'connection refused', ...at });
    expect(first).toBe('retrying upload to h/r (destination h): connection refused');
    expect(r.line({ what: `upload sha256:${'b'.repeat(64)} to h/r`, reason: 'reset', ...at })).toBeUndefined();
    expect(r.line({ what: 'upload to h/r', reason: 'x', side: 'source', host: 'h' })).toBeDefined();
    expect(operationOf(`blob h/r@sha256:${'c'.repeat(64)}`)).toBe('blob h/r');
    const throttled = r.line({ what: 'manifest h/r:1', reason: 'HTTP 429', side: 'source', host: 'h', delayMs: 2000 });
    expect(throttled).toBe('retrying manifest h/r:1 (source h): HTTP 429; next try in 2.0 s');
  });
});

describe('permissionDenied', () => {
  const req = { registry: 'r.example', method: 'GET', scopes: ['repository:lib/x:pull'] };
  const insufficient = 'Bearer realm="https://auth",scope="repository:lib/x:pull",error="insufficient_scope"';
  const basic = 'Basic YWxpY2U6cHc=';

  it('an anonymous 401 insufficient_scope is a denial that points to a login (and to a missing repository)', () => {
    const url = 'https://r.example/v2/lib/x/manifests/1';
    const err = permissionDenied({}, req, { status: 401, url, challenge: insufficient, bodyText: '' }, undefined);
    expect(err?.message).toBe('denied: you may not pull from r.example/lib/x');
    expect(err?.code).toBe('DENIED');
    expect(err?.hint).toMatch(/may not exist, or you are not logged in to r\.example: `regctl login r\.example`/);
  });

  it('a plain 401 (a refused login) is not a denial; a 403 keeps what the registry said', () => {
    const url = 'https://r.example/v2/lib/x/blobs/uploads/';
    const refused = { status: 401, url, challenge: 'Basic realm="r"', bodyText: '' };
    expect(permissionDenied({}, req, refused, basic)).toBeUndefined();
    const body = JSON.stringify({ errors: [{ code: 'DENIED', message: 'permission_denied: write_package' }] });
    const err = permissionDenied({}, { ...req, method: 'POST' }, { status: 403, url, bodyText: body }, basic);
    const said = '403 forbidden (DENIED: permission_denied: write_package)';
    expect(err?.message).toBe(`denied: you may not push to r.example/lib/x: ${said}`);
    expect(err?.hint).toMatch(/credentials are valid but lack push access to lib\/x/);
  });
});
