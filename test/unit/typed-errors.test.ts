// Error codes are union types (RegctlErrorCode, OciErrorCode) told apart with typed helpers, not string casts.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RegctlError, hasCode } from '../../src/errors.js';
import { RegistryError, bodyHas, hasOciCode, parseErrorBody } from '../../src/registry-client/errors.js';

const notFound = () =>
  new RegistryError({
    status: 404,
    method: 'GET',
    url: 'https://r.test/v2/a/tags',
    errors: [{ code: 'NAME_UNKNOWN' }],
  });

describe('typed error codes', () => {
  it('hasCode matches a RegctlError by code, and nothing else', () => {
    expect(hasCode(new RegctlError('NETWORK', 'x'), 'NETWORK')).toBe(true);
    expect(hasCode(new RegctlError('NETWORK', 'x'), 'NOT_FOUND')).toBe(false);
    expect(hasCode(Object.assign(new Error('x'), { code: 'NETWORK' }), 'NETWORK')).toBe(false);
    expect(hasCode(undefined, 'NETWORK')).toBe(false);
  });

  it("a RegistryError's code is the first code the registry sent; hasOciCode looks at all of them", () => {
    const err = new RegistryError({
      status: 400,
      method: 'PUT',
      url: 'https://r.test/v2/a/manifests/1',
      errors: [{ code: 'MANIFEST_INVALID' }, { code: 'TAG_INVALID' }],
    });
    expect(err.code).toBe('MANIFEST_INVALID');
    expect(hasOciCode(err, 'TAG_INVALID')).toBe(true);
    expect(hasOciCode(notFound(), 'NAME_UNKNOWN')).toBe(true);
    expect(hasOciCode(new RegctlError('NOT_FOUND', 'x'), 'NAME_UNKNOWN')).toBe(false);
    expect(hasCode(notFound(), 'NAME_UNKNOWN')).toBe(true);
  });

  it('bodyHas reads an error body', () => {
    expect(bodyHas(parseErrorBody('{"errors":[{"code":"DENIED"}]}'), 'DENIED')).toBe(true);
    expect(bodyHas(parseErrorBody('not json'), 'DENIED')).toBe(false);
  });

  it("no source file compares an error code through a cast (`(err as …).code === 'NAME_UNKNOWN'`)", () => {
    const root = fileURLToPath(new URL('../../src/', import.meta.url));
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) {
          const text = readFileSync(p, 'utf8');
          // Node's own errno codes (ENOENT, EEXIST, …) and undici's are not ours: only regctl and OCI codes count.
          for (const m of text.matchAll(/\bas [^)]*\)\.code\s*[!=]==?\s*'([A-Z][A-Z_]+)'/g)) {
            if (!/^(E[A-Z]+|UND_ERR_\w+|ABORT_ERR|ERR_\w+)$/.test(m[1])) offenders.push(`${p}: ${m[0]}`);
          }
        }
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});
