// What `npm install -g ./regctl-js-0.1.0.tgz` gets: the built CLI (dist/ with the bundle) and no install-time script of
// regctl-js's own for npm 11 to hold back or ask about (keytar's is the only one, for the keychain).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REGCTL_BIN } from '../support/run-cli.js';

const run = promisify(execFile);
const ROOT = join(REGCTL_BIN, '..', '..');

describe('the npm package', () => {
  it('declares no install-time script (npm 11 lists preinstall, install, postinstall and prepare)', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) expect(pkg.scripts[s], s).toBeUndefined();
    // packing builds dist/ first (prepack runs on `npm pack` and `npm publish` only)
    expect(pkg.scripts.prepack).toBe('npm run build');
  });

  it('npm pack ships bin/ and dist/ with the bundle and its code cache', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      timeout: 120_000,
    });
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'bin/regctl',
        'bin/load-bundle.cjs',
        'dist/cli.js',
        'dist/bundle/cli.cjs',
        'dist/bundle/cli.cjs.cache',
      ]),
    );
    expect(files.some((f) => f.startsWith('src/') || f.startsWith('test/'))).toBe(false);
  });
});
