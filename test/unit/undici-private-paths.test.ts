// undici-lite.ts loads undici from private lib/ paths (start-up time): this fails when an undici release moves them,
// when undici is not pinned to the exact version installed, or when V8 flags are set anywhere but cli.ts.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(join(ROOT, 'package.json'));
const lite = readFileSync(join(ROOT, 'src/registry-client/undici-lite.ts'), 'utf8');
const privatePaths = [...lite.matchAll(/from '(undici\/lib\/[^']+)'/g)].map((m) => m[1]);

describe('undici private paths', () => {
  it('undici-lite.ts names the private modules it loads', () => {
    expect(privatePaths.sort()).toEqual([
      'undici/lib/api/api-request.js',
      'undici/lib/dispatcher/dispatcher.js',
      'undici/lib/dispatcher/pool.js',
    ]);
  });

  it.each(privatePaths)('%s exists in the installed undici and exports what undici-lite.ts uses', (path) => {
    const mod = require(path) as unknown;
    expect(typeof mod).toBe('function');
    if (path.endsWith('pool.js')) {
      const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as new () => object;
      expect((mod as { prototype: object }).prototype).toBeInstanceOf(Dispatcher);
    }
  });

  it("a dispatcher from originPools has request() (what undici's index would have added) and closes", async () => {
    const { originPools } = await import('../../src/registry-client/undici-lite.js');
    const d = originPools({ connections: 2 });
    expect(typeof (d as unknown as { request?: unknown }).request).toBe('function');
    await d.close();
  });

  it('undici is pinned to the exact installed version in package.json and package-lock.json', () => {
    const installed = (require('undici/package.json') as { version: string }).version;
    const text = readFileSync(join(ROOT, 'package.json'), 'utf8');
    const pkg = JSON.parse(text) as { dependencies: Record<string, string> };
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; dependencies?: Record<string, string> }>;
    };
    expect(pkg.dependencies.undici).toBe(installed);
    expect(lock.packages[''].dependencies!.undici).toBe(installed);
    expect(lock.packages['node_modules/undici'].version).toBe(installed);
  });
});

describe('V8 flags', () => {
  it('are set from cli.ts only, never from inside a library layer', () => {
    const setters: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const rel = `${dir}/${e.name}`;
        if (e.isDirectory()) walk(rel);
        else if (rel.endsWith('.ts') && readFileSync(join(ROOT, rel), 'utf8').includes('setFlagsFromString')) {
          setters.push(rel);
        }
      }
    };
    walk('src');
    expect(setters).toEqual(['src/cli.ts']);
  });
});
